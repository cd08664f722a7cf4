package geoip

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nfpipe/nfpipe/pipeline/event"
)

func TestDetectLayoutAndKind(t *testing.T) {
	cases := []struct {
		name   string
		build  func(testing.TB) string
		layout layout
		kind   string
	}{
		{"GeoIP2-City", func(t testing.TB) string { return buildCity(t, "GeoIP2-City") }, layoutNested, "city"},
		{"DBIP-City-Lite", func(t testing.TB) string { return buildCity(t, "DBIP-City-Lite") }, layoutNested, "city"},
		{"GeoLite2-Country", buildCountry, layoutNested, "country"},
		{"GeoLite2-ASN", buildASN, layoutNested, "asn"},
		{"flat city", buildFlatCity, layoutFlat, "city"},
		{"flat country", buildFlatCountry, layoutFlat, "country"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			db, err := openDatabase(tc.build(t))
			if err != nil {
				t.Fatal(err)
			}
			defer db.close()
			if db.layout != tc.layout || db.kind != tc.kind {
				t.Errorf("layout %s kind %s, want %s %s", db.layout, db.kind, tc.layout, tc.kind)
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.mmdb")
	if err := os.WriteFile(junk, []byte("this is not a database"), 0o644); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.mmdb")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{filepath.Join(dir, "missing.mmdb"), junk, empty} {
		_, err := openDatabase(path)
		if err == nil {
			t.Fatalf("%s: opened", path)
		}
		msg := openError(path, err).Error()
		if !strings.Contains(msg, path) || !strings.Contains(msg, "optional: true") {
			t.Errorf("%s: message lacks the path or the fix: %s", path, msg)
		}
	}
	_, err := openDatabase(filepath.Join(dir, "missing.mmdb"))
	if msg := openError("x.mmdb", err).Error(); !strings.Contains(msg, "not found") || !strings.Contains(msg, "make geoip") {
		t.Errorf("missing file message: %s", msg)
	}
}

func mustOpen(t testing.TB, paths ...string) []*database {
	t.Helper()
	var dbs []*database
	for _, p := range paths {
		db, err := openDatabase(p)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(db.close)
		dbs = append(dbs, db)
	}
	return dbs
}

func TestResolveFields(t *testing.T) {
	city := buildCity(t, "GeoIP2-City")
	country := buildCountry(t)
	asn := buildASN(t)
	flatCity := buildFlatCity(t)
	flatCountry := buildFlatCountry(t)
	urbana := &event.Geo{CountryCode: "US", Country: "United States", City: "Urbana", Lat: 40.1106, Lon: -88.2073}
	cases := []struct {
		name string
		dbs  []string
		ip   string
		want *event.Geo
	}{
		{"city", []string{city}, "141.142.228.5", urbana},
		{"city+asn", []string{city, asn}, "141.142.228.5",
			&event.Geo{CountryCode: "US", Country: "United States", City: "Urbana", Lat: 40.1106, Lon: -88.2073, ASN: 1224, ASOrg: "NCSA-AS"}},
		{"asn+city order does not matter for disjoint fields", []string{asn, city}, "2001:470:4867:99::21",
			&event.Geo{CountryCode: "US", Country: "United States", City: "Fremont", Lat: 37.5483, Lon: -121.9886, ASN: 6939, ASOrg: "Hurricane Electric LLC"}},
		{"country", []string{country}, "131.159.14.23", &event.Geo{CountryCode: "DE", Country: "Germany"}},
		{"asn only", []string{asn}, "131.159.14.23", &event.Geo{ASN: 12816, ASOrg: "Leibniz-Rechenzentrum"}},
		{"registered country only", []string{city}, "1.1.1.1", &event.Geo{CountryCode: "AU", Country: "Australia"}},
		{"name from the table when names.en is missing", []string{city}, "212.45.144.88",
			&event.Geo{CountryCode: "IT", Country: "Italy", City: "Rome", Lat: 41.89, Lon: 12.51}},
		{"flat city, float32 coordinates", []string{flatCity}, "192.150.187.43",
			&event.Geo{CountryCode: "US", Country: "United States", City: "Berkeley", Lat: float64(float32(37.8716)), Lon: float64(float32(-122.2727))}},
		{"flat country", []string{flatCountry}, "131.159.14.23", &event.Geo{CountryCode: "DE", Country: "Germany"}},
		{"flat country + asn", []string{flatCountry, asn}, "63.193.213.194",
			&event.Geo{CountryCode: "US", Country: "United States", ASN: 7132, ASOrg: "AT&T"}},
		{"IPv4-mapped IPv6 is looked up as IPv4", []string{city}, "::ffff:141.142.1.2", urbana},
		{"first database wins per field", []string{flatCountry, city}, "141.142.1.1",
			&event.Geo{CountryCode: "US", Country: "United States", City: "Urbana", Lat: 40.1106, Lon: -88.2073}},
		{"not in any database", []string{city, asn}, "8.8.8.8", nil},
		{"private", []string{city}, "192.168.2.16", geoPrivate},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newResolver(mustOpen(t, tc.dbs...), 16)
			got := r.geo(netip.MustParseAddr(tc.ip))
			if (got == nil) != (tc.want == nil) || (got != nil && *got != *tc.want) {
				t.Errorf("%s: got %+v, want %+v", tc.ip, got, tc.want)
			}
		})
	}
}

func TestSpecialRanges(t *testing.T) {
	cases := map[string]string{
		"10.1.2.3":                  "private",
		"172.16.133.2":              "private",
		"172.31.255.255":            "private",
		"192.168.43.118":            "private",
		"127.0.0.1":                 "loopback",
		"::1":                       "loopback",
		"169.254.10.1":              "link-local",
		"fe80::c000:54ff:fef5:0":    "link-local",
		"100.64.0.1":                "cgnat",
		"100.127.255.254":           "cgnat",
		"224.0.0.251":               "multicast",
		"239.255.255.250":           "multicast",
		"ff02::1:ff00:1":            "multicast",
		"ff02::16":                  "multicast",
		"fd00:77::1":                "ula",
		"fc00::1":                   "ula",
		"0.0.0.0":                   "unspecified",
		"::":                        "unspecified",
		"255.255.255.255":           "broadcast",
		"::ffff:192.168.1.1":        "private",
		"8.8.8.8":                   "",
		"172.32.0.1":                "",
		"100.128.0.1":               "",
		"2001:4860:4860::8888":      "",
		"2001:470:1f11:81f:c999::1": "",
	}
	for ip, want := range cases {
		g := specialGeo(netip.MustParseAddr(ip).Unmap())
		got := ""
		if g != nil {
			got = g.Label
		}
		if got != want {
			t.Errorf("%s: label %q, want %q", ip, got, want)
		}
	}
}

func TestCacheAndCounters(t *testing.T) {
	r := newResolver(mustOpen(t, buildCity(t, "GeoIP2-City"), buildASN(t)), 2)
	a, b, c := netip.MustParseAddr("141.142.1.1"), netip.MustParseAddr("131.159.14.23"), netip.MustParseAddr("9.9.9.9")
	ga := r.geo(a)
	if r.geo(a) != ga {
		t.Fatal("a cache hit returned a different value")
	}
	if r.geo(netip.MustParseAddr("141.142.200.200")) != ga {
		t.Error("two addresses of one network do not share their Geo")
	}
	r.geo(b) // evicts a (capacity 2: 141.142.200.200 and b remain)
	r.geo(c)
	r.geo(c)
	r.geo(netip.MustParseAddr("10.0.0.1"))
	want := tally{lookups: 7, hits: 2, misses: 4, labelled: 1, notFound: 1}
	if r.tally != want {
		t.Errorf("tally %+v, want %+v", r.tally, want)
	}
	if _, ok := r.cache.get(a); ok {
		t.Error("least recently used entry not evicted")
	}
	if g, ok := r.cache.get(c); !ok || g != nil {
		t.Error("a miss is not cached as nil")
	}
}

func TestCountryTable(t *testing.T) {
	if len(countryNames) < 249 {
		t.Errorf("%d country names; ISO 3166-1 has 249", len(countryNames))
	}
	for code, name := range countryNames {
		if len(code) != 2 || code[0] < 'A' || code[0] > 'Z' || code[1] < 'A' || code[1] > 'Z' || name == "" {
			t.Errorf("bad entry %q: %q", code, name)
		}
	}
	for code, want := range map[string]string{"US": "United States", "DE": "Germany", "GB": "United Kingdom", "JP": "Japan", "BR": "Brazil"} {
		if countryNames[code] != want {
			t.Errorf("%s: %q", code, countryNames[code])
		}
	}
}
