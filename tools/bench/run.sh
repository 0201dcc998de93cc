#!/usr/bin/env bash
# `make bench`: firehose-enricher (release build) and the Node.js blueprint
# peer on the same generated batches, in the same run, then the ratio.
set -euo pipefail
cd "$(dirname "$0")/../.."

CARGO=${CARGO:-cargo}
for tool in node npm /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "make bench needs $tool (Node.js 18+ with npm; GNU time: apt-get install time)" >&2; exit 1; }
done
ITERATIONS=${ITERATIONS:-50}
REPLAY_EVENTS=${REPLAY_EVENTS:-200000}
PYTHON=${PYTHON:-.venv/bin/python}
[ -x "$PYTHON" ] || { echo "make bench needs DuckDB in .venv (make venv; the Makefile's bench target installs it)" >&2; exit 1; }
DATA=target/bench-data

# Two builds: built together, the example's dev-dependencies would switch on
# extra features of shared crates (clap's, for one) in the binary too.
"$CARGO" build --release --quiet --bin firehose-enricher
"$CARGO" build --release --quiet --example gen_batch --example gen_events
target_dir=$("$CARGO" metadata --format-version 1 --no-deps |
  node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).target_directory))')
bin="$target_dir/release/firehose-enricher"
"$target_dir/release/examples/gen_batch" "$DATA"
(cd tools/bench && npm ci --silent --no-audit --no-fund)

ratio() {
  node -e 'const [a,b]=process.argv.slice(1).map(JSON.parse);
    console.log(`ratio      records/s ${(a.records_per_s/b.records_per_s).toFixed(1)}x`)' "$1" "$2"
}

for batch in realistic tiny; do
  echo "== $batch batch ($DATA/$batch.json)"
  ours=$("$bin" bench "$DATA/$batch.json" --iterations "$ITERATIONS")
  # Node's Date.parse reads a date-time without offset in local time.
  peer=$(TZ=UTC node tools/bench/peer.js bench "$DATA/$batch.json" --iterations "$ITERATIONS")
  echo "rust       $ours"
  echo "node peer  $peer"
  ratio "$ours" "$peer"
done

# The optional enrichers against none, on the realistic batch, in one run
# (interleaved, so that a noisy neighbour hits both alike): time and the
# response bytes the enrichers' fields add per record.
# The first 2,500 records of the realistic batch: with every default field
# the whole batch's response passes 6 MB, and the records that do not fit
# are echoed, not enriched, which would flatter the default configuration.
# The first N records of the realistic batch, as their own request.
prefix() {
  node -e 'const fs=require("fs"); const r=JSON.parse(fs.readFileSync(process.argv[1]));
    r.records=r.records.slice(0,+process.argv[3]); fs.writeFileSync(process.argv[2], JSON.stringify(r))' \
    "$DATA/realistic.json" "$DATA/realistic-$1.json" "$1"
}
prefix 2500
prefix 1750
prefix 3500
web="referrer,campaign,fingerprint"
# At about 1, 1.4 and 2 MB decoded (1,750, 2,500 and 3,500 records, all of
# which fit in the response with every default field), because allocator
# effects make one size lie.
echo "== enrichments: the first 1,750, 2,500 and 3,500 realistic records; the web enrichers ($web) and the default ENRICHMENTS (those plus user_agent) against ENRICHMENTS=none"
for n in 1750 2500 3500; do
  for round in 1 2 3; do
    default=$(env -u ENRICHMENTS "$bin" bench "$DATA/realistic-$n.json" --iterations "$ITERATIONS")
    webonly=$(ENRICHMENTS=$web "$bin" bench "$DATA/realistic-$n.json" --iterations "$ITERATIONS")
    none=$(ENRICHMENTS=none "$bin" bench "$DATA/realistic-$n.json" --iterations "$ITERATIONS")
    node -e 'const [a,w,b]=process.argv.slice(1).map(JSON.parse);
      const per=(x)=>(x.response_bytes/x.records).toFixed(1);
      console.log(`enrich     {"records":${a.records},"round":'"$round"',"default_ms":${a.median_ms},"web_ms":${w.median_ms},"none_ms":${b.median_ms},` +
        `"web_over_none":${(w.median_ms/b.median_ms).toFixed(2)},"default_over_none":${(a.median_ms/b.median_ms).toFixed(2)},` +
        `"default_over_web":${(a.median_ms/w.median_ms).toFixed(2)},` +
        `"response_bytes_per_record":{"default":${per(a)},"web":${per(w)},"none":${per(b)}}}`)' "$default" "$webonly" "$none"
  done
done

# The realistic batch holds 3 distinct referrers, so the referrer cache
# answers nearly all of them. A pessimistic mix: the same 2,500 records with
# every referrer made distinct (a path of its own), so each is worked out
# anew and the cache only costs; timed with the cache emptied before every
# run.
node -e 'const fs=require("fs"); const r=JSON.parse(fs.readFileSync(process.argv[1]));
  r.records.forEach((rec,i)=>{ const e=JSON.parse(Buffer.from(rec.data,"base64"));
    if (typeof e.referrer==="string" && e.referrer) { e.referrer=e.referrer.replace(/^(https?:\/\/[^/?#]+)\/?/, `$1/r${i}/`); }
    rec.data=Buffer.from(JSON.stringify(e)).toString("base64"); });
  fs.writeFileSync(process.argv[2], JSON.stringify(r))' "$DATA/realistic-2500.json" "$DATA/realistic-2500-ref.json"
echo "== referrer: first 2,500 realistic records, every referrer distinct; the web enrichers with the caches emptied before every run against ENRICHMENTS=none"
for round in 1 2 3; do
  cold=$(ENRICHMENTS=$web "$bin" bench "$DATA/realistic-2500-ref.json" --iterations "$ITERATIONS" --cold-cache)
  none=$(ENRICHMENTS=none "$bin" bench "$DATA/realistic-2500-ref.json" --iterations "$ITERATIONS")
  node -e 'const [c,n]=process.argv.slice(1).map(JSON.parse);
    console.log(`referrer   {"round":'"$round"',"mix":"all distinct","web_cold_ms":${c.median_ms},"none_ms":${n.median_ms},"web_cold_over_none":${(c.median_ms/n.median_ms).toFixed(2)}}`)' "$cold" "$none"
done

# The floor: the same batch through `bench --floor`, which parses the
# request, decodes every record, writes the response (base64 again,
# partition keys) and fits it, as the transform's batch does, with each
# record echoed instead of transformed. The ratios are what the per-record
# transform costs on top of the batch layer, default ENRICHMENTS and none.
# Two sizes: the whole realistic batch, whose default response passes 6 MB
# (the records past the response budget are overflow, not transformed),
# and its first 2,500 records, which all fit and are all transformed.
echo "== floor: the first 2,500 realistic records and the whole batch, default ENRICHMENTS and none against bench --floor"
for file in realistic-2500 realistic; do
  for round in 1 2 3; do
    floor=$(env -u ENRICHMENTS "$bin" bench "$DATA/$file.json" --iterations "$ITERATIONS" --floor)
    default=$(env -u ENRICHMENTS "$bin" bench "$DATA/$file.json" --iterations "$ITERATIONS" 2>/dev/null)
    none=$(ENRICHMENTS=none "$bin" bench "$DATA/$file.json" --iterations "$ITERATIONS" 2>/dev/null)
    node -e 'const [f,d,n]=process.argv.slice(1).map(JSON.parse);
      console.log(`floor      {"records":${f.records},"round":'"$round"',"floor_ms":${f.median_ms},"default_ms":${d.median_ms},"none_ms":${n.median_ms},` +
        `"default_over_floor":${(d.median_ms/f.median_ms).toFixed(2)},"none_over_floor":${(n.median_ms/f.median_ms).toFixed(2)},` +
        `"cpu_default_over_floor":${(d.cpu_median_ms/f.cpu_median_ms).toFixed(2)},"cpu_none_over_floor":${(n.cpu_median_ms/f.cpu_median_ms).toFixed(2)}}`)' \
      "$floor" "$default" "$none"
  done
done

# The user_agent enricher (on by default): warm, with the parser built and
# the cache hot, against the default without it, alternating; then cold, a
# whole process each (parser built on first use, cache empty).
echo "== user_agent: first 2,500 realistic records, default ENRICHMENTS with and without user_agent"
for round in 1 2 3; do
  off=$(ENRICHMENTS=$web "$bin" bench "$DATA/realistic-2500.json" --iterations "$ITERATIONS")
  on=$(env -u ENRICHMENTS "$bin" bench "$DATA/realistic-2500.json" --iterations "$ITERATIONS")
  node -e 'const [a,b]=process.argv.slice(1).map(JSON.parse);
    console.log(`user_agent {"round":'"$round"',"warm_on_ms":${b.median_ms},"warm_off_ms":${a.median_ms},"ratio":${(b.median_ms/a.median_ms).toFixed(2)}}`)' "$off" "$on"
done
# The geo enricher (on by default) and the IP masking (ANONYMIZE_IP, on by
# default) on the realistic batch, whose events carry about 1,700 distinct
# addresses: the default against the default without geo, and without
# either, alternating, at the three sizes of the enrichments lines. The
# target: geo adds at most 15% to the default.
echo "== geo: the first 1,750, 2,500 and 3,500 realistic records, default ENRICHMENTS with and without geo, and ANONYMIZE_IP on and off"
for n in 1750 2500 3500; do for round in 1 2 3; do
  nogeo=$(ENRICHMENTS=$web,user_agent "$bin" bench "$DATA/realistic-$n.json" --iterations "$ITERATIONS")
  on=$(env -u ENRICHMENTS "$bin" bench "$DATA/realistic-$n.json" --iterations "$ITERATIONS")
  cold=$(env -u ENRICHMENTS "$bin" bench "$DATA/realistic-$n.json" --iterations "$ITERATIONS" --cold-cache)
  nomask=$(ANONYMIZE_IP=off "$bin" bench "$DATA/realistic-$n.json" --iterations "$ITERATIONS")
  node -e 'const [g0,g1,gc,m0]=process.argv.slice(1).map(JSON.parse);
    const us=(x)=>(1000*x.median_ms/x.records).toFixed(3);
    console.log(`geo        {"records":'"$n"',"round":'"$round"',"default_ms":${g1.median_ms},"without_geo_ms":${g0.median_ms},"cold_cache_ms":${gc.median_ms},"anonymize_off_ms":${m0.median_ms},` +
      `"geo_added_us_per_record":${((g1.median_ms-g0.median_ms)*1000/g1.records).toFixed(3)},"geo_share_of_default":${((g1.median_ms-g0.median_ms)/g1.median_ms).toFixed(3)},` +
      `"geo_cold_share_of_default":${((gc.median_ms-g0.median_ms)/gc.median_ms).toFixed(3)},` +
      `"anonymize_added_us_per_record":${((g1.median_ms-m0.median_ms)*1000/g1.records).toFixed(3)},"default_us_per_record":${us(g1)}}`)' "$nogeo" "$on" "$cold" "$nomask"
done; done

# The realistic batch holds 5 distinct user agents, so its cache is always
# hot. A pessimistic mix: the same 2,500 records with each user agent's
# browser version rewritten, about 800 distinct user agents; timed with the
# cache hot, and emptied before every run (each distinct user agent parsed
# once per batch, as in a new container).
node -e 'const fs=require("fs"); const r=JSON.parse(fs.readFileSync(process.argv[1]));
  r.records.forEach((rec,i)=>{ const e=JSON.parse(Buffer.from(rec.data,"base64"));
    if (typeof e.user_agent==="string") { const k=i%800;
      e.user_agent=e.user_agent.replace(/(Chrome|Firefox|Version)\/[\d.]+/, (m,n)=>`${n}/${100+k%33}.0.${k%97}`); }
    rec.data=Buffer.from(JSON.stringify(e)).toString("base64"); });
  fs.writeFileSync(process.argv[2], JSON.stringify(r))' "$DATA/realistic-2500.json" "$DATA/realistic-2500-ua.json"
for round in 1 2 3; do
  off=$(ENRICHMENTS=$web "$bin" bench "$DATA/realistic-2500-ua.json" --iterations "$ITERATIONS")
  hot=$(env -u ENRICHMENTS "$bin" bench "$DATA/realistic-2500-ua.json" --iterations "$ITERATIONS")
  cold=$(env -u ENRICHMENTS "$bin" bench "$DATA/realistic-2500-ua.json" --iterations "$ITERATIONS" --cold-cache)
  node -e 'const [a,h,c]=process.argv.slice(1).map(JSON.parse);
    console.log(`user_agent {"round":'"$round"',"mix":"800 distinct","off_ms":${a.median_ms},"hot_cache_ms":${h.median_ms},"cold_cache_ms":${c.median_ms},` +
      `"hot_over_off":${(h.median_ms/a.median_ms).toFixed(2)},"cold_over_off":${(c.median_ms/a.median_ms).toFixed(2)}}`)' "$off" "$hot" "$cold"
done
for run in 1 2 3; do
  t0=$(date +%s%N); ENRICHMENTS=$web "$bin" invoke "$DATA/realistic-2500.json" >/dev/null 2>&1; t1=$(date +%s%N)
  env -u ENRICHMENTS "$bin" invoke "$DATA/realistic-2500.json" >/dev/null 2>&1; t2=$(date +%s%N)
  echo "user_agent {\"run\":$run,\"cold_invoke_on_ms\":$(( (t2 - t1) / 1000000 )),\"cold_invoke_off_ms\":$(( (t1 - t0) / 1000000 ))}"
done

# The consent enricher: the realistic records with a consent string on 3 of
# 4 (TC strings granting and denying, a GPP string, an undecodable one; the
# rest carry none), at two sizes (1.0 and 1.4 MB decoded; at 3,500 records
# the consent fields push the response past 6 MB and records would be
# echoed unenriched, flattering it), interleaved: the default ENRICHMENTS
# against the default plus consent (CONSENT_POLICY off), and plus consent
# with CONSENT_POLICY=anonymize (every record not granted is edited). The
# cost per record is the median difference over the record count.
consent_input() {
  node -e 'const fs=require("fs"); const r=JSON.parse(fs.readFileSync(process.argv[1]));
    const strings=["CQuIxQAQuIxQAAKABBEND6EgAMPAAAAAAAYgAAAAAAAA","CQuIxQAQuIxQAAKABBEND6EgAEEAAAAAAAYgAAAAAAAA",
      "DBABMA~CQuIxQAQuIxQAEsABBEND6EgAIGAAAAAAAYgAAAAAAAA","CPXxRfAPXxRfAAfKABENB"];
    r.records.forEach((rec,i)=>{ if (i%4===3) return; const e=JSON.parse(Buffer.from(rec.data,"base64"));
      e.tcString=strings[i%strings.length]; rec.data=Buffer.from(JSON.stringify(e)).toString("base64"); });
    fs.writeFileSync(process.argv[2], JSON.stringify(r))' "$DATA/realistic-$1.json" "$DATA/realistic-$1-consent.json"
}
consent_input 1750
consent_input 2500
echo "== consent: the first 1,750 and 2,500 realistic records, 3 in 4 with a consent string; default ENRICHMENTS with and without consent, and with CONSENT_POLICY=anonymize"
for n in 1750 2500; do
  for round in 1 2 3; do
    off=$(env -u ENRICHMENTS "$bin" bench "$DATA/realistic-$n-consent.json" --iterations "$ITERATIONS")
    on=$(ENRICHMENTS="$web,user_agent,consent" "$bin" bench "$DATA/realistic-$n-consent.json" --iterations "$ITERATIONS")
    anon=$(ENRICHMENTS="$web,user_agent,consent" CONSENT_POLICY=anonymize "$bin" bench "$DATA/realistic-$n-consent.json" --iterations "$ITERATIONS")
    node -e 'const [a,b,c]=process.argv.slice(1).map(JSON.parse);
      const us=(x)=>((x.median_ms-a.median_ms)*1000/a.records).toFixed(2);
      console.log(`consent    {"records":${a.records},"round":'"$round"',"off_ms":${a.median_ms},"on_ms":${b.median_ms},"anonymize_ms":${c.median_ms},` +
        `"on_over_off":${(b.median_ms/a.median_ms).toFixed(2)},"anonymize_over_off":${(c.median_ms/a.median_ms).toFixed(2)},` +
        `"us_per_record":{"on":${us(b)},"anonymize":${us(c)}},` +
        `"response_bytes_per_record":{"off":${(a.response_bytes/a.records).toFixed(1)},"on":${(b.response_bytes/b.records).toFixed(1)}}}`)' "$off" "$on" "$anon"
  done
done

# Several sizes, because allocator effects make one size lie: about 1, 2
# and 2.9 MB decoded (1,750, 3,500 and all 5,000 records). Per size, the
# in-process median and the Lambda runtime loop's per-invocation median, and
# their ratio: what Lambda bills against what `bench` reports. loop_ms is the
# billed window (request delivered to response received); loop_cpu_ms the
# function process's CPU time per invocation against bench's CPU time per
# batch (a busy machine lengthens wall times, and the loop's two processes
# more than bench's one); handout_ms the window from the emulator starting to
# write the request (which adds its own sending).
echo "== batch sizes: in process (bench) and through the Lambda runtime loop on loopback"
# Then the tiny-event batch: 27,459 records in 6.3 MB, most of them fitted.
for n in 1750 3500 5000 tiny; do
  file="$DATA/realistic-$n.json"
  [ "$n" = 5000 ] && file="$DATA/realistic.json"
  [ "$n" = tiny ] && file="$DATA/tiny.json"
  for round in 1 2 3; do
    inproc=$("$bin" bench "$file" --iterations "$ITERATIONS" 2>/dev/null)
    loop=$(node tools/bench/runtime-api.js "$bin" "$file" --invocations 20)
    node -e 'const [a,b]=process.argv.slice(1).map(JSON.parse);
      console.log(`size       {"records":${a.records},"decoded_mb":${(a.decoded_bytes/1e6).toFixed(2)},"round":'"$round"',` +
        `"bench_ms":${a.median_ms},"loop_ms":${b.billed_median_ms.toFixed(2)},"loop_over_bench":${(b.billed_median_ms/a.median_ms).toFixed(2)},` +
        `"bench_cpu_ms":${a.cpu_median_ms},"loop_cpu_ms":${b.cpu_ms_per_invoke.toFixed(2)},` +
        `"cpu_over_bench_cpu":${(b.cpu_ms_per_invoke/a.cpu_median_ms).toFixed(2)},` +
        `"handout_ms":${b.invoke_median_ms.toFixed(2)}}`)' \
      "$inproc" "$loop"
  done
done

echo "== whole process: invoke on the realistic batch"
for run in 1 2 3 4 5; do
  start=$(date +%s%N)
  /usr/bin/time -f '%M' -o "$DATA/invoke.rss" "$bin" invoke "$DATA/realistic.json" >/dev/null 2>&1
  end=$(date +%s%N)
  echo "invoke     {\"run\":$run,\"wall_ms\":$(( (end - start) / 1000000 )),\"peak_rss_kib\":$(cat "$DATA/invoke.rss")}"
done
echo "== Lambda runtime loop on loopback: init and per-invocation time"
echo "runtime    $(node tools/bench/runtime-api.js "$bin" "$DATA/realistic.json" --invocations 20)"
# The cold start: a new process's init and first invocation against the
# warm invocations of the same request, with one user agent and with 800,
# and peak RSS against ENRICHMENTS=none; then the instructions under
# callgrind (tools/bench/cold.sh says what each field is).
echo "== cold start: init + first invocation under the Runtime API emulator (TCP_NODELAY), against warm invocations of the same 2 MB request"
tools/bench/cold.sh "$bin" "$DATA"
# replay on every core against DuckDB's nearest equivalent job (read the
# files, derive a date and a site, write gzip JSON partitioned by both), on
# the same generated input, alternating: see tools/bench/replay_duckdb.py.
echo "== replay: $REPLAY_EVENTS generated events (gen_events) into a folder, against DuckDB's nearest equivalent job"
rm -rf "$DATA/replay-input"
"$target_dir/release/examples/gen_events" "$DATA/replay-input" "$REPLAY_EVENTS" >/dev/null
"$PYTHON" tools/bench/replay_duckdb.py --bin "$bin" --input "$DATA/replay-input" --work "$DATA/replay-work" --rounds 3
rm -rf "$DATA/replay-input"
echo "== binary size"
echo "binary     $(stat -c %s "$bin") bytes (stripped release)"

# The collector: serve under load, and a Lambda collector invocation's CPU.
CARGO="$CARGO" tools/bench/collector.sh
