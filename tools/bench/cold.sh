#!/usr/bin/env bash
# The cold start, as `make bench` reports it: a new process under the
# Runtime API emulator (tools/bench/runtime-api.js, TCP_NODELAY on its
# sockets), its init and first invocation against the warm invocations of
# the same request that follow, in the same run.
#
#   tools/bench/cold.sh BINARY DATA_DIR [ROUNDS]
#
# DATA_DIR holds gen_batch's realistic.json and tiny.json. The requests:
# - one user agent: realistic.json's first 3,500 records (2.0 MB decoded),
#   every record's user agent the same (a desktop Chrome);
# - 800 user agents: the same records with 800 distinct real user agents,
#   every other one of uap-core's test_ua.yaml, in turn;
# - full response: the whole realistic.json (5,000 records), whose default
#   response fills Lambda's 6 MB (the rest overflows);
# - 6 MB request: tiny.json, 27,459 tiny events filling the request limit.
# The last two are for the memory size: the most CPU and memory one
# invocation can take.
# Lines:
#   cold       default ENRICHMENTS on a request, per round: init_cpu_ms,
#              cold_cpu_ms (init + first invocation), warm_cpu_ms (median
#              of the 9 warm invocations after it), cold_over_warm_ms,
#              peak_rss_mib and ENRICHMENTS=none's on the same request,
#              billed_ms at 128, 512 and 1,769 MB (init + first invocation)
#   cold_instr the instructions of init + first invocation under callgrind,
#              default ENRICHMENTS and none (skipped without valgrind)
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=$1
data=$2
rounds=${3:-3}
[ -f "$data/realistic.json" ] || { echo "cold.sh: $data/realistic.json is missing (gen_batch)" >&2; exit 1; }

node -e '
const fs = require("fs");
const [data, yamlFile] = process.argv.slice(1);
const r = JSON.parse(fs.readFileSync(`${data}/realistic.json`));
// uap-core test_ua.yaml user agents: single- or double-quoted YAML scalars.
const uas = [];
for (const line of fs.readFileSync(yamlFile, "utf8").split("\n")) {
  const m = line.match(/^\s*- user_agent_string: (?:\x27((?:[^\x27]|\x27\x27)*)\x27|"((?:[^"\\]|\\.)*)")\s*$/);
  if (m) uas.push(m[1] !== undefined ? m[1].replace(/\x27\x27/g, "\x27") : JSON.parse(`"${m[2]}"`));
}
const distinct = [...new Set(uas)].filter((_, i) => i % 2 === 0).slice(0, 800);
if (distinct.length !== 800) throw new Error(`only ${distinct.length} user agents`);
const write = (name, records, ua) => {
  const out = { ...r, records: records.map((rec, i) => {
    const e = JSON.parse(Buffer.from(rec.data, "base64"));
    if (ua) e.user_agent = ua(i);
    return { ...rec, data: Buffer.from(JSON.stringify(e)).toString("base64") };
  }) };
  fs.writeFileSync(`${data}/${name}.json`, JSON.stringify(out));
};
const first = r.records.slice(0, 3500);
write("cold-one-ua", first, () => "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36");
write("cold-800-ua", first, (i) => distinct[i % distinct.length]);
' "$data" tests/data/uap-core/test_ua.yaml

emulate() { node tools/bench/runtime-api.js "$bin" "$1" --invocations 10; }

for round in $(seq 1 "$rounds"); do
  for request in one-ua 800-ua full tiny; do
    file="$data/cold-$request.json"
    [ "$request" = full ] && file="$data/realistic.json"
    [ "$request" = tiny ] && file="$data/tiny.json"
    on=$(unset ENRICHMENTS; emulate "$file")
    none=$(ENRICHMENTS=none emulate "$file")
    node -e 'const [request, round, a, n] = process.argv.slice(1);
      const on = JSON.parse(a), none = JSON.parse(n);
      const name = {"one-ua": "one user agent", "800-ua": "800 user agents", full: "full response", tiny: "6 MB request"}[request];
      console.log(`cold       {"request":"${name}","round":${round},"init_cpu_ms":${on.init_cpu_ms},` +
        `"cold_cpu_ms":${on.cold_cpu_ms},"warm_cpu_ms":${on.warm_cpu_median_ms},"cold_over_warm_ms":${on.cold_over_warm_cpu_ms},` +
        `"none_cold_over_warm_ms":${none.cold_over_warm_cpu_ms},` +
        `"peak_rss_mib":${on.peak_rss_mib},"none_peak_rss_mib":${none.peak_rss_mib},` +
        `"rss_over_none_mib":${(on.peak_rss_mib - none.peak_rss_mib).toFixed(1)},` +
        `"billed_ms":${JSON.stringify(on.cold_billed_ms)},"warm_billed_ms_128":${Math.ceil(on.warm_cpu_median_ms * 1769 / 128)}}`)' \
      "$request" "$round" "$on" "$none"
  done
done

if command -v valgrind >/dev/null; then
  out=$(mktemp -d)
  for request in one-ua 800-ua; do
    on=$(env -u ENRICHMENTS node tools/bench/runtime-api.js "$bin" "$data/cold-$request.json" --callgrind "$out/on.out")
    none=$(ENRICHMENTS=none node tools/bench/runtime-api.js "$bin" "$data/cold-$request.json" --callgrind "$out/none.out")
    node -e 'const [request, a, n] = process.argv.slice(1);
      const on = JSON.parse(a).instructions, none = JSON.parse(n).instructions;
      console.log(`cold_instr {"request":"${request === "one-ua" ? "one user agent" : "800 user agents"}",` +
        `"instructions":${on},"none_instructions":${none},"over_none":${on - none}}`)' "$request" "$on" "$none"
  done
  rm -rf "$out"
else
  echo "cold_instr skipped: valgrind is not installed (apt-get install valgrind)"
fi
