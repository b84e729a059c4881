# The two commands of the README, and a few helpers.
.PHONY: run test check e2e soak setup bench

## Run the function locally against a local S3/SNS/SQS (moto); Ctrl-C stops everything.
run:
	scripts/local-stack

## The whole test suite (what CI runs): everything below and more, about 15 minutes from an
## empty target/ (docs/contributing.md).
test:
	scripts/test

## Before a commit: rustfmt, clippy -D warnings and plain `cargo test` (the fast tests).
check:
	scripts/check

## The end-to-end tests: the real binaries, the runtime API emulator and moto.
e2e:
	scripts/e2e

## The full-size load test (docs/reliability.md, Load): before a release, or after a change
## to the pipeline's concurrency, retries or the redrive.
soak:
	LOAD_DELIVERIES=soak scripts/e2e load

## Install the pinned Python tools into .venv.
setup:
	scripts/dev-setup

## Benchmarks: the performance figures as one table (bench/README.md, docs/performance.md).
bench:
	bench/run

## The overload simulation of docs/capacity.md (a few minutes; not part of make test).
.PHONY: overload
overload:
	bench/capacity/simulate

## The release's files in dist/ (scripts/dist; docs/deploy.md has the time it takes; not
## part of make test). VERIFY=1 builds a second time from a clean clone and compares the sums.
.PHONY: dist
dist:
	scripts/dist $(if $(filter 1,$(VERIFY)),--verify,)
