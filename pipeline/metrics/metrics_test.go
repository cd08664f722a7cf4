package metrics_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/nfpipe/nfpipe/pipeline"
	"github.com/nfpipe/nfpipe/pipeline/config"
	"github.com/nfpipe/nfpipe/pipeline/metrics"
	_ "github.com/nfpipe/nfpipe/sinks/jsonl"
	_ "github.com/nfpipe/nfpipe/stages/capture"
	_ "github.com/nfpipe/nfpipe/stages/decode"
	_ "github.com/nfpipe/nfpipe/stages/sessionize"
)

// scrape fetches and parses a metrics endpoint with the Prometheus text
// parser.
func scrape(t *testing.T, h http.Handler) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("metrics: %d %s", rec.Code, rec.Body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return fams
}

// value returns the value of the series of family name whose labels
// include want; ok is false when there is none.
func value(fams map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.Metric {
		got := map[string]string{}
		for _, l := range m.Label {
			got[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if got[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

// TestMetricsMatchStatus runs a real capture through decode and
// sessionize and checks that every exported figure equals the status.
func TestMetricsMatchStatus(t *testing.T) {
	pcap, _ := filepath.Abs("../../testdata/corpus/valid/zeek_http_get.pcap")
	dir := t.TempDir()
	yml := `stages:
  cap: {type: capture, file: ` + pcap + `}
  dec: {type: decode, inputs: [cap]}
  ses: {type: sessionize, inputs: [dec]}
sinks:
  out: {type: jsonl, inputs: [ses], path: ` + filepath.Join(dir, "out.jsonl") + `}
`
	cfg, errs := config.Parse(filepath.Join(dir, "p.yaml"), []byte(yml), os.LookupEnv)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	p, errs := pipeline.FromConfig(cfg)
	if len(errs.Fatal()) > 0 {
		t.Fatal(errs)
	}
	h := metrics.Handler(p.Status, nil)
	before := scrape(t, h)
	if v, ok := value(before, "nfpipe_component_events_in_total", map[string]string{"component": "dec", "type": "decode"}); !ok || v != 0 {
		t.Errorf("before the run: events in %v (%v)", v, ok)
	}
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := p.Status()
	fams := scrape(t, h)
	checked := 0
	for _, c := range st.Components {
		lv := map[string]string{"component": c.Name, "type": c.Type}
		for name, want := range map[string]float64{
			"nfpipe_component_events_in_total":  float64(c.EventsIn),
			"nfpipe_component_events_out_total": float64(c.EventsOut),
			"nfpipe_component_dropped_total":    float64(c.Dropped),
			"nfpipe_component_errors_total":     float64(c.Errors),
		} {
			got, ok := value(fams, name, lv)
			if !ok || got != want {
				t.Errorf("%s%v = %v (%v), status says %v", name, lv, got, ok, want)
			}
			checked++
		}
		for k, v := range c.Counters {
			got, ok := value(fams, "nfpipe_component_counter_total", map[string]string{"component": c.Name, "counter": k})
			if !ok || got != float64(v) {
				t.Errorf("counter %s.%s = %v (%v), status says %d", c.Name, k, got, ok, v)
			}
			checked++
		}
		for k, v := range c.Gauges {
			got, ok := value(fams, "nfpipe_component_gauge", map[string]string{"component": c.Name, "gauge": k})
			if !ok || got != float64(v) {
				t.Errorf("gauge %s.%s = %v (%v), status says %d", c.Name, k, got, ok, v)
			}
			checked++
		}
		if c.Role != "source" {
			// One observation per batch: as many as the component received.
			n, ok := value(fams, "nfpipe_component_batch_duration_seconds", lv)
			if !ok || n == 0 || n != float64(c.BatchLatency.Count) {
				t.Errorf("%s: %v batch latency observations (%v), status says %d", c.Name, n, ok, c.BatchLatency.Count)
			}
			if ok, _ := value(fams, "nfpipe_component_health", map[string]string{"component": c.Name, "state": "stopped"}); ok != 1 {
				t.Errorf("%s: health stopped = %v after the run", c.Name, ok)
			}
		}
	}
	if checked < 20 {
		t.Fatalf("checked only %d values", checked)
	}
	capSt, _ := st.Component("cap")
	sesSt, _ := st.Component("ses")
	for _, c := range []struct {
		name string
		want uint64
	}{
		{"nfpipe_capture_packets_total", capSt.Counters["packets_read"]},
		{"nfpipe_capture_bytes_total", capSt.Counters["bytes_read"]},
		{"nfpipe_flows_started_total", sesSt.Counters["flows_started"]},
		{"nfpipe_flows_ended_total", sesSt.Counters["flows_ended"]},
	} {
		got, ok := value(fams, c.name, nil)
		if !ok || got != float64(c.want) || c.want == 0 {
			t.Errorf("%s = %v (%v), status says %d", c.name, got, ok, c.want)
		}
	}
	if v, ok := value(fams, "nfpipe_flows_active", nil); !ok || v != 0 {
		t.Errorf("active flows after the drain: %v (%v)", v, ok)
	}
	for _, name := range []string{"go_goroutines", "process_resident_memory_bytes", "nfpipe_build_info", "nfpipe_config_reloads_total"} {
		if fams[name] == nil {
			t.Errorf("no %s", name)
		}
	}
}

// fakeStatus has a component of every type with well-known metrics.
func fakeStatus() pipeline.Status {
	return pipeline.Status{Running: true, Components: []pipeline.ComponentStatus{
		{Name: "cap", Type: "capture", Role: "source", Health: pipeline.Healthy,
			Counters: map[string]uint64{"kernel_drops": 7, "kernel_packets": 100, "kernel_freezes": 1, "packets_read": 93, "bytes_read": 9300, "kernel_drops_w0": 7}},
		{Name: "ses", Type: "sessionize", Role: "stage", Health: pipeline.Healthy,
			Counters: map[string]uint64{"flows_started": 5, "flows_ended": 3, "flows_evicted": 0}, Gauges: map[string]int64{"active_flows": 2}},
		{Name: "geo", Type: "geoip", Role: "stage", Health: pipeline.Degraded,
			Counters: map[string]uint64{"cache_hits": 3, "cache_misses": 1}},
		{Name: "hook", Type: "webhook", Role: "sink", Health: pipeline.Healthy,
			Counters: map[string]uint64{"retries": 4, "sent": 2, "failed_attempts": 4}, Gauges: map[string]int64{"queue_depth": 1}},
	}}
}

// TestWellKnownMetrics checks the first-class names against the
// components' own counters.
func TestWellKnownMetrics(t *testing.T) {
	fams := scrape(t, metrics.Handler(fakeStatus, nil))
	for name, want := range map[string]float64{
		"nfpipe_capture_kernel_drops_total":   7,
		"nfpipe_capture_kernel_packets_total": 100,
		"nfpipe_capture_kernel_freezes_total": 1,
		"nfpipe_capture_packets_total":        93,
		"nfpipe_flows_active":                 2,
		"nfpipe_flows_started_total":          5,
		"nfpipe_geoip_cache_hits_total":       3,
		"nfpipe_geoip_cache_misses_total":     1,
		"nfpipe_geoip_cache_hit_ratio":        0.75,
		"nfpipe_webhook_retries_total":        4,
		"nfpipe_webhook_queue_depth":          1,
		"nfpipe_pipeline_running":             1,
	} {
		if got, ok := value(fams, name, nil); !ok || got != want {
			t.Errorf("%s = %v (%v), want %v", name, got, ok, want)
		}
	}
	if got, _ := value(fams, "nfpipe_component_counter_total", map[string]string{"component": "cap", "counter": "kernel_drops_w0"}); got != 7 {
		t.Errorf("per-worker counter: %v", got)
	}
	for state, want := range map[string]float64{"ok": 0, "degraded": 1, "unhealthy": 0, "stopped": 0} {
		if got, ok := value(fams, "nfpipe_component_health", map[string]string{"component": "geo", "state": state}); !ok || got != want {
			t.Errorf("geo health %s = %v (%v)", state, got, ok)
		}
	}
	if _, ok := value(fams, "nfpipe_component_queue_depth", map[string]string{"component": "cap"}); ok {
		t.Error("a source has no input queue, yet its depth is exported")
	}
}

func TestReloadMetrics(t *testing.T) {
	h := metrics.Handler(fakeStatus, nil)
	get := func(result string) float64 {
		v, _ := value(scrape(t, h), "nfpipe_config_reloads_total", map[string]string{"result": result})
		return v
	}
	ok0, bad0 := get("success"), get("failure")
	metrics.RecordReload(false)
	if v, _ := value(scrape(t, h), "nfpipe_config_last_reload_successful", nil); v != 0 {
		t.Errorf("last reload successful = %v after a failure", v)
	}
	metrics.RecordReload(true)
	if get("success") != ok0+1 || get("failure") != bad0+1 {
		t.Errorf("reload counters: success %v->%v failure %v->%v", ok0, get("success"), bad0, get("failure"))
	}
	if v, _ := value(scrape(t, h), "nfpipe_config_last_reload_successful", nil); v != 1 {
		t.Errorf("last reload successful = %v after a success", v)
	}
}

// TestMetricNamesFollowConventions: every name has the nfpipe_ prefix
// and a help text, and exactly the counters end in _total.
func TestMetricNamesFollowConventions(t *testing.T) {
	fams, err := metrics.NewRegistry(fakeStatus).Gather()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range fams {
		name := f.GetName()
		if strings.HasPrefix(name, "go_") || strings.HasPrefix(name, "process_") {
			continue
		}
		n++
		if !strings.HasPrefix(name, "nfpipe_") {
			t.Errorf("%s lacks the nfpipe_ prefix", name)
		}
		if (f.GetType() == dto.MetricType_COUNTER) != strings.HasSuffix(name, "_total") {
			t.Errorf("%s: type %s and the _total suffix disagree", name, f.GetType())
		}
		if f.GetHelp() == "" {
			t.Errorf("%s has no help", name)
		}
	}
	if n < 25 {
		t.Fatalf("only %d nfpipe metric families gathered", n)
	}
}

// BenchmarkScrape measures one scrape of a pipeline of four components
// (gathering and encoding, without the Go and process collectors' share
// being separable): the cost lands on the scraper, never on the packet
// path.
func BenchmarkScrape(b *testing.B) {
	h := metrics.Handler(fakeStatus, nil)
	req := httptest.NewRequest("GET", "/metrics", nil)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
	}
}
