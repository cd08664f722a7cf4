package dashboard

import (
	"context"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nfpipe/nfpipe/pipeline"
	"github.com/nfpipe/nfpipe/pipeline/event"
	"github.com/nfpipe/nfpipe/sinks/sqlite/store"
)

// sqliteSink looks like the sqlite sink to the dashboard: it hands over
// its store.
type sqliteSink struct{ s *store.Store }

func (k sqliteSink) Run(context.Context, *pipeline.Env) error { return nil }
func (k sqliteSink) Store() *store.Store                      { return k.s }

// The dashboard reads long ranges from a real SQLite history written by
// the store: rankings, series, an address's history, countries, alerts
// and events.
func TestHistoryFromARealStore(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{Path: filepath.Join(t.TempDir(), "history.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// Two days ago, so only ranges beyond the live view reach it.
	t0 := time.Now().Add(-48 * time.Hour).Truncate(time.Hour)
	de := &event.Geo{CountryCode: "DE", Country: "Germany", City: "Berlin", Lat: 52.5, Lon: 13.4}
	var rows store.Rows
	for i := 0; i < 20; i++ {
		f := event.FlowRec{
			ID: uint64(i + 1), Event: event.FlowEnd, Proto: 6, Reason: event.ReasonFIN,
			Client:    event.Endpoint{IP: netip.MustParseAddr("10.9.0.1"), Port: uint16(40000 + i)},
			Server:    event.Endpoint{IP: netip.MustParseAddr("198.51.100.20"), Port: 443, Geo: de},
			FirstSeen: event.TimeOf(t0.Add(time.Duration(i) * time.Minute)), LastSeen: event.TimeOf(t0.Add(time.Duration(i)*time.Minute + 10*time.Second)),
			C2S: event.Counters{Packets: 10, Bytes: 1000}, S2C: event.Counters{Packets: 20, Bytes: 20000},
		}
		rows.Flows = append(rows.Flows, store.FlowFromRecord("", &f))
	}
	for i := 0; i < 20; i++ {
		b := t0.Add(time.Duration(i) * time.Minute)
		rows.IPStats = append(rows.IPStats,
			store.IPStat{Res: 60, Bucket: b.UnixNano(), IP: "10.9.0.1", BytesIn: 20000, BytesOut: 1000, PacketsIn: 20, PacketsOut: 10, Flows: 1, Peers: 1, DstPorts: 1, Intervals: 1},
			store.IPStat{Res: 60, Bucket: b.UnixNano(), IP: "198.51.100.20", BytesIn: 1000, BytesOut: 20000, PacketsIn: 10, PacketsOut: 20, Peers: 1, Intervals: 1})
	}
	alert := event.AlertRec{ID: "x1", Rule: "big_transfer", Severity: "critical", Time: event.TimeOf(t0), State: event.AlertFiring, Subject: "10.9.0.1", Message: "moved a lot", DedupKey: "k"}
	rows.Alerts = append(rows.Alerts, store.AlertFromRecord("", &alert))
	rows.Events = append(rows.Events, store.Event{Time: t0.UnixNano(), Kind: "started", Message: "an earlier run"})
	if err := st.Write(ctx, &rows); err != nil {
		t.Fatal(err)
	}
	_, srv := newTestServerWith(t, func(c *Config) { c.History = "history" }, func(name string) (pipeline.Component, bool) {
		return sqliteSink{st}, name == "history"
	})
	for _, c := range []struct{ path, want string }{
		{"/api/status", `"history":true`},
		{"/api/top-talkers?range=7d", `"ip":"198.51.100.20"`},
		{"/api/top-talkers?range=7d&by=packets", `"source":"history"`},
		{"/api/ip-stats?range=7d&ip=10.9.0.1", `"bytes_out":20000`},
		{"/api/timeseries?range=7d", `"source":"history"`},
		{"/api/ip/10.9.0.1?range=7d", `"history_source":"history"`},
		{"/api/geo?range=7d", `"code":"DE"`},
		{"/api/alerts?range=7d", `"rule":"big_transfer"`},
		{"/api/events?range=7d", `an earlier run`},
	} {
		resp, body := do(t, mustReq(t, "GET", srv.URL+c.path))
		if resp.StatusCode != 200 || !strings.Contains(body, c.want) {
			t.Errorf("%s: %d %.400s; want %s", c.path, resp.StatusCode, body, c.want)
		}
	}
	var ip struct {
		History Series `json:"history"`
	}
	getJSON(t, srv.URL+"/api/ip/10.9.0.1?range=7d", &ip)
	var in uint64
	for _, b := range ip.History.BytesIn {
		in += b
	}
	if in != 20*20000 {
		t.Errorf("address history holds %d bytes in, want %d", in, 20*20000)
	}
	// The series adds up to what was written.
	var ts struct {
		Source string `json:"source"`
		Series Series `json:"series"`
	}
	getJSON(t, srv.URL+"/api/timeseries?range=7d", &ts)
	var sum uint64
	for _, b := range ts.Series.Bytes {
		sum += b
	}
	if sum != 20*21000 {
		t.Errorf("history series holds %d bytes, want %d", sum, 20*21000)
	}
}
