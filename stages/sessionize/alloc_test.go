package sessionize

import (
	"testing"
	"time"

	"github.com/nfpipe/nfpipe/pipeline/event"
)

func TestNoAllocationsForExistingFlow(t *testing.T) {
	d := &discard{}
	tb := NewTable(DefaultConfig(), d.emit)
	p := flowPacket(7, false)
	r := flowPacket(7, true)
	ts := event.Time(0)
	// AllocsPerRun rounds down, so each run adds 1000 packets: a result
	// of 0 means fewer than one allocation per 1000 packets on average.
	allocs := testing.AllocsPerRun(100, func() {
		for range 500 {
			ts += 1000
			p.TS, r.TS = ts, ts
			tb.Add(&p)
			tb.Add(&r)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per 1000 packets of an existing flow, want 0", allocs)
	}
	if tb.Len() != 1 {
		t.Fatalf("len %d", tb.Len())
	}
}

func TestNoAllocationsForNewFlowsInSteadyState(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cfg   Config
		batch bool
	}{
		// flows end by eviction: the table stays full
		{"eviction", Config{IdleTimeout: time.Hour, MaxSessions: 50_000}, false},
		// flows end by idle expiry, with interim reports on
		{"idle expiry", Config{IdleTimeout: 10 * time.Millisecond, UpdateInterval: time.Millisecond, MaxSessions: 1_000_000}, false},
		{"idle expiry, AddBatch", Config{IdleTimeout: 10 * time.Millisecond, UpdateInterval: time.Millisecond, MaxSessions: 1_000_000}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := &discard{}
			tb := NewTable(tc.cfg, d.emit)
			n := uint32(0)
			ps := make([]event.PacketRec, 1000)
			// add starts 1000 flows.
			add := func() {
				for i := range ps {
					ps[i] = flowPacket(n, false)
					ps[i].TS = event.Time(n) * 200
					n++
					if !tc.batch {
						tb.Add(&ps[i])
					}
				}
				if tc.batch {
					tb.AddBatch(ps)
				}
			}
			// Warm up: fill the slab and let the index reach its size.
			for range 300 {
				add()
			}
			started := tb.Stats().Started
			// AllocsPerRun rounds down: 0 means fewer than one allocation
			// per 1000 new flows.
			allocs := testing.AllocsPerRun(100, add)
			if allocs != 0 {
				t.Errorf("%v allocations per 1000 new flows, want 0", allocs)
			}
			if got := tb.Stats().Started - started; got < 100_000 {
				t.Fatalf("only %d flows started during the run", got)
			}
			if d.n == 0 {
				t.Fatal("no flow ended: not a steady state")
			}
		})
	}
}
