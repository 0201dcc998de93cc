#!/usr/bin/env bash
# `make bench`: firehose-enricher (release build) and the Node.js blueprint
# peer on the same generated batches, in the same run, then the ratio.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO=${CARGO:-cargo}
ITERATIONS=${ITERATIONS:-50}
DATA=target/bench-data

"$CARGO" build --release --quiet --bin firehose-enricher --example gen_batch
target_dir=$("$CARGO" metadata --format-version 1 --no-deps |
  node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).target_directory))')
bin="$target_dir/release/firehose-enricher"
"$target_dir/release/examples/gen_batch" "$DATA"
(cd bench && npm ci --silent --no-audit --no-fund)

ratio() {
  node -e 'const [a,b]=process.argv.slice(1).map(JSON.parse);
    console.log(`ratio      records/s ${(a.records_per_s/b.records_per_s).toFixed(1)}x`)' "$1" "$2"
}

for batch in realistic tiny; do
  echo "== $batch batch ($DATA/$batch.json)"
  ours=$("$bin" bench "$DATA/$batch.json" --iterations "$ITERATIONS")
  # Node's Date.parse reads a date-time without offset in local time.
  peer=$(TZ=UTC node bench/peer.js bench "$DATA/$batch.json" --iterations "$ITERATIONS")
  echo "rust       $ours"
  echo "node peer  $peer"
  ratio "$ours" "$peer"
done

echo "== whole process: invoke on the realistic batch"
/usr/bin/time -f 'invoke     {"wall_s":%e,"peak_rss_kib":%M}' "$bin" invoke "$DATA/realistic.json" >/dev/null
echo "== Lambda runtime loop on loopback: init and per-invocation time"
echo "runtime    $(node bench/runtime-api.js "$bin" "$DATA/realistic.json" --invocations 20)"
echo "== binary size"
echo "binary     $(stat -c %s "$bin") bytes (stripped release)"
