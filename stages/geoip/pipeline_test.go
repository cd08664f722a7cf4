package geoip

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/nfpipe/nfpipe/pipeline"
	"github.com/nfpipe/nfpipe/pipeline/config"
	"github.com/nfpipe/nfpipe/pipeline/pipetest"
	_ "github.com/nfpipe/nfpipe/sinks/jsonl"
	_ "github.com/nfpipe/nfpipe/stages/capture"
	_ "github.com/nfpipe/nfpipe/stages/decode"
	_ "github.com/nfpipe/nfpipe/stages/ipstats"
	_ "github.com/nfpipe/nfpipe/stages/sessionize"
)

// repoFile returns the path of a file relative to the repository root.
func repoFile(t testing.TB, rel string) string {
	_, here, _, _ := runtime.Caller(0)
	p := filepath.Join(filepath.Dir(here), "..", "..", rel)
	if _, err := os.Stat(p); err != nil {
		t.Fatal(err)
	}
	return p
}

// jsonGeo is the geo object of a JSON line.
type jsonGeo struct {
	Label       string  `json:"label"`
	CountryCode string  `json:"country_code"`
	Country     string  `json:"country"`
	City        string  `json:"city"`
	Lat         float64 `json:"lat"`
	Lon         float64 `json:"lon"`
	ASN         uint32  `json:"asn"`
	ASOrg       string  `json:"as_org"`
}

type jsonEnd struct {
	IP   string   `json:"ip"`
	Port int      `json:"port"`
	Geo  *jsonGeo `json:"geo"`
}

type jsonLine struct {
	Kind   string   `json:"kind"`
	Proto  string   `json:"proto"`
	Client jsonEnd  `json:"client"`
	Server jsonEnd  `json:"server"`
	IP     string   `json:"ip"`
	Geo    *jsonGeo `json:"geo"`
}

// runSample runs the sample capture through the packet path and a geoip
// stage with the given extra YAML, and returns the JSON lines and the
// geoip stage's status.
func runSample(t *testing.T, geoYAML string) ([]jsonLine, pipeline.ComponentStatus) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "out.jsonl")
	yml := `
stages:
  capture: {type: capture, file: ` + repoFile(t, "examples/sample.pcapng") + `, speed: max, progress: never}
  decode: {type: decode, inputs: [capture]}
  sessions: {type: sessionize, inputs: [decode]}
  stats: {type: ipstats, inputs: [decode], interval: 1h}
  geo:
    type: geoip
    inputs: [sessions, stats]
` + geoYAML + `
sinks:
  out: {type: jsonl, inputs: [geo], path: ` + out + `}
`
	cfg, errs := config.Parse(filepath.Join(t.TempDir(), "geo.yaml"), []byte(yml), func(string) (string, bool) { return "", false })
	if len(errs.Fatal()) > 0 {
		t.Fatal(errs)
	}
	p, errs := pipeline.FromConfig(cfg, pipeline.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if len(errs.Fatal()) > 0 {
		t.Fatal(errs)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := p.Run(ctx); err != nil {
		t.Fatal(err)
	}
	st, _ := p.Status().Component("geo")
	lines := pipetest.ReadJSONLines[jsonLine](t, out)
	return lines, st
}

func findFlow(t *testing.T, lines []jsonLine, client, server string) jsonLine {
	t.Helper()
	for _, l := range lines {
		if l.Kind == "flow" && l.Client.IP == client && l.Server.IP == server {
			return l
		}
	}
	t.Fatalf("no flow %s -> %s in the output", client, server)
	return jsonLine{}
}

func geoOf(g *jsonGeo) jsonGeo {
	if g == nil {
		return jsonGeo{}
	}
	return *g
}

// TestSampleCaptureBothEnds runs the real sample capture through geoip
// with each kind of database and checks both ends of known flows.
func TestSampleCaptureBothEnds(t *testing.T) {
	urbana := jsonGeo{CountryCode: "US", Country: "United States", City: "Urbana", Lat: 40.1106, Lon: -88.2073}
	berkeley := jsonGeo{CountryCode: "US", Country: "United States", City: "Berkeley", Lat: 37.8716, Lon: -122.2727}
	garching := jsonGeo{CountryCode: "DE", Country: "Germany", City: "Garching", Lat: 48.2488, Lon: 11.6532}
	fremont := jsonGeo{CountryCode: "US", Country: "United States", City: "Fremont", Lat: 37.5483, Lon: -121.9886}
	dallas := jsonGeo{CountryCode: "US", Country: "United States", City: "Dallas", Lat: 32.7831, Lon: -96.8067}
	withASN := func(g jsonGeo, asn uint32, org string) jsonGeo { g.ASN, g.ASOrg = asn, org; return g }
	countryOnly := func(g jsonGeo) jsonGeo { return jsonGeo{CountryCode: g.CountryCode, Country: g.Country} }
	f32 := func(g jsonGeo) jsonGeo { g.Lat, g.Lon = float64(float32(g.Lat)), float64(float32(g.Lon)); return g }
	private := jsonGeo{Label: "private"}

	type pair struct{ client, server string }
	flows := []pair{
		{"141.142.228.5", "192.150.187.43"},
		{"192.150.186.169", "131.159.14.23"},
		{"2001:470:1f11:81f:c999:d94:aa7c:2e3e", "2001:470:4867:99::21"},
		{"192.168.2.16", "75.126.203.78"},
	}
	cases := []struct {
		name string
		dbs  []string
		want map[pair][2]jsonGeo
	}{
		{"GeoIP2 City + ASN", []string{buildCity(t, "GeoIP2-City"), buildASN(t)}, map[pair][2]jsonGeo{
			flows[0]: {withASN(urbana, 1224, "NCSA-AS"), withASN(berkeley, 237, "MERIT-AS-14")},
			flows[1]: {withASN(berkeley, 237, "MERIT-AS-14"), withASN(garching, 12816, "Leibniz-Rechenzentrum")},
			flows[2]: {withASN(fremont, 6939, "Hurricane Electric LLC"), withASN(fremont, 6939, "Hurricane Electric LLC")},
			flows[3]: {private, withASN(dallas, 36351, "SoftLayer")},
		}},
		{"GeoLite2 Country", []string{buildCountry(t)}, map[pair][2]jsonGeo{
			flows[0]: {countryOnly(urbana), countryOnly(berkeley)},
			flows[1]: {countryOnly(berkeley), countryOnly(garching)},
			flows[2]: {countryOnly(fremont), countryOnly(fremont)},
			flows[3]: {private, countryOnly(dallas)},
		}},
		{"flat city (ip-location-db)", []string{buildFlatCity(t)}, map[pair][2]jsonGeo{
			flows[0]: {f32(urbana), f32(berkeley)},
			flows[1]: {f32(berkeley), f32(garching)},
			flows[2]: {f32(fremont), f32(fremont)},
			flows[3]: {private, f32(dallas)},
		}},
		{"flat country + ASN", []string{buildFlatCountry(t), buildASN(t)}, map[pair][2]jsonGeo{
			flows[0]: {withASN(countryOnly(urbana), 1224, "NCSA-AS"), withASN(countryOnly(berkeley), 237, "MERIT-AS-14")},
			flows[3]: {private, withASN(countryOnly(dallas), 36351, "SoftLayer")},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			lines, st := runSample(t, "    databases: ["+strings.Join(tc.dbs, ", ")+"]\n    reload_interval: 0s")
			for p, want := range tc.want {
				l := findFlow(t, lines, p.client, p.server)
				if got := geoOf(l.Client.Geo); got != want[0] {
					t.Errorf("%s client %s: %+v, want %+v", tc.name, p.client, got, want[0])
				}
				if got := geoOf(l.Server.Geo); got != want[1] {
					t.Errorf("%s server %s: %+v, want %+v", tc.name, p.server, got, want[1])
				}
			}
			var nflows, nstats int
			for _, l := range lines {
				switch l.Kind {
				case "flow":
					nflows++
				case "ipstat":
					nstats++
					if l.IP == "141.142.228.5" && geoOf(l.Geo).CountryCode != "US" {
						t.Errorf("ipstat %s: geo %+v", l.IP, l.Geo)
					}
					if l.IP == "127.0.0.1" && geoOf(l.Geo).Label != "loopback" {
						t.Errorf("ipstat %s: geo %+v", l.IP, l.Geo)
					}
				}
			}
			c := st.Counters
			if c["lookups"] != uint64(2*nflows+nstats) {
				t.Errorf("lookups %d, want %d (2 x %d flows + %d ipstats)", c["lookups"], 2*nflows+nstats, nflows, nstats)
			}
			if c["lookups"] != c["labelled_private"]+c["cache_hits"]+c["cache_misses"] {
				t.Errorf("counters do not add up: %v", c)
			}
			if c["labelled_private"] == 0 || c["cache_hits"] == 0 || c["not_found"] == 0 {
				t.Errorf("counters: %v", c)
			}
			rate := st.Gauges["cache_hit_permille"]
			if want := int64(c["cache_hits"] * 1000 / (c["cache_hits"] + c["cache_misses"])); rate != want {
				t.Errorf("cache_hit_permille %d, want %d", rate, want)
			}
			t.Logf("%s: %d flows, %d ipstats; lookups %d, labelled %d, cache hits %d, misses %d (hit rate %.1f%%), not found %d",
				tc.name, nflows, nstats, c["lookups"], c["labelled_private"], c["cache_hits"], c["cache_misses"], float64(rate)/10, c["not_found"])
		})
	}
}
