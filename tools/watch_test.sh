#!/usr/bin/env bash
# `make watch` and `make invoke-local` end to end, as a user runs them in two
# terminals: the watcher serves the function on 127.0.0.1:9000, an invoke
# gets a Firehose response back, and Ctrl-C (SIGINT to the watcher's process
# group) leaves neither cargo-lambda nor the function holding the port.
set -euo pipefail
cd "$(dirname "$0")/.."
MAKE=${MAKE:-make}
port_open() { (exec 3<>/dev/tcp/127.0.0.1/9000) 2>/dev/null; }
if port_open; then
  echo "watch_test: 127.0.0.1:9000 is already in use" >&2
  exit 1
fi
log=$(mktemp)
setsid $MAKE --no-print-directory watch >"$log" 2>&1 &
group=$!
stop() { kill -INT -- "-$group" 2>/dev/null || true; }
trap stop EXIT
for _ in $(seq 1 300); do
  port_open && break
  sleep 1
done
port_open || { cat "$log" >&2; echo "watch_test: make watch never served 127.0.0.1:9000" >&2; exit 1; }
response=$($MAKE --no-print-directory -s invoke-local EVENT=events/minimal.json)
grep -q '"result":"Ok"' <<<"$response" || { echo "watch_test: unexpected response: $response" >&2; exit 1; }
stop
trap - EXIT
running() { port_open || pgrep -f "cargo-lambda lambda watch" >/dev/null; }
for _ in $(seq 1 30); do
  running || break
  sleep 1
done
if running; then
  echo "watch_test: after Ctrl-C the watcher or the function is still running" >&2
  exit 1
fi
rm -f "$log"
echo "watch_test: make watch served an invoke and stopped cleanly"
