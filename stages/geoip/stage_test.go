package geoip

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/maxmind/mmdbwriter/mmdbtype"

	"github.com/nfpipe/nfpipe/pipeline"
	"github.com/nfpipe/nfpipe/pipeline/config"
	"github.com/nfpipe/nfpipe/pipeline/event"
	"github.com/nfpipe/nfpipe/pipeline/spec"
)

// feedSource emits the batches it is handed on its channel, then ends
// when the channel is closed.
type feedSource struct{ feed chan *event.Batch }

func (s *feedSource) Run(ctx context.Context, env *pipeline.Env) error {
	for {
		select {
		case in, ok := <-s.feed:
			if !ok {
				return nil
			}
			b := env.NewBatch(in.Kind)
			b.Flows = append(b.Flows, in.Flows...)
			b.IPStats = append(b.IPStats, in.IPStats...)
			b.Alerts = append(b.Alerts, in.Alerts...)
			env.Emit(b)
		case <-ctx.Done():
			return nil
		}
	}
}

// collector records copies of what it receives and signals each batch.
type collector struct {
	mu      sync.Mutex
	flows   []event.FlowRec
	ipstats []event.IPStatRec
	alerts  []event.AlertRec
	got     chan struct{}
}

func (c *collector) Run(ctx context.Context, env *pipeline.Env) error {
	for b := range env.Batches() {
		c.mu.Lock()
		c.flows = append(c.flows, b.Flows...)
		c.ipstats = append(c.ipstats, b.IPStats...)
		c.alerts = append(c.alerts, b.Alerts...)
		c.mu.Unlock()
		select {
		case c.got <- struct{}{}:
		default:
		}
	}
	return nil
}

type noConfig struct{}

func testRegistry(src *feedSource, sinks map[string]*collector) *pipeline.Registry {
	r := pipeline.NewRegistry()
	pipeline.RegisterIn(r, componentSpec, newStage)
	pipeline.RegisterIn(r, &spec.Component{Name: "feed", Role: spec.RoleStage, Summary: "test source", Source: true,
		Emits: event.KindsOf(event.Flow, event.IPStat, event.Alert)},
		func(*noConfig, *pipeline.BuildContext) (pipeline.Component, error) { return src, nil })
	for name, c := range sinks {
		pipeline.RegisterIn(r, &spec.Component{Name: name, Role: spec.RoleSink, Summary: "test sink",
			Accepts: event.KindsOf(event.Flow, event.IPStat, event.Alert)},
			func(*noConfig, *pipeline.BuildContext) (pipeline.Component, error) { return c, nil })
	}
	return r
}

func build(t *testing.T, yml string, r *pipeline.Registry, log io.Writer) (*pipeline.Pipeline, spec.Errors) {
	t.Helper()
	cfg, errs := config.Parse(filepath.Join(t.TempDir(), "p.yaml"), []byte(yml), func(string) (string, bool) { return "", false })
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if log == nil {
		log = io.Discard
	}
	return pipeline.FromConfig(cfg, pipeline.WithRegistry(r), pipeline.WithLogger(slog.New(slog.NewTextHandler(log, nil))))
}

func flowBatch(client, server string) *event.Batch {
	b := event.NewBatch(event.Flow)
	b.Flows = append(b.Flows, event.FlowRec{ID: 1, Proto: 6,
		Client: event.Endpoint{IP: netip.MustParseAddr(client), Port: 40000},
		Server: event.Endpoint{IP: netip.MustParseAddr(server), Port: 443}})
	return b
}

func TestMissingDatabaseFailsWithPathAndFix(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "GeoLite2-City.mmdb")
	_, errs := build(t, `
stages:
  src: {type: feed}
  geo: {type: geoip, inputs: [src], database: `+missing+`}
sinks:
  out: {type: a, inputs: [geo]}
`, testRegistry(&feedSource{}, map[string]*collector{"a": {}}), nil)
	if len(errs) != 1 {
		t.Fatalf("want one error, got %v", errs)
	}
	e := errs[0]
	if e.Path != "stages.geo" || e.Line != 4 || !strings.Contains(e.Msg, missing) || !strings.Contains(e.Msg, "make geoip") || !strings.Contains(e.Msg, "optional: true") {
		t.Errorf("error %q at %s %d:%d lacks the path, position or fix", e.Msg, e.Path, e.Line, e.Col)
	}
}

func TestNoDatabaseIsASchemaError(t *testing.T) {
	_, errs := build(t, `
stages:
  src: {type: feed}
  geo: {type: geoip, inputs: [src]}
sinks:
  out: {type: a, inputs: [geo]}
`, testRegistry(&feedSource{}, map[string]*collector{"a": {}}), nil)
	if len(errs) != 1 || !strings.Contains(errs[0].Msg, "no database given") {
		t.Fatalf("got %v", errs)
	}
}

// TestOptionalMissingPassesThrough checks the warning, that records pass
// through (special ranges still labelled), that input batches shared with
// another consumer are left untouched, and that alerts pass unchanged.
func TestOptionalMissingPassesThrough(t *testing.T) {
	src := &feedSource{feed: make(chan *event.Batch, 4)}
	geoOut, raw := &collector{got: make(chan struct{}, 1)}, &collector{got: make(chan struct{}, 1)}
	var log bytes.Buffer
	missing := filepath.Join(t.TempDir(), "none.mmdb")
	p, errs := build(t, `
stages:
  src: {type: feed}
  geo: {type: geoip, inputs: [src], databases: [`+missing+`], optional: true}
sinks:
  enriched: {type: a, inputs: [geo]}
  raw: {type: b, inputs: [src]}
`, testRegistry(src, map[string]*collector{"a": geoOut, "b": raw}), &log)
	if len(errs.Fatal()) > 0 {
		t.Fatal(errs)
	}
	if !strings.Contains(log.String(), "WARN") || !strings.Contains(log.String(), missing) {
		t.Errorf("no warning naming the file: %s", log.String())
	}
	src.feed <- flowBatch("10.0.0.1", "8.8.8.8")
	ab := event.NewBatch(event.Alert)
	ab.Alerts = append(ab.Alerts, event.AlertRec{ID: "a1", Rule: "r", State: event.AlertFiring})
	src.feed <- ab
	close(src.feed)
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(geoOut.flows) != 1 || len(geoOut.alerts) != 1 || geoOut.alerts[0].ID != "a1" {
		t.Fatalf("enriched output: %+v", geoOut)
	}
	f := geoOut.flows[0]
	if f.Client.Geo != geoPrivate || f.Server.Geo != nil {
		t.Errorf("client geo %+v, server geo %+v", f.Client.Geo, f.Server.Geo)
	}
	for _, f := range raw.flows {
		if f.Client.Geo != nil || f.Server.Geo != nil {
			t.Error("the stage modified a batch shared with another consumer")
		}
	}
	st, _ := p.Status().Component("geo")
	if st.Gauges["databases_loaded"] != 0 {
		t.Errorf("gauges %v", st.Gauges)
	}
}

// writeCountryDB writes a one-network GeoIP2-Country database through a
// temporary file and a rename, the safe way to replace a mapped file.
func writeCountryDB(t *testing.T, path, cidr, code string) {
	t.Helper()
	tree := newTree(t, "GeoLite2-Country")
	if err := tree.Insert(ipnet(t, cidr), mmdbtype.Map{"country": mmdbtype.Map{"iso_code": mmdbtype.String(code)}}); err != nil {
		t.Fatal(err)
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tree.WriteTo(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// waitCounter polls a counter until it reaches want. The deadline is long
// so that a slow machine only makes the test slower.
func waitCounter(t *testing.T, p *pipeline.Pipeline, name string, want uint64) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		st, _ := p.Status().Component("geo")
		if st.Counters[name] >= want {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("counter %s never reached %d", name, want)
}

func TestHotReload(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "country.mmdb")
	writeCountryDB(t, path, "81.2.69.0/24", "GB")
	src := &feedSource{feed: make(chan *event.Batch)}
	out := &collector{got: make(chan struct{}, 1)}
	p, errs := build(t, `
stages:
  src: {type: feed}
  geo: {type: geoip, inputs: [src], database: `+path+`, reload_interval: 20ms}
sinks:
  out: {type: a, inputs: [geo]}
`, testRegistry(src, map[string]*collector{"a": out}), nil)
	if len(errs.Fatal()) > 0 {
		t.Fatal(errs)
	}
	done := make(chan error, 1)
	go func() { done <- p.Run(context.Background()) }()
	country := func() string {
		src.feed <- flowBatch("81.2.69.142", "10.0.0.1")
		<-out.got
		out.mu.Lock()
		defer out.mu.Unlock()
		g := out.flows[len(out.flows)-1].Client.Geo
		if g == nil {
			return ""
		}
		return g.CountryCode
	}
	if c := country(); c != "GB" {
		t.Fatalf("before reload: %q", c)
	}
	// A different size guarantees the change is seen even where the
	// file system's timestamps are coarse.
	writeCountryDB(t, path, "81.2.0.0/16", "FR")
	waitCounter(t, p, "reloads", 1)
	if c := country(); c != "FR" {
		t.Errorf("after reload: %q", c)
	}
	// A broken replacement keeps the previous version.
	if err := os.WriteFile(path+".tmp", []byte("garbage, not a database"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		t.Fatal(err)
	}
	waitCounter(t, p, "reload_errors", 1)
	if c := country(); c != "FR" {
		t.Errorf("after a failed reload: %q", c)
	}
	close(src.feed)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	st, _ := p.Status().Component("geo")
	if st.Health != pipeline.Stopped || st.Counters["reloads"] != 1 || st.Counters["reload_errors"] != 1 {
		t.Errorf("status %+v", st)
	}
}

func TestOptionalDatabaseAppearsLater(t *testing.T) {
	path := filepath.Join(t.TempDir(), "later.mmdb")
	src := &feedSource{feed: make(chan *event.Batch)}
	out := &collector{got: make(chan struct{}, 1)}
	p, errs := build(t, `
stages:
  src: {type: feed}
  geo: {type: geoip, inputs: [src], database: `+path+`, optional: true, reload_interval: 20ms}
sinks:
  out: {type: a, inputs: [geo]}
`, testRegistry(src, map[string]*collector{"a": out}), nil)
	if len(errs.Fatal()) > 0 {
		t.Fatal(errs)
	}
	done := make(chan error, 1)
	go func() { done <- p.Run(context.Background()) }()
	writeCountryDB(t, path, "81.2.69.0/24", "GB")
	waitCounter(t, p, "reloads", 1)
	src.feed <- flowBatch("81.2.69.142", "10.0.0.1")
	<-out.got
	close(src.feed)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if g := out.flows[0].Client.Geo; g == nil || g.CountryCode != "GB" || g.Country != "United Kingdom" {
		t.Errorf("geo %+v", g)
	}
}
