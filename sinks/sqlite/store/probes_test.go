package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nfpipe/nfpipe/pipeline/event"
)

// TestTwoProbesWriteAtOnce has two stores with different probe names
// write into one database concurrently, flows and rollups, then checks
// that queries for each probe and for all see exactly the right rows.
func TestTwoProbesWriteAtOnce(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		base := time.Unix(1700000000, 0).UTC()
		probes := []string{"edge-a", "edge-b"}
		stores := make([]*Store, len(probes))
		recs := make([][]event.FlowRec, len(probes))
		stats := make([][]event.IPStatRec, len(probes))
		// Both open at once: the schema migration must serialise.
		var wg sync.WaitGroup
		for i, p := range probes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				stores[i] = b.open(t, p)
			}()
		}
		wg.Wait()
		for i := range probes {
			if stores[i] == nil {
				t.FailNow()
			}
			recs[i] = synthFlows(6000, base, uint64(100+i))
			stats[i] = synthIPStats(50, 30, 10*time.Second, base, uint64(200+i))
		}
		errs := make(chan error, len(probes))
		for i := range probes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s := stores[i]
				const chunks = 12
				perStats := (len(stats[i]) + chunks - 1) / chunks
				for c := 0; c < chunks; c++ {
					rows := &Rows{}
					for j := c * 500; j < (c+1)*500; j++ {
						rows.Flows = append(rows.Flows, FlowFromRecord("", &recs[i][j]))
					}
					for j := c * perStats; j < min(len(stats[i]), (c+1)*perStats); j++ {
						rows.IPStats = AppendRollups(rows.IPStats, "", DefaultRollups, &stats[i][j])
					}
					if err := s.Write(context.Background(), rows); err != nil {
						errs <- fmt.Errorf("%s: %w", probes[i], err)
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		ctx := context.Background()
		s := stores[0]
		for i, p := range probes {
			var want []uint64
			for j := len(recs[i]) - 1; j >= 0; j-- {
				want = append(want, recs[i][j].ID)
			}
			got := allPages(t, s, FlowQuery{Probe: p, Limit: 2000})
			if !slices.Equal(got, want) {
				t.Errorf("probe %s: %d flows, want %d", p, len(got), len(want))
			}
			// An address only this probe saw is found for it and for all.
			ip := recs[i][4321].Client.IP.String()
			port := int(recs[i][4321].Client.Port)
			for _, q := range []FlowQuery{{Probe: p, IP: ip, Port: port}, {IP: ip, Port: port}} {
				page, err := s.Flows(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.ContainsFunc(page.Flows, func(f Flow) bool { return uint64(f.FlowID) == recs[i][4321].ID && f.Probe == p }) {
					t.Errorf("probe %s: query %+v misses its flow", p, q)
				}
			}
		}
		all := allPages(t, s, FlowQuery{Limit: 5000})
		if len(all) != len(recs[0])+len(recs[1]) {
			t.Errorf("all probes: %d flows, want %d", len(all), len(recs[0])+len(recs[1]))
		}
		seen := map[uint64]bool{}
		for _, id := range all {
			if seen[id] {
				t.Fatalf("flow %x returned twice across pages", id)
			}
			seen[id] = true
		}
		// Rollups are kept apart per probe and add up for all.
		var sum [2]int64
		for i, p := range probes {
			for _, r := range stats[i] {
				sum[i] += int64(r.BytesIn + r.BytesOut)
			}
			top, err := s.TopTalkers(ctx, TopQuery{Probe: p, Limit: 1000})
			if err != nil {
				t.Fatal(err)
			}
			var got int64
			for _, tk := range top.Talkers {
				got += tk.Bytes
			}
			if got != sum[i] {
				t.Errorf("probe %s: talkers sum to %d bytes, want %d", p, got, sum[i])
			}
		}
		top, err := s.TopTalkers(ctx, TopQuery{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		var got int64
		for _, tk := range top.Talkers {
			got += tk.Bytes
		}
		if got != sum[0]+sum[1] {
			t.Errorf("all probes: talkers sum to %d bytes, want %d", got, sum[0]+sum[1])
		}
		ps, err := s.Probes(ctx)
		if err != nil || !slices.Equal(ps, probes) {
			t.Errorf("probes %v (%v), want %v", ps, err, probes)
		}
	})
}

// TestReopenKeepsDataAndSchema closes and reopens a store: the data is
// still there and no migration runs twice.
func TestReopenKeepsDataAndSchema(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := b.open(t, "p")
		writeFlows(t, s, synthFlows(100, time.Unix(1700000000, 0), 1), 100)
		v1, err := s.SchemaVersion(context.Background())
		if err != nil || v1 == "" {
			t.Fatalf("schema version %q: %v", v1, err)
		}
		s.Close()
		s2 := b.open(t, "p")
		v2, err := s2.SchemaVersion(context.Background())
		if err != nil || v2 != v1 {
			t.Fatalf("schema version after reopen %q (%v), want %q", v2, err, v1)
		}
		if n := count(t, s2, "SELECT COUNT(*) FROM flows"); n != 100 {
			t.Errorf("%d flows after reopen, want 100", n)
		}
		if n := count(t, s2, "SELECT COUNT(*) FROM nfpipe_migrations"); n != 1 {
			t.Errorf("%d applied migrations recorded, want 1", n)
		}
		// A new writer starts a new block: the old one stays valid.
		writeFlows(t, s2, synthFlows(100, time.Unix(1700000100, 0), 2), 100)
		if got := len(allPages(t, s2, FlowQuery{Limit: 1000})); got != 200 {
			t.Errorf("%d flows found after reopen and write, want 200", got)
		}
	})
}

func TestAlertAndEventPages(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := b.open(t, "")
		ctx := context.Background()
		base := time.Unix(1700000000, 0).UTC()
		rows := &Rows{}
		for i := 0; i < 25; i++ {
			a := event.AlertRec{
				ID: fmt.Sprintf("a%d", i), Rule: []string{"scan", "big"}[i%2], Severity: "warning",
				Time:  event.TimeOf(base.Add(time.Duration(i/2) * time.Second)), // pairs share a time
				State: event.AlertFiring, Subject: "10.0.0.1", Message: "m", DedupKey: "k",
				Labels: map[string]string{"n": fmt.Sprint(i)},
				Flow:   &synthFlows(1, base, uint64(i))[0],
			}
			rows.Alerts = append(rows.Alerts, AlertFromRecord("", &a))
			rows.Events = append(rows.Events, Event{Time: base.Add(time.Duration(i/3) * time.Second).UnixNano(), Kind: "started", Message: fmt.Sprint(i)})
		}
		if err := s.Write(ctx, rows); err != nil {
			t.Fatal(err)
		}
		var ids []string
		q := AlertQuery{Limit: 4}
		for {
			p, err := s.Alerts(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range p.Alerts {
				ids = append(ids, a.AlertID)
			}
			if p.Next == "" {
				break
			}
			q.Cursor = p.Next
		}
		if len(ids) != 25 || ids[0] != "a24" || ids[24] != "a0" {
			t.Errorf("alerts paged as %v", ids)
		}
		p, err := s.Alerts(ctx, AlertQuery{Rule: "scan", Since: base.Add(5 * time.Second)})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Alerts) != 8 { // a10 a12 … a24
			t.Errorf("%d scan alerts since +5s, want 8", len(p.Alerts))
		}
		js, err := p.Alerts[0].MarshalJSON()
		if err != nil || !hasAll(js, `"rule":"scan"`, `"labels":{"n":"24"}`, `"record":{"kind":"flow"`) {
			t.Errorf("alert JSON %s (%v)", js, err)
		}
		var evs []string
		eq := EventQuery{Limit: 10}
		for {
			ep, err := s.Events(ctx, eq)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range ep.Events {
				evs = append(evs, e.Message)
			}
			if ep.Next == "" {
				break
			}
			eq.Cursor = ep.Next
		}
		if len(evs) != 25 || evs[0] != "24" || evs[24] != "0" {
			t.Errorf("events paged as %v", evs)
		}
	})
}

func hasAll(b []byte, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(string(b), p) {
			return false
		}
	}
	return true
}
