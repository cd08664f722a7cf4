package dashboard

import (
	"context"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nfpipe/nfpipe/pipeline"
	"github.com/nfpipe/nfpipe/pipeline/event"
)

// fakeHistory records the spans it is asked for and answers with one row.
type fakeHistory struct {
	mu    sync.Mutex
	calls []string
	spans []Span
}

func (f *fakeHistory) note(call string, r Span) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call)
	f.spans = append(f.spans, r)
}

func (f *fakeHistory) TopTalkers(_ context.Context, r Span, by string, limit int) ([]IPStat, error) {
	f.note("TopTalkers:"+by, r)
	return []IPStat{{IP: "198.51.100.7", Bytes: 7e9, BytesIn: 7e9, Flows: 70}}, nil
}

func (f *fakeHistory) TimeSeries(_ context.Context, r Span) (Series, error) {
	f.note("TimeSeries", r)
	return Series{T: []int64{r.From.UnixMilli()}, Bytes: []uint64{150}, BytesIn: []uint64{0}, BytesOut: []uint64{0}, Packets: []uint64{3}, Flows: []uint64{1}}, nil
}

func (f *fakeHistory) IPHistory(_ context.Context, ip netip.Addr, r Span) (Series, error) {
	f.note("IPHistory:"+ip.String(), r)
	return Series{T: []int64{r.From.UnixMilli()}, BytesIn: []uint64{1}, BytesOut: []uint64{2}, Packets: []uint64{3}, Flows: []uint64{1}}, nil
}

func (f *fakeHistory) Alerts(_ context.Context, r Span, limit int) ([]event.AlertRec, error) {
	f.note("Alerts", r)
	return []event.AlertRec{{ID: "h1", Rule: "old_rule", Severity: "critical", State: event.AlertResolved, Time: event.TimeOf(r.From)}}, nil
}

func (f *fakeHistory) Events(_ context.Context, r Span, limit int) ([]pipeline.SystemEvent, error) {
	f.note("Events", r)
	return []pipeline.SystemEvent{{Time: r.From, Kind: "started", Message: "from history"}}, nil
}

func (f *fakeHistory) Countries(_ context.Context, r Span) ([]Country, error) {
	f.note("Countries", r)
	return []Country{{Code: "NL", Name: "Netherlands", Bytes: 42}}, nil
}

// sinkWithHistory is what the sqlite sink looks like to the dashboard.
type sinkWithHistory struct{ h History }

func (s sinkWithHistory) Run(context.Context, *pipeline.Env) error { return nil }
func (s sinkWithHistory) History() History                         { return s.h }

// Ranges longer than the live view go to the history sink named by
// history:, relative to the latest packet time; shorter ones stay live.
func TestLongRangesReadTheHistory(t *testing.T) {
	fh := &fakeHistory{}
	d, srv := newTestServerWith(t, func(c *Config) { c.History = "history" }, func(name string) (pipeline.Component, bool) {
		return sinkWithHistory{fh}, name == "history"
	})
	clock := time.Date(2023, 11, 14, 22, 0, 0, 0, time.UTC)
	d.live.addFlows([]event.FlowRec{{ID: 1, Proto: 17, Event: event.FlowUpdate,
		Client: event.Endpoint{IP: netip.MustParseAddr("10.0.0.1"), Port: 5353}, Server: event.Endpoint{IP: netip.MustParseAddr("192.0.2.1"), Port: 53},
		FirstSeen: event.TimeOf(clock), LastSeen: event.TimeOf(clock), C2S: event.Counters{Packets: 1, Bytes: 80}}})

	var s StatusResponse
	getJSON(t, srv.URL+"/api/status", &s)
	if !s.History || s.HistoryNote != "" {
		t.Fatalf("status history=%v note %q", s.History, s.HistoryNote)
	}
	for _, c := range []struct{ path, call, source string }{
		{"/api/top-talkers?range=7d", "TopTalkers:bytes", `"source":"history"`},
		{"/api/ip-stats?range=24h&sort=flows", "TopTalkers:flows", `"source":"history"`},
		{"/api/timeseries?range=24h", "TimeSeries", `"source":"history"`},
		{"/api/ip/10.0.0.1?range=7d", "IPHistory:10.0.0.1", `"history_source":"history"`},
		{"/api/alerts?range=30d", "Alerts", `old_rule`},
		{"/api/events?range=30d", "Events", `from history`},
		{"/api/geo?range=7d", "Countries", `"NL"`},
	} {
		n := len(fh.calls)
		resp, body := do(t, mustReq(t, "GET", srv.URL+c.path))
		if resp.StatusCode != 200 || !strings.Contains(body, c.source) {
			t.Errorf("%s: %d %s", c.path, resp.StatusCode, body)
			continue
		}
		if len(fh.calls) != n+1 || fh.calls[n] != c.call {
			t.Errorf("%s: history calls %v, want %s", c.path, fh.calls[n:], c.call)
			continue
		}
		if sp := fh.spans[n]; c.call != "Events" && !sp.To.Equal(clock) {
			t.Errorf("%s: span ends %v, want the packet clock %v", c.path, sp.To, clock)
		}
	}
	// Ranges the live view covers do not touch the history.
	n := len(fh.calls)
	for _, p := range []string{"/api/top-talkers?range=15m", "/api/timeseries?range=10m", "/api/sessions", "/api/ip-stats"} {
		if resp, body := do(t, mustReq(t, "GET", srv.URL+p)); resp.StatusCode != 200 || !strings.Contains(body, `"source":"live"`) {
			t.Errorf("%s: %d %s", p, resp.StatusCode, body)
		}
	}
	if len(fh.calls) != n {
		t.Errorf("live ranges called the history: %v", fh.calls[n:])
	}
}
