#!/usr/bin/env bash
# Replaces the bundled country database (data/ip-location-db/) by the one of
# a pinned npm version of @ip-location-db/geo-whois-asn-country-mmdb, after
# checking its SHA-256. Usage: tools/update-ip-location-db.sh VERSION SHA256
set -euo pipefail
version=${1:?usage: $0 VERSION SHA256}
want=${2:?usage: $0 VERSION SHA256}
dest=$(cd "$(dirname "$0")/.." && pwd)/data/ip-location-db
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "@ip-location-db/geo-whois-asn-country-mmdb@$version" >/dev/null)
tar -xzf "$tmp"/*.tgz -C "$tmp"
got=$(sha256sum "$tmp/package/geo-whois-asn-country.mmdb" | cut -d' ' -f1)
if [ "$got" != "$want" ]; then
  echo "checksum mismatch: expected $want, got $got" >&2
  exit 1
fi
cp "$tmp/package/geo-whois-asn-country.mmdb" "$tmp/package/package.json" "$dest/"
[ -f "$tmp/package/NRO_LICENSE" ] && cp "$tmp/package/NRO_LICENSE" "$dest/"
echo "data/ip-location-db: version $version ($got)."
echo "Now update the version and checksum in data/ip-location-db/README.md and BUNDLED_SHA256 in src/enrich/geo.rs."
