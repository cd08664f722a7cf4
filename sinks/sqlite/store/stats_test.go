package store

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/nfpipe/nfpipe/pipeline/event"
)

// writeIPStats rolls records up at the default widths and stores them in
// transactions of per records, as the sink does.
func writeIPStats(t testing.TB, s *Store, recs []event.IPStatRec, per int) {
	t.Helper()
	for start := 0; start < len(recs); start += per {
		rows := &Rows{}
		for i := start; i < min(start+per, len(recs)); i++ {
			rows.IPStats = AppendRollups(rows.IPStats, "", DefaultRollups, &recs[i])
		}
		if err := s.Write(context.Background(), rows); err != nil {
			t.Fatal(err)
		}
	}
}

type totals struct{ bytesIn, bytesOut, pktsIn, pktsOut, flows, intervals int64 }

func TestRollupsSumToRawIntervals(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := b.open(t, "")
		base := time.Date(2024, 3, 1, 10, 17, 0, 0, time.UTC)  // not on an hour boundary
		recs := synthIPStats(60, 400, 10*time.Second, base, 1) // 66 minutes
		// Small transactions: buckets are written in many pieces.
		writeIPStats(t, s, recs, 997)
		var raw totals
		perIP := map[string]totals{}
		for _, r := range recs {
			raw.bytesIn += int64(r.BytesIn)
			raw.bytesOut += int64(r.BytesOut)
			raw.pktsIn += int64(r.PacketsIn)
			raw.pktsOut += int64(r.PacketsOut)
			raw.flows += int64(r.Flows)
			raw.intervals++
			p := perIP[r.IP.String()]
			p.bytesIn += int64(r.BytesIn)
			p.bytesOut += int64(r.BytesOut)
			perIP[r.IP.String()] = p
		}
		for _, w := range DefaultRollups {
			var got totals
			err := s.DB().NewRaw(`SELECT SUM(bytes_in), SUM(bytes_out), SUM(packets_in), SUM(packets_out), SUM(flows), SUM(intervals)
				FROM ip_stats WHERE res = ?`, int64(w/time.Second)).Scan(context.Background(),
				&got.bytesIn, &got.bytesOut, &got.pktsIn, &got.pktsOut, &got.flows, &got.intervals)
			if err != nil {
				t.Fatal(err)
			}
			if got != raw {
				t.Errorf("%v rollup sums %+v, raw intervals %+v", w, got, raw)
			}
			var misaligned int
			if err := s.DB().NewRaw("SELECT COUNT(*) FROM ip_stats WHERE res = ? AND bucket % ? <> 0", int64(w/time.Second), int64(w)).Scan(context.Background(), &misaligned); err != nil {
				t.Fatal(err)
			}
			if misaligned != 0 {
				t.Errorf("%v: %d buckets not aligned to the width", w, misaligned)
			}
		}
		// The hourly level has two buckets: 10:00 and 11:00.
		var hours int
		s.DB().NewRaw("SELECT COUNT(DISTINCT bucket) FROM ip_stats WHERE res = 3600").Scan(context.Background(), &hours)
		if hours != 2 {
			t.Errorf("%d hourly buckets, want 2", hours)
		}

		// Top talkers over the whole range agree with the raw records.
		top, err := s.TopTalkers(context.Background(), TopQuery{Limit: 5})
		if err != nil {
			t.Fatal(err)
		}
		type kv struct {
			ip string
			b  int64
		}
		var want []kv
		for ip, p := range perIP {
			want = append(want, kv{ip, p.bytesIn + p.bytesOut})
		}
		sort.Slice(want, func(i, j int) bool {
			if want[i].b != want[j].b {
				return want[i].b > want[j].b
			}
			return want[i].ip < want[j].ip
		})
		if top.Source != "ip_stats" || top.Resolution != time.Minute || len(top.Talkers) != 5 {
			t.Fatalf("top: source %q resolution %v, %d talkers", top.Source, top.Resolution, len(top.Talkers))
		}
		for i, tk := range top.Talkers {
			if tk.IP != want[i].ip || tk.Bytes != want[i].b {
				t.Errorf("talker %d: %s %d bytes, want %s %d", i, tk.IP, tk.Bytes, want[i].ip, want[i].b)
			}
		}

		// A time series of the total sums to the bytes sent.
		pts, err := s.TimeSeries(context.Background(), SeriesQuery{Since: base, Until: base.Add(70 * time.Minute), Bucket: 5 * time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		var sum int64
		for _, p := range pts {
			sum += p.Bytes
			if p.Time.UnixNano()%int64(5*time.Minute) != 0 {
				t.Errorf("point at %v is not on a 5m boundary", p.Time)
			}
		}
		if sum != raw.bytesOut {
			t.Errorf("series sums to %d bytes, want %d", sum, raw.bytesOut)
		}
		if len(pts) != 15 { // 10:15 … 11:25
			t.Errorf("%d points, want 15", len(pts))
		}

		// One address's history sums to its records.
		ip := want[0].ip
		hist, err := s.IPHistory(context.Background(), IPHistoryQuery{IP: ip})
		if err != nil {
			t.Fatal(err)
		}
		var hin, hout int64
		for _, h := range hist {
			hin += h.BytesIn
			hout += h.BytesOut
		}
		if hin != perIP[ip].bytesIn || hout != perIP[ip].bytesOut {
			t.Errorf("history of %s: %d in %d out, want %d %d", ip, hin, hout, perIP[ip].bytesIn, perIP[ip].bytesOut)
		}
	})
}

func TestTopTalkersFromFlowsWithoutRollups(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := b.open(t, "")
		base := time.Unix(1700000000, 0).UTC()
		recs := synthFlows(6000, base, 11)
		writeFlows(t, s, recs, 2500)
		since, until := base.Add(time.Second), base.Add(4*time.Second)
		bytes := map[string]int64{}
		started := map[string]int64{}
		for i := range recs {
			f := &recs[i]
			if f.LastSeen < event.TimeOf(since) || f.LastSeen >= event.TimeOf(until) {
				continue
			}
			bytes[f.Client.IP.String()] += int64(f.Bytes())
			bytes[f.Server.IP.String()] += int64(f.Bytes())
			started[f.Client.IP.String()]++
		}
		for _, by := range []string{"bytes", "flows"} {
			top, err := s.TopTalkers(context.Background(), TopQuery{Since: since, Until: until, By: by, Limit: 3})
			if err != nil {
				t.Fatal(err)
			}
			if top.Source != "flows" || len(top.Talkers) != 3 {
				t.Fatalf("source %q, %d talkers", top.Source, len(top.Talkers))
			}
			for i, tk := range top.Talkers {
				if tk.Bytes != bytes[tk.IP] || tk.Flows != started[tk.IP] {
					t.Errorf("by %s #%d %s: %d bytes %d flows, want %d %d", by, i, tk.IP, tk.Bytes, tk.Flows, bytes[tk.IP], started[tk.IP])
				}
				if i > 0 {
					prev := top.Talkers[i-1]
					if (by == "bytes" && prev.Bytes < tk.Bytes) || (by == "flows" && prev.Flows < tk.Flows) {
						t.Errorf("by %s: not sorted at %d", by, i)
					}
				}
			}
		}
		// A series of one address from flows splits its bytes by who sent
		// them.
		ip := recs[10].Client.IP.String()
		var sent, recv int64
		for i := range recs {
			f := &recs[i]
			switch ip {
			case f.Client.IP.String():
				sent += int64(f.C2S.Bytes)
				recv += int64(f.S2C.Bytes)
			case f.Server.IP.String():
				sent += int64(f.S2C.Bytes)
				recv += int64(f.C2S.Bytes)
			}
		}
		pts, err := s.TimeSeries(context.Background(), SeriesQuery{IP: ip, Since: base, Until: base.Add(10 * time.Second), Bucket: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		var gotOut, gotIn int64
		for _, p := range pts {
			gotOut += p.BytesOut
			gotIn += p.BytesIn
			if p.BytesIn+p.BytesOut != p.Bytes {
				t.Errorf("point %v: in %d + out %d != %d", p.Time, p.BytesIn, p.BytesOut, p.Bytes)
			}
		}
		if gotOut != sent || gotIn != recv {
			t.Errorf("series of %s: out %d in %d, want %d %d", ip, gotOut, gotIn, sent, recv)
		}

		// Countries: every flow with a server in Germany counts once for DE.
		var de int64
		for i := range recs {
			f := &recs[i]
			if f.Server.Geo != nil && f.Server.Geo.CountryCode == "DE" {
				de += int64(f.Bytes())
			}
		}
		cs, err := s.Countries(context.Background(), CountryQuery{})
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, c := range cs {
			if c.Code == "DE" {
				found = true
				if c.Bytes != de || c.Name != "Germany" {
					t.Errorf("DE: %d bytes (%q), want %d", c.Bytes, c.Name, de)
				}
			}
		}
		if !found || len(cs) != 2 {
			t.Errorf("countries %+v, want DE and US", cs)
		}
	})
}

// TestMergeKeepsItsInput checks that merging leaves the rows intact, so a
// failed write retried with them adds each increment once.
func TestMergeKeepsItsInput(t *testing.T) {
	rows := []IPStat{
		{Res: 60, Bucket: 0, IP: "10.0.0.1", BytesIn: 1, Peers: 3, Intervals: 1},
		{Res: 60, Bucket: 0, IP: "10.0.0.2", BytesIn: 10, Intervals: 1},
		{Res: 60, Bucket: 0, IP: "10.0.0.1", BytesIn: 2, Peers: 5, Intervals: 1},
	}
	for range 2 {
		m := MergeIPStats(rows)
		if len(m) != 2 || m[0].BytesIn != 3 || m[0].Peers != 5 || m[0].Intervals != 2 || m[1].BytesIn != 10 {
			t.Fatalf("merged %+v", m)
		}
	}
	if rows[0].BytesIn != 1 || len(rows) != 3 {
		t.Errorf("input changed: %+v", rows)
	}
}
