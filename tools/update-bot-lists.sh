#!/usr/bin/env bash
# Refreshes the bot lists in src/bots/ from pinned npm versions:
#   tools/update-bot-lists.sh ISBOT_VERSION CRAWLER_USER_AGENTS_VERSION
# writes isbot's pattern list (its `list` export), and crawler-user-agents'
# patterns, tags and instances, one entry per line. Then update the
# versions in src/bots/README.md and run `cargo test --test bots`.
set -euo pipefail
isbot=${1:?usage: $0 ISBOT_VERSION CRAWLER_USER_AGENTS_VERSION}
cua=${2:?usage: $0 ISBOT_VERSION CRAWLER_USER_AGENTS_VERSION}
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
npm pack --silent "isbot@$isbot" >/dev/null
npm pack --silent "crawler-user-agents@$cua" >/dev/null
mkdir isbot cua
tar -xzf isbot-*.tgz -C isbot
tar -xzf crawler-user-agents-*.tgz -C cua
node -e 'const l = require(process.argv[1]).list;
  if (!Array.isArray(l) || l.length < 100) throw new Error("isbot: no pattern list");
  process.stdout.write(l.join("\n") + "\n")' "$tmp/isbot/package/index.js" >"$root/src/bots/isbot-patterns.txt"
cp isbot/package/LICENSE "$root/src/bots/LICENSE-isbot"
node -e 'const fs = require("fs"); const l = require(process.argv[1]); const root = process.argv[2];
  fs.writeFileSync(root + "/src/bots/crawler-user-agents.txt", l.map(e => e.pattern).join("\n") + "\n");
  fs.writeFileSync(root + "/src/bots/crawler-user-agents-tags.txt", l.map(e => (e.tags || []).join(",")).join("\n") + "\n");
  fs.writeFileSync(root + "/tests/data/crawler-user-agents-instances.txt", l.flatMap(e => e.instances || []).join("\n") + "\n");' \
  "$tmp/cua/package/crawler-user-agents.json" "$root"
cp cua/package/LICENSE "$root/src/bots/LICENSE-crawler-user-agents"
echo "src/bots: isbot $isbot, crawler-user-agents $cua. Update src/bots/README.md."
