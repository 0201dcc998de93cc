#!/usr/bin/env bash
# `make bench-instructions`: instructions per record under callgrind, for
# default ENRICHMENTS, ENRICHMENTS=none and the floor (`bench --floor`), on
# the realistic batch (or the request files given as arguments).
#
# Instruction counts do not depend on the machine's load, so they compare
# across runs where wall times cannot. One batch's count is the difference
# between `bench --iterations 2` and `bench --iterations 1` under callgrind:
# the same process start, file read and warm-up batches, and one batch more,
# so start-up and first-use costs (a parser built once, the first batch's
# allocations) are not in it.
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! command -v valgrind >/dev/null; then
  echo "make bench-instructions: skipped, valgrind is not installed (apt-get install valgrind)"
  exit 0
fi
command -v node >/dev/null || { echo "make bench-instructions needs node (Node.js 18+)" >&2; exit 1; }
CARGO=${CARGO:-cargo}
DATA=target/bench-data
"$CARGO" build --release --quiet --bin firehose-enricher
"$CARGO" build --release --quiet --example gen_batch
target_dir=$("$CARGO" metadata --format-version 1 --no-deps |
  node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).target_directory))')
bin="$target_dir/release/firehose-enricher"
[ -f "$DATA/realistic.json" ] || "$target_dir/release/examples/gen_batch" "$DATA"
out="$target_dir/callgrind"
mkdir -p "$out"
if [ $# -eq 0 ]; then
  # The whole batch, whose default response passes 6 MB (the last records
  # are fitted as failures), and its first 2,500 records, which all fit.
  node -e 'const fs=require("fs"); const r=JSON.parse(fs.readFileSync(process.argv[1]));
    r.records=r.records.slice(0,2500); fs.writeFileSync(process.argv[2], JSON.stringify(r))' \
    "$DATA/realistic.json" "$DATA/realistic-2500.json"
  set -- "$DATA/realistic.json" "$DATA/realistic-2500.json"
fi

# instructions NAME ITERATIONS ENV... -- BENCH_ARGS...: the process's total
# instruction count; bench's JSON line goes to $out/NAME.json.
instructions() {
  local name=$1 iterations=$2; shift 2
  local env=()
  while [ "$1" != -- ]; do env+=("$1"); shift; done
  shift
  env -u ENRICHMENTS "${env[@]}" valgrind --tool=callgrind \
    --callgrind-out-file="$out/$name-$iterations.out" \
    "$bin" bench "$@" --iterations "$iterations" >"$out/$name.json" 2>"$out/$name-$iterations.log"
  sed -n 's/^summary: //p' "$out/$name-$iterations.out"
}

echo "== instructions per record under callgrind (one warm batch: --iterations 2 minus --iterations 1)"
for file in "$@"; do
  for config in default none floor; do
    case $config in
      default) env=(); args=() ;;
      none) env=(ENRICHMENTS=none); args=() ;;
      floor) env=(); args=(--floor) ;;
    esac
    one=$(instructions "$config" 1 "${env[@]}" -- "$file" "${args[@]}")
    two=$(instructions "$config" 2 "${env[@]}" -- "$file" "${args[@]}")
    node -e 'const [file, config, one, two, line] = process.argv.slice(1);
      const b = JSON.parse(line), batch = Number(two) - Number(one);
      console.log(`instr      {"file":"${file}","config":"${config}","records":${b.records},` +
        `"response_bytes":${b.response_bytes},"per_batch":${batch},` +
        `"per_record":${Math.round(batch / b.records)},"per_decoded_byte":${(batch / b.decoded_bytes).toFixed(1)}}`)' \
      "$file" "$config" "$one" "$two" "$(cat "$out/$config.json")"
  done
done
