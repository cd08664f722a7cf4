package dashboard

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nfpipe/nfpipe/pipeline/event"
)

// now is the reference time of relative ranges: the latest packet time
// seen (a replayed capture lives in its own time), else the wall clock.
func (d *Dashboard) now() time.Time {
	if _, _, _, _, _, clock := d.live.counts(); clock != 0 {
		return clock.Std()
	}
	return time.Now().UTC()
}

// span turns range or from/to into an absolute span.
func (d *Dashboard) span(rng time.Duration, from, to time.Time, step time.Duration) Span {
	if to.IsZero() {
		to = d.now()
	}
	if from.IsZero() {
		from = to.Add(-rng)
	}
	return Span{From: from, To: to, Step: step}
}

// liveReach is how far back the live per-IP minute buckets reach.
const liveReach = liveMinutes * time.Minute

func (d *Dashboard) apiSessions(w http.ResponseWriter, r *http.Request) {
	p := newParams(r, "ip", "port", "proto", "state", "country", "q", "sort", "order", "limit", "offset", "cursor")
	q := flowQuery{
		IP: p.ip("ip"), Port: p.port("port"), Proto: p.proto("proto"),
		State:   p.enum("state", "", sessionStates),
		Country: p.country("country"),
		Text:    strings.ToLower(p.str("q")),
		Sort:    p.enum("sort", "last_seen", sessionSorts),
		Limit:   p.int("limit", 50, 1, 1000),
		Offset:  p.int("offset", 0, 0, 10_000_000),
	}
	q.Desc = p.order(defaultOrder(q.Sort))
	if c := p.str("cursor"); c != "" {
		cur, err := decodeCursor(c)
		switch {
		case err != nil:
			p.fail("%v", err)
		case cur.Sort != q.Sort || cur.Desc != q.Desc:
			p.fail("cursor belongs to sort=%s order=%s; repeat the same sort and order, or drop the cursor", cur.Sort, orderName(cur.Desc))
		case p.str("offset") != "":
			p.fail("give either offset or cursor, not both")
		default:
			q.After = cur
		}
	}
	if !p.ok(w) {
		return
	}
	page := d.live.sessions(&q)
	active, _, _, _, _, _ := d.live.counts()
	b := make([]byte, 0, 256+len(page.Rows)*450)
	b = append(b, `{"source":"live","total":`...)
	b = strconv.AppendInt(b, int64(page.Total), 10)
	b = append(b, `,"offset":`...)
	b = strconv.AppendInt(b, int64(q.Offset), 10)
	b = append(b, `,"limit":`...)
	b = strconv.AppendInt(b, int64(q.Limit), 10)
	b = append(b, `,"active":`...)
	b = strconv.AppendInt(b, int64(active), 10)
	b = append(b, `,"sort":"`...)
	b = append(b, q.Sort...)
	b = append(b, `","order":"`...)
	b = append(b, orderName(q.Desc)...)
	b = append(b, '"')
	if page.Next != nil {
		b = append(b, `,"next_cursor":"`...)
		b = append(b, page.Next.encode()...)
		b = append(b, '"')
	}
	b = append(b, `,"sessions":[`...)
	for i := range page.Rows {
		if i > 0 {
			b = append(b, ',')
		}
		b = page.Rows[i].AppendJSON(b)
	}
	b = append(b, "]}\n"...)
	writeRaw(w, http.StatusOK, b)
}

// defaultOrder is descending for "most first" keys, ascending for names.
func defaultOrder(sort string) string {
	switch sort {
	case "client", "server", "port", "proto":
		return "asc"
	}
	return "desc"
}

func orderName(desc bool) string {
	if desc {
		return "desc"
	}
	return "asc"
}

// apiSession returns one flow of the live view by its id.
func (d *Dashboard) apiSession(w http.ResponseWriter, r *http.Request) {
	if p := newParams(r); !p.ok(w) {
		return
	}
	s := r.PathValue("id")
	id, err := strconv.ParseUint(s, 16, 64)
	if err != nil || len(s) > 16 {
		writeJSON(w, http.StatusBadRequest, apiError{Error: fmt.Sprintf("flow id %q: want the 16 hex digits of a flow's id", s)})
		return
	}
	d.live.mu.RLock()
	e := d.live.flows[id]
	var rec event.FlowRec
	ended := false
	if e != nil {
		rec, ended = e.rec, e.ended
	}
	d.live.mu.RUnlock()
	if e == nil {
		writeJSON(w, http.StatusNotFound, apiError{Error: "flow " + s + " is not in the live view (it ended long ago or was never seen)"})
		return
	}
	b := append([]byte(`{"active":`), strconv.FormatBool(!ended)...)
	b = append(b, `,"flow":`...)
	b = rec.AppendJSON(b)
	writeRaw(w, http.StatusOK, append(b, "}\n"...))
}

var talkerSorts = []string{"bytes", "packets", "flows"}

// ipRows answers a per-address query from the live view or the history,
// and says which it used.
func (d *Dashboard) ipRows(r *http.Request, rng time.Duration, from, to time.Time, by string, limit int) (rows []IPStat, source, note string, err error) {
	hist, hnote := d.historyState()
	ranged := rng > 0 || !from.IsZero()
	if ranged && hist != nil && (rng > liveReach || !from.IsZero()) {
		rows, err = hist.TopTalkers(r.Context(), d.span(rng, from, to, 0), by, limit)
		return rows, "history", "", err
	}
	if !ranged {
		return d.live.ipStats(0), "live", "", nil
	}
	minutes := int((rng + time.Minute - 1) / time.Minute)
	if rng > liveReach {
		note = fmt.Sprintf("%s; showing the last %d minutes held in memory", hnote, liveMinutes)
	}
	return d.live.ipStats(minutes), "live", note, nil
}

func (d *Dashboard) apiIPStats(w http.ResponseWriter, r *http.Request) {
	p := newParams(r, "sort", "order", "limit", "offset", "ip", "country", "range", "from", "to")
	by := p.enum("sort", "bytes", talkerSorts)
	asc := !p.order("desc")
	limit := p.int("limit", 100, 1, 10000)
	offset := p.int("offset", 0, 0, 10_000_000)
	ip := p.ip("ip")
	cc := p.country("country")
	rng, from, to := p.span(0)
	if !p.ok(w) {
		return
	}
	rows, source, note, err := d.ipRows(r, rng, from, to, by, limit+offset)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, apiError{Error: "history: " + err.Error()})
		return
	}
	rows = slices.DeleteFunc(rows, func(s IPStat) bool {
		return (ip.IsValid() && s.IP != ip.String()) || (cc != "" && (s.Geo == nil || s.Geo.CountryCode != cc))
	})
	rows = topN(rows, by, 0)
	if asc {
		slices.Reverse(rows)
	}
	total := len(rows)
	rows = rows[min(offset, len(rows)):]
	if len(rows) > limit {
		rows = rows[:limit]
	}
	resp := map[string]any{"source": source, "sort": by, "order": orderName(!asc), "total": total, "offset": offset, "limit": limit, "ips": rows}
	if rng > 0 {
		resp["range_seconds"] = rng.Seconds()
	}
	if note != "" {
		resp["note"] = note
	}
	writeJSON(w, http.StatusOK, resp)
}

func (d *Dashboard) apiTopTalkers(w http.ResponseWriter, r *http.Request) {
	p := newParams(r, "by", "limit", "range", "from", "to")
	by := p.enum("by", "bytes", talkerSorts)
	limit := p.int("limit", 10, 1, 1000)
	rng, from, to := p.span(5 * time.Minute)
	if !p.ok(w) {
		return
	}
	rows, source, note, err := d.ipRows(r, rng, from, to, by, limit)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, apiError{Error: "history: " + err.Error()})
		return
	}
	resp := map[string]any{"source": source, "by": by, "range_seconds": rng.Seconds(), "talkers": topN(rows, by, limit)}
	if note != "" {
		resp["note"] = note
	}
	writeJSON(w, http.StatusOK, resp)
}

// apiIP is the IP detail page: totals, peers, ports and a history chart.
func (d *Dashboard) apiIP(w http.ResponseWriter, r *http.Request) {
	p := newParams(r, "range", "limit")
	limit := p.int("limit", 20, 1, 1000)
	rng, _, _ := p.span(time.Hour)
	ip, err := netip.ParseAddr(r.PathValue("ip"))
	if err != nil {
		p.fail("%q is not an IP address", r.PathValue("ip"))
	}
	if !p.ok(w) {
		return
	}
	ip = ip.Unmap()
	row, found := d.live.ipRow(ip)
	peers, ports := d.live.peersOf(ip, limit)
	series, source, err := d.ipSeries(r, ip, rng)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, apiError{Error: "history: " + err.Error()})
		return
	}
	if !found && (source == "live" || len(series.T) == 0) {
		writeJSON(w, http.StatusNotFound, apiError{Error: ip.String() + " has not been seen"})
		return
	}
	resp := map[string]any{"ip": ip.String(), "peers": peers, "ports": ports, "history": series, "history_source": source}
	if found {
		resp["totals"] = row
	}
	writeJSON(w, http.StatusOK, resp)
}

// ipSeries is an address's (or, for an invalid ip, all) traffic per
// minute over rng, from history when the range exceeds the live view.
func (d *Dashboard) ipSeries(r *http.Request, ip netip.Addr, rng time.Duration) (Series, string, error) {
	hist, _ := d.historyState()
	if hist != nil && rng > liveReach {
		sp := d.span(rng, time.Time{}, time.Time{}, autoStep(rng, time.Minute))
		var s Series
		var err error
		if ip.IsValid() {
			s, err = hist.IPHistory(r.Context(), ip, sp)
		} else {
			s, err = hist.TimeSeries(r.Context(), sp)
		}
		return s, "history", err
	}
	ts, in, out, flows := d.live.ipMinutes(ip, int(min(rng, liveReach)/time.Minute))
	sum := make([]uint64, len(in))
	for i := range in {
		sum[i] = in[i] + out[i]
	}
	return Series{T: nonNil(ts), Bytes: sum, BytesIn: nonNil(in), BytesOut: nonNil(out), Flows: nonNil(flows), Packets: []uint64{}}, "live", nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// autoStep picks a step giving at most about 720 points.
func autoStep(rng, minStep time.Duration) time.Duration {
	step := max(minStep, rng/720)
	for _, s := range []time.Duration{time.Second, 5 * time.Second, 10 * time.Second, 30 * time.Second, time.Minute, 5 * time.Minute, 15 * time.Minute, time.Hour, 6 * time.Hour, 24 * time.Hour} {
		if s >= step {
			return s
		}
	}
	return step
}

// apiTimeseries returns the throughput series: the live samples for
// ranges they cover, else the history's.
func (d *Dashboard) apiTimeseries(w http.ResponseWriter, r *http.Request) {
	p := newParams(r, "range", "step", "ip")
	rng, _, _ := p.span(15 * time.Minute)
	var step time.Duration
	if s := p.str("step"); s != "" {
		var err error
		if step, err = time.ParseDuration(s); err != nil || step < time.Second || step > 24*time.Hour {
			p.fail("step=%q: want a duration from 1s to 24h", s)
		}
	}
	ip := p.ip("ip")
	if !p.ok(w) {
		return
	}
	if ip.IsValid() {
		s, source, err := d.ipSeries(r, ip, rng)
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, apiError{Error: "history: " + err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"source": source, "ip": ip.String(), "series": s})
		return
	}
	hist, note := d.historyState()
	if rng > d.sampler.span() && hist != nil {
		sp := d.span(rng, time.Time{}, time.Time{}, cmp.Or(step, autoStep(rng, time.Minute)))
		s, err := hist.TimeSeries(r.Context(), sp)
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, apiError{Error: "history: " + err.Error()})
			return
		}
		bps := make([]float64, len(s.T))
		for i := range s.T {
			bps[i] = float64(s.Bytes[i]) * 8 / sp.Step.Seconds()
		}
		writeJSON(w, http.StatusOK, map[string]any{"source": "history", "step_seconds": sp.Step.Seconds(), "t": s.T, "bps": bps, "series": s})
		return
	}
	step = cmp.Or(step, autoStep(rng, d.cfg.PushInterval))
	samples := d.sampler.series(time.Now().Add(-rng).UnixMilli())
	out := downsample(samples, step)
	resp := map[string]any{"source": "live", "step_seconds": step.Seconds(), "t": out.t, "bps": out.bps, "pps": out.pps, "fps": out.fps, "active": out.active}
	if rng > d.sampler.span() {
		resp["note"] = note + "; showing the last hour held in memory"
	}
	writeJSON(w, http.StatusOK, resp)
}

type columns struct {
	t             []int64
	bps, pps, fps []float64
	active        []int
}

// downsample averages samples into buckets of step.
func downsample(ss []sample, step time.Duration) columns {
	c := columns{t: []int64{}, bps: []float64{}, pps: []float64{}, fps: []float64{}, active: []int{}}
	ms := step.Milliseconds()
	var n int
	for _, s := range ss {
		b := s.T - s.T%ms
		if len(c.t) == 0 || c.t[len(c.t)-1] != b {
			finish(&c, n)
			c.t = append(c.t, b)
			c.bps, c.pps, c.fps, c.active = append(c.bps, 0), append(c.pps, 0), append(c.fps, 0), append(c.active, 0)
			n = 0
		}
		i := len(c.t) - 1
		c.bps[i] += s.BPS
		c.pps[i] += s.PPS
		c.fps[i] += s.FPS
		c.active[i] = s.Active
		n++
	}
	finish(&c, n)
	return c
}

func finish(c *columns, n int) {
	if n <= 1 || len(c.t) == 0 {
		return
	}
	i := len(c.t) - 1
	c.bps[i] /= float64(n)
	c.pps[i] /= float64(n)
	c.fps[i] /= float64(n)
}

// apiGeo returns traffic per country and per location for the map.
func (d *Dashboard) apiGeo(w http.ResponseWriter, r *http.Request) {
	p := newParams(r, "range", "limit")
	rng, _, _ := p.span(0)
	limit := p.int("limit", 1000, 1, maxPoints)
	if !p.ok(w) {
		return
	}
	countries, points, labelled := d.live.geoSnapshot()
	source := "live"
	hist, _ := d.historyState()
	if rng > 0 && hist != nil {
		var err error
		if countries, err = hist.Countries(r.Context(), d.span(rng, time.Time{}, time.Time{}, 0)); err != nil {
			writeJSON(w, http.StatusInternalServerError, apiError{Error: "history: " + err.Error()})
			return
		}
		source = "history"
	}
	slices.SortFunc(countries, func(a, b Country) int {
		if c := cmp.Compare(b.Bytes, a.Bytes); c != 0 {
			return c
		}
		return cmp.Compare(a.Code, b.Code)
	})
	slices.SortFunc(points, func(a, b GeoPoint) int { return cmp.Compare(b.Bytes, a.Bytes) })
	if len(points) > limit {
		points = points[:limit]
	}
	d.mu.Lock()
	geoStage := d.geoStage
	d.mu.Unlock()
	available := geoStage || len(countries) > 0
	resp := map[string]any{"source": source, "available": available, "geo_stage": geoStage, "countries": countries, "points": points, "labelled_flows": labelled}
	switch {
	case !available:
		resp["note"] = "no geo database: run make geoip and add a geoip stage to the pipeline"
	case len(countries) == 0:
		resp["note"] = "no located traffic yet (private and local addresses have no country)"
	}
	writeJSON(w, http.StatusOK, resp)
}

func (d *Dashboard) apiAlerts(w http.ResponseWriter, r *http.Request) {
	p := newParams(r, "severity", "state", "rule", "limit", "range", "from", "to")
	sev := p.str("severity")
	state := p.enum("state", "", []string{"firing", "resolved"})
	rule := p.str("rule")
	limit := p.int("limit", 100, 1, 10000)
	rng, from, to := p.span(0)
	if !p.ok(w) {
		return
	}
	list, total, firing := d.live.alertsSnapshot()
	source := "live"
	hist, _ := d.historyState()
	if (rng > 0 || !from.IsZero()) && hist != nil {
		var err error
		if list, err = hist.Alerts(r.Context(), d.span(rng, from, to, 0), limit*4); err != nil {
			writeJSON(w, http.StatusInternalServerError, apiError{Error: "history: " + err.Error()})
			return
		}
		source = "history"
	}
	out := make([]json.RawMessage, 0, min(limit, len(list)))
	for i := range list {
		a := &list[i]
		if (sev != "" && !strings.EqualFold(string(a.Severity), sev)) || (state != "" && string(a.State) != state) || (rule != "" && a.Rule != rule) {
			continue
		}
		out = append(out, a.AppendJSON(nil))
		if len(out) == limit {
			break
		}
	}
	d.mu.Lock()
	stage := d.alertsOn
	d.mu.Unlock()
	resp := map[string]any{"source": source, "available": stage || total > 0, "alerts_stage": stage, "total": total, "firing": firing, "alerts": out}
	if !stage && total == 0 {
		resp["note"] = "no alert rules configured: add a filter stage with rules to raise alerts"
	}
	writeJSON(w, http.StatusOK, resp)
}
