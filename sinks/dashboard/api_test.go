package dashboard

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// sessionsResp is /api/sessions decoded.
type sessionsResp struct {
	Source     string     `json:"source"`
	Total      int        `json:"total"`
	Offset     int        `json:"offset"`
	Limit      int        `json:"limit"`
	Active     int        `json:"active"`
	Sort       string     `json:"sort"`
	Order      string     `json:"order"`
	NextCursor string     `json:"next_cursor"`
	Sessions   []flowJSON `json:"sessions"`
}

// flowJSON is a flow of the JSON contract, decoded.
type flowJSON struct {
	Event     string `json:"event"`
	ID        string `json:"id"`
	Proto     string `json:"proto"`
	FirstSeen string `json:"first_seen"`
	LastSeen  string `json:"last_seen"`
	Client    struct {
		IP   string `json:"ip"`
		Port int    `json:"port"`
		Geo  *struct {
			CountryCode string `json:"country_code"`
		} `json:"geo"`
	} `json:"client"`
	Server struct {
		IP   string `json:"ip"`
		Port int    `json:"port"`
		Geo  *struct {
			CountryCode string `json:"country_code"`
		} `json:"geo"`
	} `json:"server"`
	C2S struct{ Bytes, Packets uint64 } `json:"c2s"`
	S2C struct{ Bytes, Packets uint64 } `json:"s2c"`
	TCP *struct {
		State string `json:"state"`
	} `json:"tcp"`
}

// TestAPI runs every endpoint against a real pipeline replaying corpus
// captures at ten times their speed, in a loop, through the real decode,
// sessionize and ipstats stages.
func TestAPI(t *testing.T) {
	r := startPipeline(t, pipelineYAML(t, "10x", ""))
	eventually(t, "flows of every protocol", func() bool {
		var s sessionsResp
		getJSON(t, r.base+"/api/sessions?limit=1000", &s)
		protos := map[string]bool{}
		for _, f := range s.Sessions {
			protos[f.Proto] = true
		}
		return s.Total >= 20 && protos["tcp"] && protos["udp"] && protos["icmp"]
	})

	t.Run("status", func(t *testing.T) {
		var s StatusResponse
		if code := getJSON(t, r.base+"/api/status", &s); code != 200 {
			t.Fatalf("status %d", code)
		}
		if !s.Monitoring || s.State != "running" {
			t.Errorf("monitoring=%v state=%q, want running", s.Monitoring, s.State)
		}
		if len(s.Sources) != len(replayCaptures) || !strings.HasPrefix(s.Source, "cap0,") {
			t.Errorf("sources %+v source %q", s.Sources, s.Source)
		}
		if s.Packets == 0 || s.Bytes == 0 || s.Flows == 0 || s.UptimeSeconds <= 0 || s.Started == nil {
			t.Errorf("empty totals: %+v", s)
		}
		var sum uint64
		for _, src := range s.Sources {
			sum += src.Packets
		}
		if sum != s.Packets {
			t.Errorf("packets %d is not the sum of the sources' %d", s.Packets, sum)
		}
		for _, name := range []string{"decode", "sessions", "stats", "geo", "dashboard", "cap0"} {
			if _, ok := s.DropsByStage[name]; !ok {
				t.Errorf("drops_by_stage has no %s: %v", name, s.DropsByStage)
			}
		}
		if s.Health != "ok" || s.History || !strings.Contains(s.HistoryNote, "no history configured") {
			t.Errorf("health %q history %v note %q", s.Health, s.History, s.HistoryNote)
		}
		eventually(t, "rates", func() bool {
			getJSON(t, r.base+"/api/status", &s)
			return s.PacketsPerSec > 0 && s.BitsPerSec > 0
		})
	})

	t.Run("sessions filters", func(t *testing.T) {
		var all sessionsResp
		getJSON(t, r.base+"/api/sessions?limit=1000", &all)
		if all.Source != "live" || all.Sort != "last_seen" || all.Order != "desc" || all.Limit != 1000 {
			t.Errorf("defaults: %+v", all)
		}
		for _, c := range []struct {
			query string
			keep  func(f flowJSON) bool
		}{
			{"proto=udp", func(f flowJSON) bool { return f.Proto == "udp" }},
			{"proto=6", func(f flowJSON) bool { return f.Proto == "tcp" }},
			{"state=ended", func(f flowJSON) bool { return f.Event == "end" }},
			{"state=active", func(f flowJSON) bool { return f.Event == "update" }},
			{"port=443", func(f flowJSON) bool { return f.Client.Port == 443 || f.Server.Port == 443 }},
			{"ip=192.168.1.105", func(f flowJSON) bool {
				return f.Client.IP == "192.168.1.105" || f.Server.IP == "192.168.1.105"
			}},
			{"country=se", func(f flowJSON) bool {
				return (f.Client.Geo != nil && f.Client.Geo.CountryCode == "SE") || (f.Server.Geo != nil && f.Server.Geo.CountryCode == "SE")
			}},
		} {
			var got sessionsResp
			getJSON(t, r.base+"/api/sessions?limit=1000&"+c.query, &got)
			if got.Total == 0 {
				t.Errorf("%s: no sessions", c.query)
				continue
			}
			if got.Total >= all.Total && c.query != "state=ended" {
				t.Errorf("%s: %d of %d sessions; the filter kept everything", c.query, got.Total, all.Total)
			}
			// Every returned row satisfies the filter, checked on its own fields.
			for _, f := range got.Sessions {
				if !c.keep(f) {
					t.Errorf("%s: row %+v does not match", c.query, f)
				}
			}
		}
		var tcpEst sessionsResp
		getJSON(t, r.base+"/api/sessions?limit=1000&state=ESTABLISHED", &tcpEst)
		for _, f := range tcpEst.Sessions {
			if f.Proto != "tcp" || f.TCP == nil || f.TCP.State != "ESTABLISHED" {
				t.Errorf("state=ESTABLISHED returned %+v", f)
			}
		}
		// Free-text search finds an address by a fragment.
		var q sessionsResp
		getJSON(t, r.base+"/api/sessions?limit=1000&q=74.125.", &q)
		if q.Total == 0 {
			t.Error("q=74.125. found nothing")
		}
		for _, f := range q.Sessions {
			if !strings.HasPrefix(f.Client.IP, "74.125.") && !strings.HasPrefix(f.Server.IP, "74.125.") {
				t.Errorf("q=74.125. returned %s -> %s", f.Client.IP, f.Server.IP)
			}
		}
	})

	t.Run("sessions sorting", func(t *testing.T) {
		for _, c := range []struct {
			sort, order string
			key         func(s *sessionsResp, i int) float64
		}{
			{"bytes", "desc", func(s *sessionsResp, i int) float64 {
				return float64(s.Sessions[i].C2S.Bytes + s.Sessions[i].S2C.Bytes)
			}},
			{"packets", "asc", func(s *sessionsResp, i int) float64 {
				return float64(s.Sessions[i].C2S.Packets + s.Sessions[i].S2C.Packets)
			}},
			{"port", "asc", func(s *sessionsResp, i int) float64 { return float64(s.Sessions[i].Server.Port) }},
			{"first_seen", "asc", func(s *sessionsResp, i int) float64 { return float64(mustTime(t, s.Sessions[i].FirstSeen).UnixNano()) }},
			{"last_seen", "desc", func(s *sessionsResp, i int) float64 { return float64(mustTime(t, s.Sessions[i].LastSeen).UnixNano()) }},
		} {
			var s sessionsResp
			getJSON(t, r.base+"/api/sessions?limit=1000&sort="+c.sort+"&order="+c.order, &s)
			if len(s.Sessions) < 2 {
				t.Fatalf("sort=%s: %d rows", c.sort, len(s.Sessions))
			}
			distinct := map[float64]bool{}
			for i := range s.Sessions {
				distinct[c.key(&s, i)] = true
				if i == 0 {
					continue
				}
				a, b := c.key(&s, i-1), c.key(&s, i)
				if (c.order == "desc" && a < b) || (c.order == "asc" && a > b) {
					t.Errorf("sort=%s order=%s: row %d (%v) after %v", c.sort, c.order, i, b, a)
					break
				}
			}
			if len(distinct) < 2 {
				t.Errorf("sort=%s: every row has the same key; the check proves nothing", c.sort)
			}
		}
	})

	t.Run("sessions pagination", func(t *testing.T) {
		// Pause so the set is fixed while paging (flows keep ending otherwise).
		if code := post(t, r.base+"/api/stop-monitoring", nil); code != 200 {
			t.Fatalf("stop: %d", code)
		}
		defer post(t, r.base+"/api/start-monitoring", nil)
		settle(t, r)
		var all sessionsResp
		getJSON(t, r.base+"/api/sessions?limit=1000&sort=bytes", &all)
		if all.Total < 10 {
			t.Fatalf("only %d sessions", all.Total)
		}
		var byOffset, byCursor []string
		for off := 0; off < all.Total; off += 7 {
			var p sessionsResp
			getJSON(t, r.base+"/api/sessions?sort=bytes&limit=7&offset="+strconv.Itoa(off), &p)
			if p.Offset != off || p.Limit != 7 || p.Total != all.Total {
				t.Fatalf("page at %d: offset %d limit %d total %d", off, p.Offset, p.Limit, p.Total)
			}
			for _, f := range p.Sessions {
				byOffset = append(byOffset, f.ID)
			}
		}
		cursor := ""
		for pages := 0; ; pages++ {
			u := r.base + "/api/sessions?sort=bytes&limit=7"
			if cursor != "" {
				u += "&cursor=" + url.QueryEscape(cursor)
			}
			var p sessionsResp
			getJSON(t, u, &p)
			for _, f := range p.Sessions {
				byCursor = append(byCursor, f.ID)
			}
			if p.NextCursor == "" {
				break
			}
			cursor = p.NextCursor
			if pages > all.Total {
				t.Fatal("the cursor never ends")
			}
		}
		var want []string
		for _, f := range all.Sessions {
			want = append(want, f.ID)
		}
		if !slices.Equal(byOffset, want) {
			t.Errorf("offset pages give %d ids, not the %d of one page in order", len(byOffset), len(want))
		}
		if !slices.Equal(byCursor, want) {
			t.Errorf("cursor pages give %d ids, not the %d of one page in order", len(byCursor), len(want))
		}
		// One flow by id.
		var one struct {
			Active bool            `json:"active"`
			Flow   json.RawMessage `json:"flow"`
		}
		if code := getJSON(t, r.base+"/api/sessions/"+want[0], &one); code != 200 || !strings.Contains(string(one.Flow), want[0]) {
			t.Errorf("session %s: %d %s", want[0], code, one.Flow)
		}
	})

	t.Run("ip-stats", func(t *testing.T) {
		var s struct {
			Source string   `json:"source"`
			Total  int      `json:"total"`
			IPs    []IPStat `json:"ips"`
		}
		getJSON(t, r.base+"/api/ip-stats?sort=packets&limit=5", &s)
		if len(s.IPs) != 5 || s.Total < 10 {
			t.Fatalf("got %d rows of %d", len(s.IPs), s.Total)
		}
		for i := 1; i < len(s.IPs); i++ {
			if s.IPs[i].Packets > s.IPs[i-1].Packets {
				t.Errorf("not sorted by packets: %+v", s.IPs)
			}
		}
		for _, row := range s.IPs {
			if row.Bytes != row.BytesIn+row.BytesOut || row.Packets != row.PacketsIn+row.PacketsOut || row.Flows == 0 {
				t.Errorf("inconsistent row %+v", row)
			}
		}
		getJSON(t, r.base+"/api/ip-stats?sort=flows&order=asc", &s)
		for i := 1; i < len(s.IPs); i++ {
			if s.IPs[i].Flows < s.IPs[i-1].Flows {
				t.Fatalf("not ascending by flows at %d", i)
			}
		}
		getJSON(t, r.base+"/api/ip-stats?ip=192.168.1.105", &s)
		if len(s.IPs) != 1 || s.IPs[0].IP != "192.168.1.105" || s.IPs[0].Peers == 0 {
			t.Errorf("ip filter: %+v", s.IPs)
		}
		getJSON(t, r.base+"/api/ip-stats?range=30m", &s)
		if s.Source != "live" || len(s.IPs) == 0 {
			t.Errorf("range=30m: %s %d rows", s.Source, len(s.IPs))
		}
		var long map[string]any
		getJSON(t, r.base+"/api/ip-stats?range=7d", &long)
		if note, _ := long["note"].(string); !strings.Contains(note, "no history configured") {
			t.Errorf("range=7d without history: note %q", note)
		}
	})

	t.Run("ip detail", func(t *testing.T) {
		var d struct {
			IP      string     `json:"ip"`
			Totals  *IPStat    `json:"totals"`
			Peers   []peerStat `json:"peers"`
			Ports   []peerStat `json:"ports"`
			History Series     `json:"history"`
		}
		if code := getJSON(t, r.base+"/api/ip/192.168.1.105", &d); code != 200 {
			t.Fatalf("status %d", code)
		}
		if d.Totals == nil || d.Totals.Bytes == 0 || len(d.Peers) == 0 || len(d.Ports) == 0 || len(d.History.T) == 0 {
			t.Errorf("detail: %+v", d)
		}
		if !slices.ContainsFunc(d.Peers, func(p peerStat) bool { return p.Key == "74.125.224.79" }) {
			t.Errorf("peers %+v lack 74.125.224.79", d.Peers)
		}
		if !slices.ContainsFunc(d.Ports, func(p peerStat) bool { return p.Key == "tcp/443" }) {
			t.Errorf("ports %+v lack tcp/443", d.Ports)
		}
		if code := getJSON(t, r.base+"/api/ip/203.0.113.250", nil); code != 404 {
			t.Errorf("unseen address: %d, want 404", code)
		}
	})

	t.Run("top-talkers", func(t *testing.T) {
		var tt struct {
			Source  string   `json:"source"`
			By      string   `json:"by"`
			Range   float64  `json:"range_seconds"`
			Talkers []IPStat `json:"talkers"`
		}
		getJSON(t, r.base+"/api/top-talkers?by=flows&limit=3&range=1h", &tt)
		if tt.By != "flows" || tt.Range != 3600 || len(tt.Talkers) == 0 || len(tt.Talkers) > 3 {
			t.Fatalf("%+v", tt)
		}
		for i := 1; i < len(tt.Talkers); i++ {
			if tt.Talkers[i].Flows > tt.Talkers[i-1].Flows {
				t.Errorf("not ranked by flows: %+v", tt.Talkers)
			}
		}
	})

	t.Run("timeseries", func(t *testing.T) {
		var ts struct {
			Source string    `json:"source"`
			Step   float64   `json:"step_seconds"`
			T      []int64   `json:"t"`
			BPS    []float64 `json:"bps"`
			PPS    []float64 `json:"pps"`
		}
		eventually(t, "a few samples", func() bool {
			getJSON(t, r.base+"/api/timeseries?range=5m&step=1s", &ts)
			return len(ts.T) >= 3
		})
		if ts.Source != "live" || ts.Step != 1 || len(ts.BPS) != len(ts.T) || len(ts.PPS) != len(ts.T) {
			t.Fatalf("%+v", ts)
		}
		if !slices.IsSorted(ts.T) || slices.Max(ts.PPS) <= 0 {
			t.Errorf("series %+v", ts)
		}
		var ipts struct {
			IP     string `json:"ip"`
			Series Series `json:"series"`
		}
		getJSON(t, r.base+"/api/timeseries?ip=192.168.1.105&range=1h", &ipts)
		if ipts.IP != "192.168.1.105" || len(ipts.Series.T) == 0 {
			t.Errorf("ip series %+v", ipts)
		}
	})

	t.Run("geo", func(t *testing.T) {
		var g struct {
			Available bool       `json:"available"`
			Countries []Country  `json:"countries"`
			Points    []GeoPoint `json:"points"`
			Labelled  uint64     `json:"labelled_flows"`
		}
		getJSON(t, r.base+"/api/geo", &g)
		if !g.Available || len(g.Countries) < 3 || len(g.Points) < 3 || g.Labelled == 0 {
			t.Fatalf("%+v", g)
		}
		for i, c := range g.Countries {
			if len(c.Code) != 2 || c.Bytes == 0 || (i > 0 && c.Bytes > g.Countries[i-1].Bytes) {
				t.Errorf("country %d: %+v", i, c)
			}
		}
	})

	t.Run("alerts without a filter stage", func(t *testing.T) {
		var a map[string]any
		getJSON(t, r.base+"/api/alerts", &a)
		if a["available"] != false || !strings.Contains(a["note"].(string), "no alert rules configured") {
			t.Errorf("%v", a)
		}
	})

	t.Run("events and pipeline", func(t *testing.T) {
		var ev struct {
			Events []struct{ Kind, Message string } `json:"events"`
		}
		getJSON(t, r.base+"/api/events?kind=started", &ev)
		if len(ev.Events) != 1 || ev.Events[0].Kind != "started" {
			t.Errorf("events %+v", ev)
		}
		var p struct {
			Nodes []PipelineNode `json:"nodes"`
			Edges []PipelineEdge `json:"edges"`
		}
		getJSON(t, r.base+"/api/pipeline", &p)
		if len(p.Nodes) != len(replayCaptures)+5 || len(p.Edges) != len(replayCaptures)+5 {
			t.Errorf("%d nodes, %d edges", len(p.Nodes), len(p.Edges))
		}
		if !slices.Contains(p.Edges, PipelineEdge{From: "geo", To: "dashboard"}) {
			t.Errorf("edges %+v", p.Edges)
		}
	})

	t.Run("bad parameters are 400 with the reason", func(t *testing.T) {
		for _, c := range []struct{ path, want string }{
			{"/api/sessions?limit=0", "limit"},
			{"/api/sessions?limit=abc", "limit"},
			{"/api/sessions?sort=color", "sort"},
			{"/api/sessions?order=up", "order"},
			{"/api/sessions?ip=300.1.1.1", "ip"},
			{"/api/sessions?port=70000", "port"},
			{"/api/sessions?proto=tcpx", "proto"},
			{"/api/sessions?state=sleeping", "state"},
			{"/api/sessions?country=GER", "country"},
			{"/api/sessions?cursor=!!!", "cursor"},
			{"/api/sessions?lmit=10", `unknown parameter "lmit"`},
			{"/api/sessions?offset=5&cursor=" + (&cursor{Sort: "last_seen", Desc: true}).encode(), "offset or cursor"},
			{"/api/sessions?sort=bytes&cursor=" + (&cursor{Sort: "last_seen", Desc: true}).encode(), "cursor belongs"},
			{"/api/ip-stats?sort=colour", "sort"},
			{"/api/ip-stats?range=forever", "range"},
			{"/api/ip-stats?range=1h&from=2024-01-01T00:00:00Z", "either range or from"},
			{"/api/ip-stats?from=yesterday", "from"},
			{"/api/top-talkers?by=size", "by"},
			{"/api/top-talkers?limit=-1", "limit"},
			{"/api/timeseries?step=1ms", "step"},
			{"/api/geo?limit=0", "limit"},
			{"/api/alerts?state=open", "state"},
			{"/api/events?kind=boom", "kind"},
			{"/api/ip/not-an-ip", "not an IP"},
			{"/api/sessions/xyz", "flow id"},
			{"/api/status?verbose=1", "unknown parameter"},
		} {
			var e apiError
			code := getJSON(t, r.base+c.path, &e)
			if code != 400 || !strings.Contains(e.Error, c.want) {
				t.Errorf("%s: %d %q, want 400 mentioning %q", c.path, code, e.Error, c.want)
			}
		}
		// Several problems are reported at once.
		var e apiError
		getJSON(t, r.base+"/api/sessions?limit=0&sort=x", &e)
		if len(e.Details) != 2 {
			t.Errorf("want both problems listed: %+v", e)
		}
		if code := getJSON(t, r.base+"/api/nothing", &e); code != 404 || !strings.Contains(e.Error, "openapi") {
			t.Errorf("unknown endpoint: %d %q", code, e.Error)
		}
		req, _ := http.NewRequest(http.MethodDelete, r.base+"/api/status", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 405 || resp.Header.Get("Allow") != "GET" {
			t.Errorf("DELETE /api/status: %d allow %q", resp.StatusCode, resp.Header.Get("Allow"))
		}
		if code := getJSON(t, r.base+"/api/stop-monitoring", &e); code != 405 {
			t.Errorf("GET stop-monitoring: %d", code)
		}
	})

	t.Run("stop pauses the counters and start resumes them", func(t *testing.T) {
		if code := post(t, r.base+"/api/stop-monitoring", nil); code != 200 {
			t.Fatalf("stop: %d", code)
		}
		var s StatusResponse
		getJSON(t, r.base+"/api/status", &s)
		if s.Monitoring || s.State != "paused" {
			t.Fatalf("after stop: monitoring=%v state=%q", s.Monitoring, s.State)
		}
		before := settle(t, r)
		getJSON(t, r.base+"/api/status", &s)
		time.Sleep(1500 * time.Millisecond) // at 10x the captures would add hundreds of packets
		getJSON(t, r.base+"/api/status", &s)
		if s.Packets != before {
			t.Errorf("packets went from %d to %d while paused", before, s.Packets)
		}
		var ev struct {
			Events []struct{ Kind string } `json:"events"`
		}
		getJSON(t, r.base+"/api/events?limit=1", &ev)
		if len(ev.Events) != 1 || ev.Events[0].Kind != "paused" {
			t.Errorf("latest event %+v, want paused", ev.Events)
		}
		if code := post(t, r.base+"/api/start-monitoring", nil); code != 200 {
			t.Fatalf("start: %d", code)
		}
		getJSON(t, r.base+"/api/status", &s)
		if !s.Monitoring || s.State != "running" {
			t.Fatalf("after start: monitoring=%v state=%q", s.Monitoring, s.State)
		}
		eventually(t, "packets to grow again", func() bool {
			getJSON(t, r.base+"/api/status", &s)
			return s.Packets > before
		})
	})

	t.Run("websocket", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(r.base, "http")+"/ws?topics=summary,sessions,events", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.CloseNow()
		conn.SetReadLimit(1 << 24)
		read := func() map[string]json.RawMessage {
			_, b, err := conn.Read(ctx)
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			var m map[string]json.RawMessage
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatalf("%v in %s", err, b)
			}
			return m
		}
		hello := read()
		if string(hello["type"]) != `"hello"` || string(hello["history"]) != "false" {
			t.Errorf("first message %v", hello)
		}
		var sum *Summary
		var flows []flowJSON
		var lastSeq uint64
		for sum == nil || len(flows) == 0 || sum.Seq <= lastSeq+1 {
			m := read()
			switch string(m["type"]) {
			case `"summary"`:
				var s Summary
				b, _ := json.Marshal(m)
				if err := json.Unmarshal(b, &s); err != nil {
					t.Fatal(err)
				}
				if sum == nil {
					lastSeq = s.Seq
				}
				sum = &s
			case `"sessions"`:
				if err := json.Unmarshal(m["flows"], &flows); err != nil {
					t.Fatal(err)
				}
			}
		}
		if sum.Totals.Packets == 0 || sum.Monitoring != "running" || len(sum.TopTalkers) == 0 || len(sum.Protocols) == 0 || sum.Clients < 1 {
			t.Errorf("summary %+v", sum)
		}
		if flows[0].ID == "" || flows[0].Client.IP == "" {
			t.Errorf("session update %+v", flows[0])
		}
		// System events arrive as they happen.
		post(t, r.base+"/api/stop-monitoring", nil)
		post(t, r.base+"/api/start-monitoring", nil)
		var kinds []string
		for len(kinds) < 2 {
			m := read()
			if string(m["type"]) == `"event"` {
				var ev struct{ Kind string }
				_ = json.Unmarshal(m["event"], &ev)
				kinds = append(kinds, ev.Kind)
			}
		}
		if !slices.Equal(kinds, []string{"paused", "resumed"}) {
			t.Errorf("events %v", kinds)
		}
	})

	t.Run("openapi", func(t *testing.T) {
		var doc map[string]any
		if code := getJSON(t, r.base+"/api/openapi.json", &doc); code != 200 || doc["openapi"] != "3.1.0" {
			t.Errorf("%d %v", code, doc["openapi"])
		}
	})
}

// settle waits, after a pause, until batches already read have landed:
// the packet count holds still for half a second and the live view has
// had time to fold in the last flows. It returns the packet count.
func settle(t *testing.T, r *running) uint64 {
	t.Helper()
	var s StatusResponse
	var n uint64
	eventually(t, "the counters to settle", func() bool {
		getJSON(t, r.base+"/api/status", &s)
		prev := s.Packets
		time.Sleep(500 * time.Millisecond)
		getJSON(t, r.base+"/api/status", &s)
		n = s.Packets
		return prev == n
	})
	return n
}

func mustTime(t *testing.T, s string) time.Time {
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}
