#!/usr/bin/env bash
# Re-creates vendor/regex-filtered and vendor/ua-parser from the published
# crates, then applies vendor/patches/*.patch; with --diff, instead rewrites
# the patches from the published crates and the vendored copies (after
# editing a copy). See vendor/README.md.
#
#   vendor/update.sh [--diff] [REGEX_FILTERED_VERSION UA_PARSER_VERSION]
set -euo pipefail
cd "$(dirname "$0")"
diff_mode=false
if [ "${1:-}" = --diff ]; then diff_mode=true; shift; fi
rf=${1:-0.2.1}
uap=${2:-0.2.2}
CARGO=${CARGO:-cargo}

# The published sources, through cargo itself: a throwaway manifest that
# depends on exactly these versions, fetched into cargo's registry cache.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/src"
touch "$tmp/src/lib.rs"
cat >"$tmp/Cargo.toml" <<TOML
[package]
name = "vendor-fetch"
version = "0.0.0"
edition = "2021"
[dependencies]
regex-filtered = "=$rf"
ua-parser = "=$uap"
TOML
"$CARGO" fetch --quiet --manifest-path "$tmp/Cargo.toml"
source_of() {
  "$CARGO" metadata --format-version 1 --manifest-path "$tmp/Cargo.toml" |
    python3 -c 'import json,sys,os; m=json.load(sys.stdin)
print(next(os.path.dirname(p["manifest_path"]) for p in m["packages"] if p["name"]==sys.argv[1] and p["version"]==sys.argv[2]))' "$1" "$2"
}

# The published crate as vendored: its sources, licence and READMEs, and
# its manifest without the examples, benches, tests and dev-dependencies,
# whose files are not copied.
pristine() {
  local from=$1 to=$2
  mkdir -p "$to"
  cp -r "$from/src" "$from/LICENSE" "$from/README.md" "$from/CHANGELOG.md" "$from/Cargo.toml" "$to/"
  python3 - "$to/Cargo.toml" <<'PY'
import re, sys
path = sys.argv[1]
parts = re.split(r'(?m)^(?=\[)', open(path).read())
keep = [s for s in parts if not re.match(r'\[\[(example|bench|test)\]\]|\[dev-dependencies', s)]
open(path, "w").write("".join(keep))
PY
}

for crate in regex-filtered:$rf ua-parser:$uap; do
  name=${crate%%:*} version=${crate#*:}
  from=$(source_of "$name" "$version")
  patch=patches/$name-$version.patch
  if $diff_mode; then
    pristine "$from" "$tmp/a/$name"
    (cd "$tmp/a" && diff -ruN "$name" "$OLDPWD/$name" | sed "s|$OLDPWD/||") >"$patch" || true
    echo "wrote $patch"
  else
    rm -rf "$name"
    pristine "$from" "$name"
    patch --quiet -p0 <"$patch"
    echo "vendored $name $version + $patch"
  fi
done
