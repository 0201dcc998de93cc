#!/usr/bin/env bash
# The collector's numbers, for `make bench` (tools/bench/run.sh calls it):
#  * serve (release) under CLIENTS keep-alive clients sending batches of 1,
#    10 and 50 events: events/s and latency percentiles, then SIGTERM and a
#    count of what serve wrote against what it accepted (nothing lost);
#  * a warm Lambda collector invocation's CPU, excluding the Firehose call
#    (examples/collector_cpu.rs), at 1, 10 and 100 events.
set -euo pipefail
cd "$(dirname "$0")/../.."

CARGO=${CARGO:-cargo}
CLIENTS=${CLIENTS:-8}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-5}
"$CARGO" build --release --quiet --bin firehose-enricher
"$CARGO" build --release --quiet --example collector_load --example collector_cpu
target_dir=$("$CARGO" metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
bin="$target_dir/release/firehose-enricher"
out="$target_dir/bench-serve"

echo "== serve: $CLIENTS clients, keep-alive, batches of 1, 10 and 50 events, ${SECONDS_PER_RUN}s each ($(nproc) cores)"
rm -rf "$out"
"$bin" serve --listen 127.0.0.1:0 --out "$out" 2> "$target_dir/bench-serve.log" &
serve_pid=$!
trap 'kill "$serve_pid" 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  addr=$(sed -n 's#.*http://\([0-9.:]*\)/collect.*#\1#p' "$target_dir/bench-serve.log" | head -1)
  [ -n "$addr" ] && break
  sleep 0.1
done
accepted=0
for batch in 1 10 50; do
  line=$("$target_dir/release/examples/collector_load" "$addr" "$CLIENTS" "$batch" "$SECONDS_PER_RUN")
  echo "serve      $line"
  accepted=$((accepted + $(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["events"])' "$line")))
done
kill -TERM "$serve_pid"
wait "$serve_pid" || true
trap - EXIT
written=$(find "$out/events" -name '*.gz' -print0 | xargs -0 zcat | wc -l)
echo "serve      {\"accepted\":$accepted,\"written\":$written,\"lost\":$((accepted - written))}"

echo "== Lambda collector: CPU per warm invocation, excluding PutRecordBatch (payload 2.0 parse, core, response, EMF)"
"$target_dir/release/examples/collector_cpu" | sed 's/^/lambda     /'
