# The two commands of the README, and a few helpers.
.PHONY: run test setup bench

## Run the function locally against a local S3/SNS/SQS (moto); Ctrl-C stops everything.
run:
	scripts/local-stack

## The whole test suite (what CI runs).
test:
	scripts/test

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
