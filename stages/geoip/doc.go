// Package geoip is the geoip stage: it adds geolocation (country, city,
// coordinates, AS number and organisation) to both ends of every flow and
// to every ipstat record, from MaxMind-format .mmdb databases.
//
// It reads GeoLite2/GeoIP2 City, Country and ASN files (nested records),
// DB-IP Lite files, and the flat-schema files of ip-location-db
// (country_code, city, latitude, ...), several at once; the layout of each
// file is detected from its metadata and, when that is not conclusive, from
// its records. Private, loopback, link-local, CGNAT, multicast and ULA
// addresses are labelled without a lookup.
//
// Results are *event.Geo values that are shared between records, the cache
// and downstream consumers: once published a Geo is immutable. The stage
// never modifies an input batch; it copies records into new batches.
package geoip
