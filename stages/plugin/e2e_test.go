package plugin

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nfpipe/nfpipe/pipeline"
	promexport "github.com/nfpipe/nfpipe/pipeline/metrics"

	_ "github.com/nfpipe/nfpipe/sinks/jsonl"
	_ "github.com/nfpipe/nfpipe/stages/capture"
	_ "github.com/nfpipe/nfpipe/stages/decode"
	_ "github.com/nfpipe/nfpipe/stages/sessionize"
)

// jsonFlow is the part of a flow's JSON the tests look at.
type jsonFlow struct {
	Kind   string `json:"kind"`
	Event  string `json:"event"`
	ID     string `json:"id"`
	Proto  string `json:"proto"`
	Client struct {
		IP   string `json:"ip"`
		Port uint16 `json:"port"`
	} `json:"client"`
	Server struct {
		IP   string `json:"ip"`
		Port uint16 `json:"port"`
	} `json:"server"`
	Tags  []string          `json:"tags"`
	Attrs map[string]string `json:"attrs"`
	// alerts
	Rule    string    `json:"rule"`
	Message string    `json:"message"`
	Flow    *jsonFlow `json:"flow"`
}

func (f *jsonFlow) key() string { return f.ID + "/" + f.Event }

func readLines(t *testing.T, path string) []jsonFlow {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	var out []jsonFlow
	sc := bufio.NewScanner(fh)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var f jsonFlow
		if err := json.Unmarshal(sc.Bytes(), &f); err != nil {
			t.Fatalf("%s: %v: %s", path, err, sc.Bytes())
		}
		out = append(out, f)
	}
	return out
}

// serviceTable reads the servicename plugin's table with a parser of its
// own, so a bug in the plugin's parser cannot hide in the expectation.
func serviceTable(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile("../../examples/plugins/servicename/services.txt")
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if line = strings.TrimSpace(strings.SplitN(line, "#", 2)[0]); line == "" {
			continue
		}
		f := strings.Fields(line)
		m[f[1]] = f[0] // "443/tcp" -> "https"
	}
	// Spot checks against the registry, independent of the file.
	for k, v := range map[string]string{"53/udp": "domain", "53/tcp": "domain", "443/tcp": "https", "8080/tcp": "http-alt", "123/udp": "ntp"} {
		if m[k] != v {
			t.Fatalf("services.txt: %s is %q, want %q", k, m[k], v)
		}
	}
	return m
}

// TestExamplePluginsOverCaptures runs capture → decode → sessionize →
// servicename → blocklist over real captures, writing the flows before
// the plugins and after them, and checks that exactly the expected flows
// carry each tag and that exactly the flows touching a listed address
// raise an alert.
func TestExamplePluginsOverCaptures(t *testing.T) {
	bin := plugins(t)
	services := serviceTable(t)
	listed := []netip.Prefix{
		netip.MustParsePrefix("fd00:77::2/128"),  // the IPv6 server of mixed-eth
		netip.MustParsePrefix("65.65.65.65/32"),  // one host of the sample
		netip.MustParsePrefix("2001:db8:1::/48"), // a range of the sample
		netip.MustParsePrefix("203.0.113.0/24"),  // in neither
	}
	for _, capture := range []string{"../../testdata/real/mixed-eth.pcap", "../../examples/sample.pcapng"} {
		t.Run(filepath.Base(capture), func(t *testing.T) {
			dir := t.TempDir()
			var list strings.Builder
			list.WriteString("# test list\n")
			for _, p := range listed {
				fmt.Fprintf(&list, "%s  # comment\n", p)
			}
			if err := os.WriteFile(filepath.Join(dir, "list.txt"), []byte(list.String()), 0o644); err != nil {
				t.Fatal(err)
			}
			abs, _ := filepath.Abs(capture)
			yml := fmt.Sprintf(`
stages:
  capture: {type: capture, file: %s, speed: max}
  decode: {type: decode, inputs: [capture]}
  sessions: {type: sessionize, inputs: [decode]}
  services: {type: plugin, inputs: [sessions], command: [%s]}
  blocklist:
    type: plugin
    inputs: [services]
    command: [%s]
    config: {lists: [list.txt]}
sinks:
  before: {type: jsonl, inputs: [sessions], path: before.jsonl}
  after: {type: jsonl, inputs: [blocklist], path: after.jsonl}
`, abs, filepath.Join(bin, "servicename"), filepath.Join(bin, "blocklist"))
			path := filepath.Join(dir, "pipeline.yaml")
			if err := os.WriteFile(path, []byte(yml), 0o644); err != nil {
				t.Fatal(err)
			}
			p, errs := pipeline.Load(path)
			if len(errs.Fatal()) > 0 {
				t.Fatal(errs)
			}
			run(t, p)

			before := readLines(t, filepath.Join(dir, "before.jsonl"))
			after := readLines(t, filepath.Join(dir, "after.jsonl"))
			got := map[string]jsonFlow{}
			alerts := map[string]jsonFlow{}
			for _, r := range after {
				switch r.Kind {
				case "flow":
					got[r.key()] = r
				case "alert":
					if r.Flow == nil {
						t.Fatalf("alert without its flow: %+v", r)
					}
					if _, dup := alerts[r.Flow.key()]; dup {
						t.Errorf("two alerts for flow %s", r.Flow.key())
					}
					alerts[r.Flow.key()] = r
				}
			}
			var nflows, ntagged, nlisted int
			for _, f := range before {
				if f.Kind != "flow" {
					continue
				}
				nflows++
				if len(f.Tags) != 0 || len(f.Attrs) != 0 {
					t.Fatalf("flow tagged before the plugins: %+v", f)
				}
				out, ok := got[f.key()]
				if !ok {
					t.Errorf("flow %s lost", f.key())
					continue
				}
				var wantTags []string
				wantAttrs := map[string]string{}
				if name, ok := services[fmt.Sprintf("%d/%s", f.Server.Port, f.Proto)]; ok {
					wantTags = append(wantTags, name)
					wantAttrs["service"] = name
					ntagged++
				}
				match := ""
				for _, ip := range []string{f.Server.IP, f.Client.IP} {
					a := netip.MustParseAddr(ip)
					for _, p := range listed {
						if p.Contains(a) && match == "" {
							match = p.String()
						}
					}
				}
				if match != "" {
					wantTags = append(wantTags, "blocklisted")
					wantAttrs["blocklist"] = match
					nlisted++
				}
				if !slices.Equal(out.Tags, wantTags) {
					t.Errorf("flow %s %s %s:%d → %s:%d: tags %v, want %v", f.key(), f.Proto, f.Client.IP, f.Client.Port, f.Server.IP, f.Server.Port, out.Tags, wantTags)
				}
				if len(out.Attrs) != len(wantAttrs) {
					t.Errorf("flow %s: attrs %v, want %v", f.key(), out.Attrs, wantAttrs)
				}
				for k, v := range wantAttrs {
					if out.Attrs[k] != v {
						t.Errorf("flow %s: attr %s=%q, want %q", f.key(), k, out.Attrs[k], v)
					}
				}
				a, alerted := alerts[f.key()]
				if alerted != (match != "") {
					t.Errorf("flow %s: alert %v, listed %q", f.key(), alerted, match)
				}
				if alerted && (a.Rule != "blocklist" || !strings.Contains(a.Message, match)) {
					t.Errorf("flow %s: alert %+v", f.key(), a)
				}
			}
			if len(got) != nflows || len(alerts) != nlisted {
				t.Errorf("%d flows before, %d after; %d listed, %d alerts", nflows, len(got), nlisted, len(alerts))
			}
			// The captures must exercise both outcomes of both plugins.
			if ntagged == 0 || ntagged == nflows || nlisted == 0 || nlisted == nflows {
				t.Errorf("weak fixture: %d flows, %d with a service name, %d listed", nflows, ntagged, nlisted)
			}
			t.Logf("%d flows: %d named, %d listed", nflows, ntagged, nlisted)
			for _, name := range []string{"services", "blocklist"} {
				c := component(t, p, name).Counters
				if c["batches_passed_through"] != 0 || c["plugin_errors"] != 0 || c["restarts"] != 0 || c["batches_processed"] == 0 {
					t.Errorf("%s: %v", name, c)
				}
			}
			// The blocklist plugin's own counters, as the status reports
			// them: one match per listed flow record, no reloads.
			c := component(t, p, "blocklist").Counters
			if c["plugin.matches"] != uint64(nlisted) || c["plugin.reloads"] != 0 || c["plugin.reload_errors"] != 0 || c["undeclared_counters"] != 0 {
				t.Errorf("blocklist counters %v, want plugin.matches %d", c, nlisted)
			}
			for _, k := range []string{"plugin.matches", "plugin.reloads", "plugin.reload_errors"} {
				if _, ok := c[k]; !ok {
					t.Errorf("no counter %s in the status: %v", k, c)
				}
			}
			if got := scrapeCounter(t, p, "blocklist", "plugin.matches"); got != float64(nlisted) {
				t.Errorf("metrics endpoint: plugin.matches %v, want %d", got, nlisted)
			}
		})
	}
}

// scrapeCounter reads a component's named counter as the Prometheus
// endpoint serves it (nfpipe_component_counter_total); -1 if absent.
func scrapeCounter(t *testing.T, p *pipeline.Pipeline, component, counter string) float64 {
	t.Helper()
	families, err := promexport.NewRegistry(p.Status).Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "nfpipe_component_counter_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["component"] == component && labels["counter"] == counter {
				return m.GetCounter().GetValue()
			}
		}
	}
	return -1
}
