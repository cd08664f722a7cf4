package dashboard

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nfpipe/nfpipe/pipeline"
	"github.com/nfpipe/nfpipe/pipeline/config"
	"github.com/nfpipe/nfpipe/pipeline/event"
	"github.com/nfpipe/nfpipe/pipeline/spec"

	// The real packet path: the dashboard is tested on flows made from
	// real captures, not on hand-written records.
	_ "github.com/nfpipe/nfpipe/stages/capture"
	_ "github.com/nfpipe/nfpipe/stages/decode"
	_ "github.com/nfpipe/nfpipe/stages/ipstats"
	_ "github.com/nfpipe/nfpipe/stages/sessionize"
)

// testGeo stands in for the geoip stage: it locates public addresses from
// a fixed table (chosen by a hash of the address) and labels private ones,
// so the map and the country filters can be tested without a database.
type testGeo struct{}

type noConfig struct{}

// geoTable is a spread of real places, so a map drawn from it has dots on
// several continents.
var geoTable = []event.Geo{
	{CountryCode: "US", Country: "United States", City: "Ashburn", Lat: 39.04, Lon: -77.49, ASN: 14618, ASOrg: "AMAZON-AES"},
	{CountryCode: "DE", Country: "Germany", City: "Frankfurt", Lat: 50.11, Lon: 8.68, ASN: 3320, ASOrg: "Deutsche Telekom"},
	{CountryCode: "JP", Country: "Japan", City: "Tokyo", Lat: 35.69, Lon: 139.69, ASN: 2497, ASOrg: "IIJ"},
	{CountryCode: "BR", Country: "Brazil", City: "São Paulo", Lat: -23.55, Lon: -46.63, ASN: 28573, ASOrg: "Claro"},
	{CountryCode: "AU", Country: "Australia", City: "Sydney", Lat: -33.87, Lon: 151.21, ASN: 1221, ASOrg: "Telstra"},
	{CountryCode: "ZA", Country: "South Africa", City: "Johannesburg", Lat: -26.2, Lon: 28.05, ASN: 3741, ASOrg: "IS"},
	{CountryCode: "IN", Country: "India", City: "Mumbai", Lat: 19.08, Lon: 72.88, ASN: 9498, ASOrg: "Bharti"},
	{CountryCode: "FR", Country: "France", City: "Paris", Lat: 48.86, Lon: 2.35, ASN: 3215, ASOrg: "Orange"},
	{CountryCode: "CA", Country: "Canada", City: "Toronto", Lat: 43.65, Lon: -79.38, ASN: 577, ASOrg: "Bell Canada"},
	{CountryCode: "SE", Country: "Sweden", City: "Stockholm", Lat: 59.33, Lon: 18.07, ASN: 3301, ASOrg: "Telia"},
}

var privateGeo = event.Geo{Label: "private"}

func locate(a netip.Addr) *event.Geo {
	a = a.Unmap()
	if !a.IsValid() {
		return nil
	}
	if a.IsPrivate() || a.IsLoopback() || a.IsLinkLocalUnicast() || a.IsMulticast() {
		return &privateGeo
	}
	h := fnv.New32a()
	b := a.As16()
	h.Write(b[:])
	return &geoTable[h.Sum32()%uint32(len(geoTable))]
}

func (testGeo) Run(ctx context.Context, env *pipeline.Env) error {
	for b := range env.Batches() {
		switch b.Kind {
		case event.Flow:
			out := env.NewBatch(event.Flow)
			out.Flows = append(out.Flows, b.Flows...)
			for i := range out.Flows {
				out.Flows[i].Client.Geo = locate(out.Flows[i].Client.IP)
				out.Flows[i].Server.Geo = locate(out.Flows[i].Server.IP)
			}
			env.Emit(out)
		case event.IPStat:
			out := env.NewBatch(event.IPStat)
			out.IPStats = append(out.IPStats, b.IPStats...)
			for i := range out.IPStats {
				out.IPStats[i].Geo = locate(out.IPStats[i].IP)
			}
			env.Emit(out)
		}
	}
	return nil
}

// testAlerts stands in for the filter stage: it raises a warning for
// every flow that ends after moving more than 10 KiB, so alerts reach the
// dashboard as they would from a rule.
type testAlerts struct{}

func (testAlerts) Run(ctx context.Context, env *pipeline.Env) error {
	var n uint64
	for b := range env.Batches() {
		out := env.NewBatch(event.Alert)
		for i := range b.Flows {
			f := &b.Flows[i]
			if f.Event != event.FlowEnd || f.Bytes() < 10<<10 {
				continue
			}
			n++
			fc := *f
			out.Alerts = append(out.Alerts, event.AlertRec{
				ID: fmt.Sprintf("a%d", n), Rule: "big_transfer", Severity: "warning", Time: f.LastSeen, State: event.AlertFiring,
				Subject: f.Client.IP.String() + " -> " + f.Server.IP.String(),
				Message: fmt.Sprintf("flow moved %d bytes", f.Bytes()), DedupKey: "big_transfer/" + event.FlowID(f.ID), Flow: &fc,
			})
		}
		env.Emit(out)
	}
	return nil
}

func init() {
	pipeline.Register(&spec.Component{
		Name: "test_alerts", Role: spec.RoleStage, Summary: "test: an alert for every large flow",
		Accepts: event.KindsOf(event.Flow), Emits: event.KindsOf(event.Alert),
	}, func(*noConfig, *pipeline.BuildContext) (pipeline.Component, error) { return testAlerts{}, nil })
	pipeline.Register(&spec.Component{
		Name: "test_geo", Role: spec.RoleStage, Summary: "test: geolocation from a fixed table",
		Accepts: event.KindsOf(event.Flow, event.IPStat), Passthrough: true,
	}, func(*noConfig, *pipeline.BuildContext) (pipeline.Component, error) { return testGeo{}, nil })
}

// corpus returns the path of a capture of the test corpus.
func corpus(t testing.TB, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "..", "testdata", "corpus", "valid", name))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("corpus capture missing: %v", err)
	}
	return p
}

// replayCaptures are corpus captures with public and private addresses,
// TCP, UDP and ICMP, over IPv4 and IPv6.
var replayCaptures = []string{
	"zeek_tcp_reassembly.pcap",
	"zeek_tls_tls-conn-with-extensions.pcap",
	"zeek_ssh_single-conn.pcap",
	"zeek_ftp_ipv6.pcap",
	"zeek_http_get.pcap",
	"zeek_quic_quicv2-http3-443.pcap",
	"zeek_icmp_5-pings.pcap",
	"zeek_ntp_ntp.pcap",
	"zeek_mixed-vlan-mpls.pcap",
}

// pipelineYAML is a real pipeline replaying the corpus captures in a
// loop (speed is capture's speed: max, realtime or Nx), through decode,
// sessionize with live updates, ipstats and the test geo stage, into a
// dashboard on a free loopback port.
func pipelineYAML(t testing.TB, speed string, extra string) string {
	var files []string
	for _, c := range replayCaptures {
		files = append(files, corpus(t, c))
	}
	return pipelineOf(files, speed, "250ms", extra)
}

// samplePath is the sample capture the default pipeline replays: real
// traces laid out over two minutes of one packet clock.
func samplePath(t testing.TB) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "..", "examples", "sample.pcapng"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("sample capture missing: %v", err)
	}
	return p
}

// pipelineOf replays the given captures, one capture stage each, into a
// dashboard pushing every push interval.
func pipelineOf(files []string, speed, push, extra string) string {
	return pipelineWith(files, speed, push, extra, false)
}

// pipelineWith is pipelineOf, with a stage raising alerts when alerts is
// set.
func pipelineWith(files []string, speed, push, extra string, alerts bool) string {
	var b strings.Builder
	b.WriteString("stages:\n")
	var names []string
	for i, f := range files {
		name := fmt.Sprintf("cap%d", i)
		names = append(names, name)
		fmt.Fprintf(&b, "  %s:\n    type: capture\n    file: %q\n    speed: %s\n    loop: true\n    progress: never\n", name, f, speed)
	}
	alertStage, dashInputs := "", "geo"
	if alerts {
		alertStage, dashInputs = "  alerts:\n    type: test_alerts\n    inputs: [geo]", "geo, alerts"
	}
	fmt.Fprintf(&b, `  decode:
    type: decode
    inputs: [%s]
  sessions:
    type: sessionize
    inputs: [decode]
    idle_timeout: 30s
    update_interval: 1s
  stats:
    type: ipstats
    inputs: [decode]
    interval: 5s
  geo:
    type: test_geo
    inputs: [sessions, stats]
%s
sinks:
  dashboard:
    type: dashboard
    inputs: [%s]
    listen: 127.0.0.1:0
    push_interval: %s
%s`, strings.Join(names, ", "), alertStage, dashInputs, push, extra)
	return b.String()
}

// running is a pipeline under test with its dashboard.
type running struct {
	p    *pipeline.Pipeline
	d    *Dashboard
	base string
	done chan error
}

// startPipeline builds and runs a pipeline from YAML; the pipeline is
// stopped when the test ends.
func startPipeline(t testing.TB, yml string) *running {
	t.Helper()
	cfg, errs := config.Parse("test.yaml", []byte(yml), func(string) (string, bool) { return "", false })
	if len(errs) > 0 {
		t.Fatalf("parse: %v", errs)
	}
	p, errs := pipeline.FromConfig(cfg)
	if len(errs.Fatal()) > 0 {
		t.Fatalf("build: %v", errs)
	}
	comp, ok := p.Component("dashboard")
	if !ok {
		t.Fatal("no dashboard component")
	}
	r := &running{p: p, d: comp.(*Dashboard), done: make(chan error, 1)}
	go func() { r.done <- p.Run(context.Background()) }()
	select {
	case <-r.d.Ready():
	case err := <-r.done:
		t.Fatalf("pipeline ended before the dashboard started: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("dashboard did not start")
	}
	r.base = "http://" + r.d.Addr().String()
	t.Cleanup(func() {
		p.Stop()
		select {
		case err := <-r.done:
			if err != nil {
				t.Errorf("pipeline: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("pipeline did not stop")
			p.Kill()
		}
	})
	return r
}

// getJSON fetches a URL and decodes the JSON body into v, returning the
// status code.
func getJSON(t testing.TB, url string, v any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("GET %s: content type %q, body %s", url, ct, body)
	}
	if v != nil {
		if err := json.Unmarshal(body, v); err != nil {
			t.Fatalf("GET %s: %v in %s", url, err, body)
		}
	}
	return resp.StatusCode
}

// post sends an empty POST and returns the status code.
func post(t testing.TB, url string, hdr map[string]string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// eventually polls cond until it holds; the deadline is generous because
// the machine may be slow, and the test fails only if it never holds.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
