#!/usr/bin/env bash
# `make docs-numbers`: runs what the docs quote and writes its output into
# their generated blocks, so every number in docs/ comes from a command:
#   docs/local-pipeline.md  demo-output   make demo's generator and replay summary
#   docs/deploy.md          sizing-table  firehose-enricher sizing on every file in events/
#   docs/performance.md     bench-output  make bench, with the machine it ran on
set -euo pipefail
cd "$(dirname "$0")/.."
MAKE=${MAKE:-make}
CARGO=${CARGO:-cargo}
block() { python3 tools/docs_block.py "$1" "$2"; }
fence() { echo '```text'; cat; echo '```'; }

echo "--- demo" >&2
$MAKE --no-print-directory demo >/tmp/docs-numbers-demo.$$ 2>&1
grep -E '^(wrote|  as |replayed|  [A-Za-z]|    )' /tmp/docs-numbers-demo.$$ |
  grep -vE '^\s+(Compiling|Finished|Running)' |
  sed -n '1,/^  read:/p' | fence | block docs/local-pipeline.md demo-output
rm -f /tmp/docs-numbers-demo.$$

echo "--- sizing" >&2
{
  echo "| file | events | data bytes per record | request | response | largest buffer (MB) |"
  echo "|---|---|---|---|---|---|"
  for f in events/*.json; do
    "$CARGO" run --quiet -- sizing --json "$f" | python3 -c '
import json, sys
s = json.load(sys.stdin)
keys = ["events", "data_bytes_per_record", "request_bytes_per_record", "response_bytes_per_record", "max_buffer_mb"]
print("| `%s` | " % sys.argv[1] + " | ".join(str(s[k]) for k in keys) + " |")' "$(basename "$f")"
  done
} | block docs/deploy.md sizing-table

echo "--- bench" >&2
{
  echo "$(date -u +%Y-%m-%d), $(nproc) cores, $(uname -m), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
  $MAKE --no-print-directory bench 2>&1 | grep -vE '^\s*(Compiling|Finished|Running)|^CARGO='
} | fence | block docs/performance.md bench-output
echo "docs-numbers: docs/local-pipeline.md, docs/deploy.md and docs/performance.md updated" >&2
