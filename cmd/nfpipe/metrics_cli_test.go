package main

import (
	"fmt"
	"net/http"
	"path/filepath"
	"testing"
)

// TestMetricsDuringReplay scrapes /metrics on the dashboard (with its
// token) and on the metrics: block's own listener while a capture
// replays: both parse with the Prometheus text parser, the counters grow,
// and with the sources paused they equal the status API exactly.
func TestMetricsDuringReplay(t *testing.T) {
	const token = "metrics-token-0123456789"
	sample, _ := filepath.Abs("../../examples/sample.pcapng")
	dport, mport := freePort(t), freePort(t)
	pl := writeFile(t, "p.yaml", fmt.Sprintf(`stages:
  capture: {type: capture, file: %q, speed: 5x, loop: true}
  decode: {type: decode, inputs: [capture]}
  sessions: {type: sessionize, inputs: [decode], update_interval: 2s}
  stats: {type: ipstats, inputs: [decode], interval: 10s}
sinks:
  dashboard:
    type: dashboard
    inputs: [sessions, stats]
    listen: 127.0.0.1:%d
    auth_token: ${TOKEN}
metrics:
  listen: 127.0.0.1:%d
`, sample, dport, mport))
	p := startNfpipe(t, []string{"TOKEN=" + token}, "run", pl)
	base := fmt.Sprintf("http://127.0.0.1:%d", dport)
	auth := []string{"Authorization", "Bearer " + token}
	dash := func() float64 {
		return metricValue(scrape(t, base+"/metrics", auth...), "nfpipe_component_events_in_total", "component", "sessions")
	}
	var first float64
	p.waitFor(t, "packets counted on the dashboard's /metrics", func() bool { first = dash(); return first > 0 })
	p.waitFor(t, "the counters to grow during the replay", func() bool { return dash() > first })
	if code, _ := httpGet(base + "/metrics"); code != 401 {
		t.Errorf("/metrics without the token: %d, want 401", code)
	}

	post := func(path string) {
		req, _ := http.NewRequest("POST", base+path, nil)
		req.Header.Set(auth[0], auth[1])
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("POST %s: %v %v", path, err, resp)
		}
		resp.Body.Close()
	}
	post("/api/stop-monitoring")
	standalone := fmt.Sprintf("http://127.0.0.1:%d/metrics", mport)
	checked := 0
	p.waitFor(t, "both /metrics to equal /api/pipeline with the sources paused", func() bool {
		nodes := apiPipeline(t, base, auth...)
		d, m := scrape(t, base+"/metrics", auth...), scrape(t, standalone)
		checked = 0
		for name, n := range nodes {
			for metric, field := range map[string]string{
				"nfpipe_component_events_in_total":  "events_in",
				"nfpipe_component_events_out_total": "events_out",
				"nfpipe_component_dropped_total":    "dropped",
				"nfpipe_component_errors_total":     "errors",
			} {
				want, _ := n[field].(float64)
				if metricValue(d, metric, "component", name) != want || metricValue(m, metric, "component", name) != want {
					return false
				}
				checked++
			}
		}
		return metricValue(d, "nfpipe_pipeline_paused") == 1
	})
	if checked < 20 {
		t.Errorf("compared only %d values", checked)
	}
	fams := scrape(t, standalone)
	for _, name := range []string{"nfpipe_capture_packets_total", "nfpipe_flows_active", "nfpipe_flows_started_total",
		"nfpipe_component_batch_duration_seconds", "nfpipe_component_queue_depth", "nfpipe_build_info", "go_goroutines", "process_cpu_seconds_total"} {
		if fams[name] == nil {
			t.Errorf("no %s on the standalone endpoint", name)
		}
	}
	paused := dash()
	post("/api/start-monitoring")
	p.waitFor(t, "the counters to grow again after resuming", func() bool { return dash() > paused })
	if code := p.stop(t); code != 0 {
		t.Errorf("exit %d:\n%s", code, p.stderr)
	}
}
