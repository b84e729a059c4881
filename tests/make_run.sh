#!/usr/bin/env bash
# `make run` exactly as the README says, on a checkout whose binaries are absent.
#
# Deletes the binaries `make run` needs (relinking them is cheap once the dependencies are
# built), runs `make run` in a process group of its own as a terminal would, waits for the
# ready line, checks that the build compiled nothing from tests/ or bench/, runs the
# `send` and `show` commands it printed, exactly as printed, checks that the delivery was
# stored and published, then sends SIGINT to the group (a Ctrl-C) and checks that
# everything it started has stopped and its ports are free again.
#
# Run by scripts/test after `cargo test` (never from inside `cargo test`: `make run`
# builds, and a build inside a test run would wait for the build lock it holds). Prints
# `make-run: 1 passed, 0 failed` on success; any failure prints what `make run` printed.
#   tests/make_run.sh            # as scripts/test runs it
#   READY_TIMEOUT=1200 tests/make_run.sh   # seconds to wait for the ready line (default 900)
set -euo pipefail
cd "$(dirname "$0")/.."

target=${CARGO_TARGET_DIR:-target}
ready_timeout=${READY_TIMEOUT:-900}
log=$(mktemp)
group=""

fail() {
  printf 'make-run: FAILED: %s\n--- what make run printed ---\n' "$*" >&2
  cat "$log" >&2
  printf -- '--- end ---\nmake-run: 0 passed, 1 failed\n' >&2
  exit 1
}

# shellcheck disable=SC2317 # runs on exit
finish() {
  if [ -n "$group" ] && kill -0 -- "-$group" 2>/dev/null; then
    kill -KILL -- "-$group" 2>/dev/null || true
  fi
  # local-stack puts moto and the gateway in groups of their own: kill whatever is left.
  for p in "${started[@]:-}"; do
    [ -n "$p" ] && kill -KILL "$p" 2>/dev/null || true
  done
  rm -f "$log"
}
started=()
trap finish EXIT

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
answers() { (: <"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
descendants() { # pid: every process below it, depth first
  local child
  for child in $(ps -o pid= --ppid "$1" 2>/dev/null); do
    echo "$child"
    descendants "$child"
  done
}

# GIVEN a checkout without the binaries `make run` needs,
for bin in webhook webhook-cli local-gateway; do
  rm -f "$target/debug/$bin"
done
moto_port=$(free_port)
gateway_port=$(free_port)
while [ "$gateway_port" = "$moto_port" ]; do gateway_port=$(free_port); done

# WHEN `make run` starts as a terminal's foreground job would: a process group of its own
# (job control on), SIGINT and SIGQUIT at their default actions even when this script was
# itself started with them ignored (`&` in a non-interactive shell, nohup, some CI
# runners: an ignored signal stays ignored across exec, and bash cannot trap it),
set -m
MOTO_PORT="$moto_port" GATEWAY_PORT="$gateway_port" env --default-signal=INT,QUIT make run </dev/null >"$log" 2>&1 &
group=$!
set +m
deadline=$((SECONDS + ready_timeout))
until grep -q '^local-stack: ready' "$log"; do
  kill -0 "$group" 2>/dev/null || fail "make run exited before its ready line"
  [ "$SECONDS" -lt "$deadline" ] || fail "no ready line within ${ready_timeout}s"
  sleep 1
done
mapfile -t started < <(descendants "$group")

# THEN it built nothing from the test crate or the bench drivers,
if built=$(grep -E '^ *Compiling (e2e|bench-drivers) ' "$log"); then
  fail "make run compiled a crate under tests/ or bench/: $built"
fi
# AND the ready line names the URL, and the printed commands work as printed:
url=http://127.0.0.1:$gateway_port/webhook
grep '^local-stack: ready' "$log" | grep -qF "$url" || fail "the ready line does not name $url"
send_line=$(grep -m1 'webhook-cli send ' "$log" | sed 's/^ *//') || fail "no printed send command"
show_line=$(grep -m1 'webhook-cli show ' "$log" | sed 's/^ *//') || fail "no printed show command"

sent=$(bash -c "$send_line" 2>&1) || fail "the printed send command failed: $sent"
printf '%s\n' "$sent" | head -1 | grep -q '^HTTP 200' || fail "send did not answer 200: $sent"
for want in '"files":3' '"published":3' 'confirmed.json'; do
  printf '%s' "$sent" | grep -qF "$want" || fail "the 200 answer lacks $want: $sent"
done

shown=$(bash -c "$show_line" 2>&1) || fail "the printed show command failed: $shown"
stored=$(printf '%s\n' "$shown" | grep -c '/confirmed\.json$' || true)
[ "$stored" -eq 3 ] || fail "show lists $stored confirmed.json objects, want 3: $shown"
printf '%s\n' "$shown" | grep -q '_deliveries/.*/extraction\.confirmed/[0-9a-f]\{64\}\.json$' ||
  fail "show lists no archive copy: $shown"
messages=$(printf '%s\n' "$shown" | grep -c '"event":"extraction.confirmed"' || true)
[ "$messages" -eq 3 ] || fail "show drained $messages confirmed messages, want 3: $shown"

# WHEN Ctrl-C reaches the group,
kill -INT -- "-$group"
for ((i = 0; i < 300; i++)); do
  kill -0 "$group" 2>/dev/null || break
  sleep 0.1
done
! kill -0 "$group" 2>/dev/null || fail "make run still runs 30 s after SIGINT"
# THEN the script said so, and nothing it started is left, on either port.
grep -q '^local-stack: stopped' "$log" || fail "no 'local-stack: stopped' line after SIGINT"
for p in "${started[@]}"; do
  ! kill -0 "$p" 2>/dev/null || fail "process $p ($(ps -o args= -p "$p")) outlived make run"
done
for port in "$moto_port" "$gateway_port"; do
  ! answers "$port" || fail "port $port still answers after make run stopped"
done
echo "make-run: 1 passed, 0 failed"
