package store

import (
	"context"
	"fmt"
	"time"
)

// TopQuery asks for the addresses with the most traffic in a range.
type TopQuery struct {
	Since, Until time.Time
	// By is "bytes" (default), "packets" or "flows".
	By string
	// Limit is the number of talkers: default 100.
	Limit int
	Probe string
}

// Talker is one address's totals over a range. In and out are as seen
// from the address: BytesOut are bytes it sent. Flows are the flows it
// started (as the client).
type Talker struct {
	IP          string `bun:"ip" json:"ip"`
	Bytes       int64  `bun:"bytes" json:"bytes"`
	Packets     int64  `bun:"packets" json:"packets"`
	Flows       int64  `bun:"flows" json:"flows"`
	BytesIn     int64  `bun:"bytes_in" json:"bytes_in"`
	BytesOut    int64  `bun:"bytes_out" json:"bytes_out"`
	PacketsIn   int64  `bun:"packets_in" json:"packets_in"`
	PacketsOut  int64  `bun:"packets_out" json:"packets_out"`
	CountryCode string `bun:"cc" json:"country_code,omitempty"`
	ASN         int64  `bun:"asn" json:"asn,omitempty"`
	ASOrg       string `bun:"as_org" json:"as_org,omitempty"`
}

// TopResult holds the talkers and says where they were computed from:
// Source "ip_stats" with Resolution the bucket width used (a range is
// widened to whole buckets), or "flows" when the store has no ip_stats
// (a pipeline without the ipstats stage).
type TopResult struct {
	Talkers    []Talker      `json:"talkers"`
	Source     string        `json:"source"`
	Resolution time.Duration `json:"resolution_ns,omitempty"`
}

var topOrder = map[string]string{
	"":        "bytes",
	"bytes":   "bytes",
	"packets": "packets",
	"flows":   "flows",
}

// TopTalkers ranks addresses by bytes, packets or flows over a range, like
// nfdump -s ip/bytes. It reads the ip_stats rollups, choosing the finest
// resolution that still covers the range, and falls back to the flows
// table when there are no rollups.
func (s *Store) TopTalkers(ctx context.Context, q TopQuery) (TopResult, error) {
	order, ok := topOrder[q.By]
	if !ok {
		return TopResult{}, badQuery("cannot rank by %q; use bytes, packets or flows", q.By)
	}
	since, until := sinceNS(q.Since), untilNS(q.Until)
	levels, err := s.levels(ctx)
	if err != nil {
		return TopResult{}, err
	}
	lvl, ok := pickLevel(levels, since, 0)
	if !ok {
		return s.topFromFlows(ctx, q, order)
	}
	var w where
	w.add("res = ?", lvl.res)
	w.add("bucket >= ?", alignDown(since, lvl.res))
	w.add("bucket < ?", until)
	if q.Probe != "" {
		w.add("probe = ?", q.Probe)
	}
	var out []Talker
	err = s.db.NewRaw(`SELECT ip,
		SUM(bytes_in) + SUM(bytes_out) AS bytes, SUM(packets_in) + SUM(packets_out) AS packets, SUM(flows) AS flows,
		SUM(bytes_in) AS bytes_in, SUM(bytes_out) AS bytes_out, SUM(packets_in) AS packets_in, SUM(packets_out) AS packets_out,
		MAX(cc) AS cc, MAX(asn) AS asn, MAX(as_org) AS as_org
		FROM ip_stats WHERE `+w.sql()+` GROUP BY ip ORDER BY `+order+` DESC, ip LIMIT ?`,
		append(w.args, limitOf(q.Limit))...).Scan(ctx, &out)
	if err != nil {
		return TopResult{}, err
	}
	return TopResult{Talkers: out, Source: "ip_stats", Resolution: time.Duration(lvl.res) * time.Second}, nil
}

// topFromFlows ranks the ends of the flows that ended in the range.
func (s *Store) topFromFlows(ctx context.Context, q TopQuery, order string) (TopResult, error) {
	f := flowFilter{since: sinceNS(q.Since), until: untilNS(q.Until), port: -1, proto: -1, probe: q.Probe}
	w, err := s.flowSpan(ctx, &f)
	if err != nil || w == nil {
		return TopResult{Source: "flows"}, err
	}
	cond := w.sql()
	args := append(append(append([]any(nil), w.args...), w.args...), limitOf(q.Limit))
	var out []Talker
	err = s.db.NewRaw(`SELECT ip,
		SUM(b_in) + SUM(b_out) AS bytes, SUM(p_in) + SUM(p_out) AS packets, SUM(fl) AS flows,
		SUM(b_in) AS bytes_in, SUM(b_out) AS bytes_out, SUM(p_in) AS packets_in, SUM(p_out) AS packets_out,
		MAX(cc) AS cc, MAX(asn) AS asn, MAX(as_org) AS as_org
		FROM (
			SELECT client_ip AS ip, s2c_bytes AS b_in, c2s_bytes AS b_out, s2c_packets AS p_in, c2s_packets AS p_out, 1 AS fl,
				client_cc AS cc, client_asn AS asn, client_as_org AS as_org FROM flows WHERE `+cond+`
			UNION ALL
			SELECT server_ip, c2s_bytes, s2c_bytes, c2s_packets, s2c_packets, 0,
				server_cc, server_asn, server_as_org FROM flows WHERE `+cond+`
		) AS ends GROUP BY ip ORDER BY `+order+` DESC, ip LIMIT ?`, args...).Scan(ctx, &out)
	return TopResult{Talkers: out, Source: "flows"}, err
}

// flowSpan turns a time range into conditions on flows that use the
// primary key: the id span of the blocks meeting the range, then the
// exact time test. It returns nil when no block meets the range.
func (s *Store) flowSpan(ctx context.Context, f *flowFilter) (*where, error) {
	var w where
	w.add("max_last >= ?", f.since)
	w.add("min_last < ?", f.until)
	if f.probe != "" {
		w.add("probe = ?", f.probe)
	}
	var span struct {
		Lo *int64 `bun:"lo"`
		Hi *int64 `bun:"hi"`
	}
	if err := s.db.NewRaw("SELECT MIN(lo_id) AS lo, MAX(hi_id) AS hi FROM flow_blocks WHERE "+w.sql(), w.args...).Scan(ctx, &span); err != nil {
		return nil, err
	}
	if span.Lo == nil {
		return nil, nil
	}
	var rw where
	rw.add("id >= ?", *span.Lo)
	rw.add("id <= ?", *span.Hi)
	if f.probe != "" {
		rw.add("probe = ?", f.probe)
	}
	f.rowConds(&rw)
	return &rw, nil
}

// alignDown rounds ns down to a multiple of res seconds.
func alignDown(ns, res int64) int64 {
	w := res * int64(time.Second)
	if ns <= -1<<62 {
		return ns
	}
	b := ns / w * w
	if ns < 0 && ns%w != 0 {
		b -= w
	}
	return b
}

// SeriesQuery asks for traffic over time, in buckets.
type SeriesQuery struct {
	// IP restricts the series to one address (its bytes in and out);
	// without it the series is the total traffic.
	IP           string
	Since, Until time.Time
	// Bucket is the point spacing; 0 picks one giving about 300 points.
	// It is rounded up to a multiple of the stored resolution.
	Bucket time.Duration
	Probe  string
}

// Point is one bucket of a series. Time is the bucket start.
type Point struct {
	Time    time.Time `json:"time"`
	Bytes   int64     `json:"bytes"`
	Packets int64     `json:"packets"`
	Flows   int64     `json:"flows"`
	// In and out are as seen from the address of an IP series. For the
	// total traffic from ip_stats they are the sums over every address
	// (each about equal to Bytes); from flows, out is client to server.
	BytesIn    int64 `json:"bytes_in"`
	BytesOut   int64 `json:"bytes_out"`
	PacketsIn  int64 `json:"packets_in"`
	PacketsOut int64 `json:"packets_out"`
}

type pointRow struct {
	T          int64 `bun:"t"`
	Bytes      int64 `bun:"bytes"`
	Packets    int64 `bun:"packets"`
	Flows      int64 `bun:"flows"`
	BytesIn    int64 `bun:"bytes_in"`
	BytesOut   int64 `bun:"bytes_out"`
	PacketsIn  int64 `bun:"packets_in"`
	PacketsOut int64 `bun:"packets_out"`
}

// TimeSeries returns bytes, packets and flows per bucket over a closed
// range (Since and Until are required), with empty buckets as zeros. From
// ip_stats, total traffic counts each packet once, at its sender (the sum
// of bytes_out); with the ipstats stage's top option, only the addresses
// it reported are counted. Without ip_stats, flows are counted in the
// bucket of their last packet.
func (s *Store) TimeSeries(ctx context.Context, q SeriesQuery) ([]Point, error) {
	if q.Since.IsZero() || q.Until.IsZero() || !q.Until.After(q.Since) {
		return nil, badQuery("a time series needs since before until")
	}
	ip := ""
	if q.IP != "" {
		var ok bool
		if ip, ok = normalizeIP(q.IP); !ok {
			return nil, badQuery("%q is not an IP address", q.IP)
		}
	}
	span := q.Until.Sub(q.Since)
	bucket := q.Bucket
	if bucket <= 0 {
		bucket = niceBucket(span / 300)
	}
	levels, err := s.levels(ctx)
	if err != nil {
		return nil, err
	}
	since, until := q.Since.UnixNano(), q.Until.UnixNano()
	var rows []pointRow
	if fine, ok := pickLevel(levels, since, 0); ok {
		// The bucket must be a multiple of a stored resolution.
		res := time.Duration(fine.res) * time.Second
		if bucket < res {
			bucket = res
		}
		if bucket%res != 0 {
			bucket = (bucket/res + 1) * res
		}
		lvl, _ := pickLevel(levels, since, bucket)
		if span/bucket > maxPoints {
			return nil, badQuery("%v buckets of %v are too many; ask for a coarser bucket", span/bucket, bucket)
		}
		bns := int64(bucket)
		var w where
		w.add("res = ?", lvl.res)
		w.add("bucket >= ?", alignDown(since, lvl.res))
		w.add("bucket < ?", until)
		if q.Probe != "" {
			w.add("probe = ?", q.Probe)
		}
		const inOut = ", SUM(bytes_in) AS bytes_in, SUM(bytes_out) AS bytes_out, SUM(packets_in) AS packets_in, SUM(packets_out) AS packets_out"
		sel := "SUM(bytes_out) AS bytes, SUM(packets_out) AS packets" + inOut
		if ip != "" {
			w.add("ip = ?", ip)
			sel = "SUM(bytes_in) + SUM(bytes_out) AS bytes, SUM(packets_in) + SUM(packets_out) AS packets" + inOut
		}
		err = s.db.NewRaw(fmt.Sprintf("SELECT (bucket / %d) * %d AS t, %s, SUM(flows) AS flows FROM ip_stats WHERE %s GROUP BY t ORDER BY t", bns, bns, sel, w.sql()), w.args...).Scan(ctx, &rows)
	} else {
		if span/bucket > maxPoints {
			return nil, badQuery("%v buckets of %v are too many; ask for a coarser bucket", span/bucket, bucket)
		}
		f := flowFilter{since: since, until: until, port: -1, proto: -1, probe: q.Probe, ip: ip}
		var w *where
		if w, err = s.flowSpan(ctx, &f); err == nil && w != nil {
			bns := int64(bucket)
			// From an address's side, out is what it sent: c2s when it
			// is the client.
			in, out := "s2c", "c2s"
			var dirArgs []any
			if ip != "" {
				in = "CASE WHEN client_ip = ? THEN s2c_%[1]s ELSE c2s_%[1]s END"
				out = "CASE WHEN client_ip = ? THEN c2s_%[1]s ELSE s2c_%[1]s END"
				dirArgs = []any{ip, ip, ip, ip}
			} else {
				in, out = "s2c_%[1]s", "c2s_%[1]s"
			}
			q := fmt.Sprintf("SELECT (last_seen / %d) * %d AS t, SUM(c2s_bytes + s2c_bytes) AS bytes, SUM(c2s_packets + s2c_packets) AS packets, COUNT(*) AS flows", bns, bns) +
				", SUM(" + fmt.Sprintf(in, "bytes") + ") AS bytes_in, SUM(" + fmt.Sprintf(out, "bytes") + ") AS bytes_out" +
				", SUM(" + fmt.Sprintf(in, "packets") + ") AS packets_in, SUM(" + fmt.Sprintf(out, "packets") + ") AS packets_out" +
				" FROM flows WHERE " + w.sql() + " GROUP BY t ORDER BY t"
			err = s.db.NewRaw(q, append(dirArgs, w.args...)...).Scan(ctx, &rows)
		}
	}
	if err != nil {
		return nil, err
	}
	return densify(rows, since, until, bucket), nil
}

// densify returns one point per bucket from the bucket holding since up
// to until, zeros where rows has none.
func densify(rows []pointRow, since, until int64, bucket time.Duration) []Point {
	bns := int64(bucket)
	start := since / bns * bns
	var out []Point
	j := 0
	for t := start; t < until; t += bns {
		p := Point{Time: time.Unix(0, t).UTC()}
		for j < len(rows) && rows[j].T < t {
			j++
		}
		if j < len(rows) && rows[j].T == t {
			r := &rows[j]
			p.Bytes, p.Packets, p.Flows = r.Bytes, r.Packets, r.Flows
			p.BytesIn, p.BytesOut, p.PacketsIn, p.PacketsOut = r.BytesIn, r.BytesOut, r.PacketsIn, r.PacketsOut
		}
		out = append(out, p)
	}
	return out
}

// niceBucket rounds d up to a width people read easily.
func niceBucket(d time.Duration) time.Duration {
	for _, b := range []time.Duration{
		time.Second, 5 * time.Second, 10 * time.Second, 30 * time.Second,
		time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
		time.Hour, 2 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour,
	} {
		if d <= b {
			return b
		}
	}
	return d.Truncate(24*time.Hour) + 24*time.Hour
}

// IPHistoryQuery asks for one address's counters over time.
type IPHistoryQuery struct {
	IP           string
	Since, Until time.Time
	// Bucket as in SeriesQuery; 0 uses the stored resolution.
	Bucket time.Duration
	Probe  string
}

// IPPoint is one bucket of an address's history. Peers and DstPorts are
// the largest distinct counts of the intervals in the bucket.
type IPPoint struct {
	Time       time.Time `bun:"-" json:"time"`
	T          int64     `bun:"t" json:"-"`
	BytesIn    int64     `bun:"bytes_in" json:"bytes_in"`
	BytesOut   int64     `bun:"bytes_out" json:"bytes_out"`
	PacketsIn  int64     `bun:"packets_in" json:"packets_in"`
	PacketsOut int64     `bun:"packets_out" json:"packets_out"`
	Flows      int64     `bun:"flows" json:"flows"`
	Peers      int64     `bun:"peers" json:"peers"`
	DstPorts   int64     `bun:"dst_ports" json:"dst_ports"`
}

// IPHistory returns an address's ip_stats buckets in a range, oldest
// first; buckets where it was silent are omitted.
func (s *Store) IPHistory(ctx context.Context, q IPHistoryQuery) ([]IPPoint, error) {
	ip, ok := normalizeIP(q.IP)
	if !ok {
		return nil, badQuery("%q is not an IP address", q.IP)
	}
	levels, err := s.levels(ctx)
	if err != nil {
		return nil, err
	}
	since, until := sinceNS(q.Since), untilNS(q.Until)
	lvl, ok := pickLevel(levels, since, q.Bucket)
	if !ok {
		return nil, nil
	}
	bucket := q.Bucket
	res := time.Duration(lvl.res) * time.Second
	if bucket < res {
		bucket = res
	}
	if bucket%res != 0 {
		bucket = (bucket/res + 1) * res
	}
	bns := int64(bucket)
	var w where
	w.add("ip = ?", ip)
	w.add("res = ?", lvl.res)
	w.add("bucket >= ?", alignDown(since, lvl.res))
	w.add("bucket < ?", until)
	if q.Probe != "" {
		w.add("probe = ?", q.Probe)
	}
	var out []IPPoint
	err = s.db.NewRaw(fmt.Sprintf(`SELECT (bucket / %d) * %d AS t, SUM(bytes_in) AS bytes_in, SUM(bytes_out) AS bytes_out,
		SUM(packets_in) AS packets_in, SUM(packets_out) AS packets_out, SUM(flows) AS flows,
		MAX(peers) AS peers, MAX(dst_ports) AS dst_ports
		FROM ip_stats WHERE %s GROUP BY t ORDER BY t`, bns, bns, w.sql()), w.args...).Scan(ctx, &out)
	for i := range out {
		out[i].Time = time.Unix(0, out[i].T).UTC()
	}
	return out, err
}

// CountryQuery asks for traffic per country in a range.
type CountryQuery struct {
	Since, Until time.Time
	Probe        string
	Limit        int
}

// CountryTraffic is the traffic of the flows with an end in a country:
// a flow between two countries counts for both, a flow within one
// country once.
type CountryTraffic struct {
	Code    string `bun:"cc" json:"country_code"`
	Name    string `bun:"country" json:"country,omitempty"`
	Bytes   int64  `bun:"bytes" json:"bytes"`
	Packets int64  `bun:"packets" json:"packets"`
	Flows   int64  `bun:"flows" json:"flows"`
}

// Countries sums the flows that ended in the range by the country of
// their ends (from the geo the flows carried), largest first: the data of
// a world map. Flows without geo are not counted.
func (s *Store) Countries(ctx context.Context, q CountryQuery) ([]CountryTraffic, error) {
	f := flowFilter{since: sinceNS(q.Since), until: untilNS(q.Until), port: -1, proto: -1, probe: q.Probe}
	w, err := s.flowSpan(ctx, &f)
	if err != nil || w == nil {
		return nil, err
	}
	cond := w.sql()
	args := append(append(append([]any(nil), w.args...), w.args...), limitOf(q.Limit))
	var out []CountryTraffic
	err = s.db.NewRaw(`SELECT cc, MAX(country) AS country, SUM(b) AS bytes, SUM(p) AS packets, COUNT(*) AS flows FROM (
			SELECT client_cc AS cc, client_country AS country, c2s_bytes + s2c_bytes AS b, c2s_packets + s2c_packets AS p
			FROM flows WHERE `+cond+` AND client_cc IS NOT NULL
			UNION ALL
			SELECT server_cc, server_country, c2s_bytes + s2c_bytes, c2s_packets + s2c_packets
			FROM flows WHERE `+cond+` AND server_cc IS NOT NULL AND (client_cc IS NULL OR client_cc <> server_cc)
		) AS ends GROUP BY cc ORDER BY bytes DESC, cc LIMIT ?`, args...).Scan(ctx, &out)
	return out, err
}
