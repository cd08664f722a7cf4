package geoip

import (
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// The fixture databases place public addresses that occur in
// examples/sample.pcapng. Their values are test data shaped like the real
// databases' records, not authoritative geolocation.

// place is one network of a fixture database.
type place struct {
	cidr      string
	code      string
	country   string
	city      string
	lat, lon  float64
	asn       uint32
	org       string
	regOnly   bool // only registered_country (as for anycast ranges)
	emptyName bool // a GeoIP2 record without names.en
}

var fixturePlaces = []place{
	{cidr: "141.142.0.0/16", code: "US", country: "United States", city: "Urbana", lat: 40.1106, lon: -88.2073, asn: 1224, org: "NCSA-AS"},
	{cidr: "192.150.186.0/23", code: "US", country: "United States", city: "Berkeley", lat: 37.8716, lon: -122.2727, asn: 237, org: "MERIT-AS-14"},
	{cidr: "131.159.0.0/16", code: "DE", country: "Germany", city: "Garching", lat: 48.2488, lon: 11.6532, asn: 12816, org: "Leibniz-Rechenzentrum"},
	{cidr: "128.3.0.0/16", code: "US", country: "United States", city: "Berkeley", lat: 37.8760, lon: -122.2470, asn: 16, org: "LBL"},
	{cidr: "63.193.213.0/24", code: "US", country: "United States", city: "San Jose", lat: 37.3394, lon: -121.8950, asn: 7132, org: "AT&T"},
	{cidr: "2001:470::/32", code: "US", country: "United States", city: "Fremont", lat: 37.5483, lon: -121.9886, asn: 6939, org: "Hurricane Electric LLC"},
	{cidr: "75.126.0.0/16", code: "US", country: "United States", city: "Dallas", lat: 32.7831, lon: -96.8067, asn: 36351, org: "SoftLayer"},
	{cidr: "1.1.1.0/24", code: "AU", country: "Australia", regOnly: true, asn: 13335, org: "Cloudflare, Inc."},
	{cidr: "212.45.144.0/24", code: "IT", emptyName: true, city: "Rome", lat: 41.89, lon: 12.51},
}

func ipnet(t testing.TB, cidr string) *net.IPNet {
	t.Helper()
	_, n, err := net.ParseCIDR(cidr)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func writeTree(t testing.TB, tree *mmdbwriter.Tree, name string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tree.WriteTo(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func newTree(t testing.TB, dbType string) *mmdbwriter.Tree {
	t.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: dbType, RecordSize: 28, Languages: []string{"en"}})
	if err != nil {
		t.Fatal(err)
	}
	return tree
}

func countryMap(p place) mmdbtype.Map {
	m := mmdbtype.Map{"iso_code": mmdbtype.String(p.code), "geoname_id": mmdbtype.Uint32(6252001)}
	if !p.emptyName {
		m["names"] = mmdbtype.Map{"en": mmdbtype.String(p.country), "de": mmdbtype.String("(de) " + p.country)}
	}
	return m
}

// buildCity writes a GeoIP2-City-layout database (the layout of
// GeoLite2-City and DBIP-City-Lite), with the extra keys real files carry.
func buildCity(t testing.TB, dbType string) string {
	tree := newTree(t, dbType)
	for _, p := range fixturePlaces {
		rec := mmdbtype.Map{
			"continent":          mmdbtype.Map{"code": mmdbtype.String("NA")},
			"registered_country": countryMap(p),
		}
		if !p.regOnly {
			rec["country"] = countryMap(p)
		}
		if p.city != "" {
			rec["city"] = mmdbtype.Map{"names": mmdbtype.Map{"en": mmdbtype.String(p.city), "ja": mmdbtype.String("市")}}
			rec["location"] = mmdbtype.Map{
				"latitude": mmdbtype.Float64(p.lat), "longitude": mmdbtype.Float64(p.lon),
				"accuracy_radius": mmdbtype.Uint16(20), "time_zone": mmdbtype.String("America/Chicago"),
			}
			rec["subdivisions"] = mmdbtype.Slice{mmdbtype.Map{"iso_code": mmdbtype.String("XX")}}
		}
		if err := tree.Insert(ipnet(t, p.cidr), rec); err != nil {
			t.Fatal(err)
		}
	}
	return writeTree(t, tree, "city.mmdb")
}

// buildCountry writes a GeoLite2-Country-layout database.
func buildCountry(t testing.TB) string {
	tree := newTree(t, "GeoLite2-Country")
	for _, p := range fixturePlaces {
		rec := mmdbtype.Map{"registered_country": countryMap(p)}
		if !p.regOnly {
			rec["country"] = countryMap(p)
		}
		if err := tree.Insert(ipnet(t, p.cidr), rec); err != nil {
			t.Fatal(err)
		}
	}
	return writeTree(t, tree, "country.mmdb")
}

// buildASN writes a GeoLite2-ASN-layout database.
func buildASN(t testing.TB) string {
	tree := newTree(t, "GeoLite2-ASN")
	for _, p := range fixturePlaces {
		if p.asn == 0 {
			continue
		}
		rec := mmdbtype.Map{
			"autonomous_system_number":       mmdbtype.Uint32(p.asn),
			"autonomous_system_organization": mmdbtype.String(p.org),
		}
		if err := tree.Insert(ipnet(t, p.cidr), rec); err != nil {
			t.Fatal(err)
		}
	}
	return writeTree(t, tree, "asn.mmdb")
}

// buildFlatCity writes an ip-location-db city file: flat keys, float32
// coordinates and a free-text database_type, as in dbip-city-mmdb.
func buildFlatCity(t testing.TB) string {
	tree := newTree(t, "city ipvAll")
	for _, p := range fixturePlaces {
		rec := mmdbtype.Map{
			"country_code": mmdbtype.String(p.code),
			"city":         mmdbtype.String(p.city),
			"latitude":     mmdbtype.Float32(p.lat),
			"longitude":    mmdbtype.Float32(p.lon),
			"postcode":     mmdbtype.String(""),
			"state1":       mmdbtype.String("State"),
		}
		if err := tree.Insert(ipnet(t, p.cidr), rec); err != nil {
			t.Fatal(err)
		}
	}
	return writeTree(t, tree, "flat-city.mmdb")
}

// buildFlatCountry writes an ip-location-db country file, as fetched by
// make geoip (database_type "country ipvAll", one key).
func buildFlatCountry(t testing.TB) string {
	tree := newTree(t, "country ipvAll")
	for _, p := range fixturePlaces {
		if err := tree.Insert(ipnet(t, p.cidr), mmdbtype.Map{"country_code": mmdbtype.String(p.code)}); err != nil {
			t.Fatal(err)
		}
	}
	return writeTree(t, tree, "flat-country.mmdb")
}
