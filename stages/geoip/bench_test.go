package geoip

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
	"github.com/oschwald/geoip2-golang/v2"

	"github.com/nfpipe/nfpipe/pipeline/event"
)

// benchNetworks is the number of /24 networks in the benchmark databases:
// enough for a search tree as deep as a real one's.
const benchNetworks = 1 << 14

func benchAddr(i int) netip.Addr {
	i %= benchNetworks
	return netip.AddrFrom4([4]byte{1, byte(i >> 8), byte(i), byte(i * 7)})
}

var benchDBs struct {
	once      sync.Once
	city, asn string
	err       error
}

// buildBenchDBs writes, once per test binary, a GeoIP2-City database with
// 512 distinct city records and an ASN database with 256 ASNs over
// benchNetworks networks. A benchmark function runs several times with
// growing b.N, and building the trees is slower than the benchmarks.
func buildBenchDBs(b *testing.B) (city, asn string) {
	b.Helper()
	benchDBs.once.Do(func() {
		dir, err := os.MkdirTemp("", "nfpipe-geoip-bench")
		if err != nil {
			benchDBs.err = err
			return
		}
		benchTempDir = dir
		benchDBs.city, benchDBs.asn, benchDBs.err = writeBenchDBs(dir)
	})
	if benchDBs.err != nil {
		b.Fatal(benchDBs.err)
	}
	return benchDBs.city, benchDBs.asn
}

func writeBenchDBs(dir string) (city, asn string, err error) {
	ct, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: "GeoIP2-City", RecordSize: 28})
	if err != nil {
		return "", "", err
	}
	at, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: "GeoLite2-ASN", RecordSize: 28})
	if err != nil {
		return "", "", err
	}
	for i := 0; i < benchNetworks; i++ {
		n := &net.IPNet{IP: net.IPv4(1, byte(i>>8), byte(i), 0), Mask: net.CIDRMask(24, 32)}
		k := i % 512
		rec := mmdbtype.Map{
			"country":  mmdbtype.Map{"iso_code": mmdbtype.String("US"), "names": mmdbtype.Map{"en": mmdbtype.String("United States"), "fr": mmdbtype.String("États-Unis")}},
			"city":     mmdbtype.Map{"names": mmdbtype.Map{"en": mmdbtype.String(fmt.Sprintf("City %d", k)), "de": mmdbtype.String(fmt.Sprintf("Stadt %d", k))}},
			"location": mmdbtype.Map{"latitude": mmdbtype.Float64(float64(k) / 10), "longitude": mmdbtype.Float64(-float64(k) / 10), "time_zone": mmdbtype.String("America/Chicago")},
			"postal":   mmdbtype.Map{"code": mmdbtype.String(fmt.Sprintf("%05d", k))},
		}
		if err := ct.Insert(n, rec); err != nil {
			return "", "", err
		}
		if err := at.Insert(n, mmdbtype.Map{"autonomous_system_number": mmdbtype.Uint32(64512 + i%256), "autonomous_system_organization": mmdbtype.String(fmt.Sprintf("Org %d", i%256))}); err != nil {
			return "", "", err
		}
	}
	city, asn = filepath.Join(dir, "bench-city.mmdb"), filepath.Join(dir, "bench-asn.mmdb")
	for path, tree := range map[string]*mmdbwriter.Tree{city: ct, asn: at} {
		f, err := os.Create(path)
		if err != nil {
			return "", "", err
		}
		if _, err := tree.WriteTo(f); err != nil {
			f.Close()
			return "", "", err
		}
		if err := f.Close(); err != nil {
			return "", "", err
		}
	}
	return city, asn, nil
}

// benchTempDir is removed by TestMain after every test and benchmark.
var benchTempDir string

func TestMain(m *testing.M) {
	code := m.Run()
	if benchTempDir != "" {
		os.RemoveAll(benchTempDir)
	}
	os.Exit(code)
}

func reportLookups(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lookups/s")
}

// BenchmarkGeoLookupCached measures a lookup answered by the LRU cache
// (the common case: a few thousand active addresses).
func BenchmarkGeoLookupCached(b *testing.B) {
	city, asn := buildBenchDBs(b)
	r := newResolver(mustOpen(b, city, asn), 65536)
	for i := 0; i < 4096; i++ {
		r.geo(benchAddr(i))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if r.geo(benchAddr(i%4096)) == nil {
			b.Fatal("not found")
		}
	}
	reportLookups(b)
}

// BenchmarkGeoLookupUncached measures cache misses on two databases:
// tree walks in both, then the Geo shared by every address of the same
// records.
func BenchmarkGeoLookupUncached(b *testing.B) {
	city, asn := buildBenchDBs(b)
	r := newResolver(mustOpen(b, city, asn), 1)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if r.geo(benchAddr(i)) == nil {
			b.Fatal("not found")
		}
	}
	reportLookups(b)
}

// BenchmarkGeoLookupUncachedDecode measures the worst case: a miss whose
// records were never decoded (both databases decoded, a Geo allocated).
func BenchmarkGeoLookupUncachedDecode(b *testing.B) {
	city, asn := buildBenchDBs(b)
	r := newResolver(mustOpen(b, city, asn), 1)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		clear(r.intern)
		if r.geo(benchAddr(i)) == nil {
			b.Fatal("not found")
		}
	}
	reportLookups(b)
}

// BenchmarkDecodeSmallStruct and BenchmarkDecodeGeoIP2City compare the
// stage's decode of one City record with geoip2-golang's full model; the
// difference is why the stage reads with maxminddb-golang directly.
func BenchmarkDecodeSmallStruct(b *testing.B) {
	city, _ := buildBenchDBs(b)
	d := mustOpen(b, city)[0]
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		off, err := d.find(benchAddr(i))
		if err != nil || off == notFound {
			b.Fatal(err)
		}
		var f geoFields
		if err := d.fill(off, &f); err != nil || f.city == "" {
			b.Fatal(err)
		}
	}
	reportLookups(b)
}

func BenchmarkDecodeGeoIP2City(b *testing.B) {
	city, _ := buildBenchDBs(b)
	r, err := geoip2.Open(city)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c, err := r.City(benchAddr(i))
		if err != nil || c.City.Names.English == "" {
			b.Fatal(err)
		}
	}
	reportLookups(b)
}

// BenchmarkEnrichFlows measures the stage's per-flow work with a warm
// cache: both ends of a batch of 256 flows.
func BenchmarkEnrichFlows(b *testing.B) {
	city, asn := buildBenchDBs(b)
	s := &stage{res: newResolver(mustOpen(b, city, asn), 65536)}
	flows := benchFlows(256)
	s.enrichFlows(flows)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.enrichFlows(flows)
	}
	b.ReportMetric(float64(b.N*len(flows))/b.Elapsed().Seconds(), "flows/s")
}

func benchFlows(n int) []event.FlowRec {
	fs := make([]event.FlowRec, n)
	for i := range fs {
		fs[i].Client.IP = netip.AddrFrom4([4]byte{192, 168, 1, byte(i)})
		fs[i].Server.IP = benchAddr(i * 13)
	}
	return fs
}

func TestEnrichAllocatesNothing(t *testing.T) {
	city := buildCity(t, "GeoIP2-City")
	asn := buildASN(t)
	s := &stage{res: newResolver(mustOpen(t, city, asn), 4)}
	flows := []event.FlowRec{
		{Client: event.Endpoint{IP: netip.MustParseAddr("10.1.1.1")}, Server: event.Endpoint{IP: netip.MustParseAddr("141.142.228.5")}},
		{Client: event.Endpoint{IP: netip.MustParseAddr("2001:470::1")}, Server: event.Endpoint{IP: netip.MustParseAddr("8.8.8.8")}},
	}
	s.enrichFlows(flows)
	if a := testing.AllocsPerRun(1000, func() { s.enrichFlows(flows) }); a != 0 {
		t.Errorf("cached enrichment: %v allocations per batch", a)
	}
	// Misses of addresses whose records were decoded before (the cache
	// holds 4 entries; 16 addresses of known networks cycle through it).
	i := 0
	if a := testing.AllocsPerRun(1000, func() {
		s.res.geo(netip.AddrFrom4([4]byte{141, 142, byte(i), 1}))
		i++
	}); a != 0 {
		t.Errorf("miss in a known network: %v allocations", a)
	}
	if s.res.tally.misses < 1000 {
		t.Errorf("only %d misses", s.res.tally.misses)
	}
}

// BenchmarkGeoLookupFetchedDB looks up pseudo-random public IPv4 addresses
// in the database make geoip fetches, when it is present, with a cache
// sized like the default and an address mix where most repeat.
func BenchmarkGeoLookupFetchedDB(b *testing.B) {
	path := filepath.Join("..", "..", "data", "geo-whois-asn-country.mmdb")
	if _, err := os.Stat(path); err != nil {
		b.Skip("no data/geo-whois-asn-country.mmdb; run make geoip")
	}
	r := newResolver(mustOpen(b, path), 65536)
	addrs := make([]netip.Addr, 1<<17)
	x := uint32(2463534242)
	for i := range addrs {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		addrs[i] = netip.AddrFrom4([4]byte{byte(x>>24) | 1, byte(x >> 16), byte(x >> 8), byte(x)})
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// Four in five lookups come from a hot set of 4096 addresses.
		j := i
		if i%5 != 0 {
			j = i % 4096
		}
		r.geo(addrs[j%len(addrs)])
	}
	reportLookups(b)
	b.ReportMetric(float64(r.tally.hits)*100/float64(r.tally.hits+r.tally.misses), "hit%")
}
