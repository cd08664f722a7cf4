package dashboard

import (
	"net/http"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrapeMetrics fetches /metrics with the token and parses it with the
// Prometheus text parser.
func scrapeMetrics(t *testing.T, base string) map[string]*dto.MetricFamily {
	t.Helper()
	req, _ := http.NewRequest("GET", base+metricsPath, nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /metrics: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

// componentCounter returns a per-component counter, or -1.
func componentCounter(fams map[string]*dto.MetricFamily, name, component string) float64 {
	f := fams[name]
	if f == nil {
		return -1
	}
	for _, m := range f.Metric {
		for _, l := range m.Label {
			if l.GetName() == "component" && l.GetValue() == component {
				return m.Counter.GetValue()
			}
		}
	}
	return -1
}

// TestMetricsEndpoint scrapes /metrics of a dashboard with a token while
// the pipeline replays captures: a scraper without the token is refused
// with 401 (not sent to the login page), the counters grow, and once the
// sources are paused they equal the pipeline's status.
func TestMetricsEndpoint(t *testing.T) {
	r := startPipeline(t, pipelineYAML(t, "20x", "    auth_token: "+testToken+"\n"))
	resp, body := do(t, mustRequest(t, "GET", r.base+metricsPath))
	if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") == "" || !strings.Contains(body, "Bearer") {
		t.Fatalf("GET /metrics without the token: %d %s", resp.StatusCode, body)
	}
	var first float64
	eventually(t, "the dashboard to count flows in /metrics", func() bool {
		first = componentCounter(scrapeMetrics(t, r.base), "nfpipe_component_events_in_total", "dashboard")
		return first > 0
	})
	eventually(t, "the counters to grow", func() bool {
		return componentCounter(scrapeMetrics(t, r.base), "nfpipe_component_events_in_total", "dashboard") > first
	})
	r.p.Pause()
	eventually(t, "/metrics to equal the status with the sources paused", func() bool {
		fams := scrapeMetrics(t, r.base)
		for _, c := range r.p.Status().Components {
			for name, want := range map[string]uint64{
				"nfpipe_component_events_in_total":  c.EventsIn,
				"nfpipe_component_events_out_total": c.EventsOut,
				"nfpipe_component_dropped_total":    c.Dropped,
			} {
				if componentCounter(fams, name, c.Name) != float64(want) {
					return false
				}
			}
		}
		return true
	})
	fams := scrapeMetrics(t, r.base)
	for _, name := range []string{"nfpipe_flows_active", "nfpipe_capture_packets_total", "nfpipe_component_batch_duration_seconds", "go_goroutines"} {
		if fams[name] == nil {
			t.Errorf("/metrics lacks %s", name)
		}
	}
}

func mustRequest(t *testing.T, method, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}
