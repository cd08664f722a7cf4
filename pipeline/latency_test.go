package pipeline

import (
	"math"
	"testing"
	"time"
)

func TestBatchLatencyHistogram(t *testing.T) {
	s := newStats()
	for _, d := range []time.Duration{
		3 * time.Microsecond,  // first bucket (<= 5µs)
		5 * time.Microsecond,  // bounds are inclusive
		40 * time.Microsecond, // <= 50µs
		2 * time.Millisecond,  // <= 2.5ms
		3 * time.Second,       // beyond the last bound: +Inf only
	} {
		s.AddBusy(d)
	}
	h := s.snapshot().BatchLatency
	if len(h.Buckets) != len(BatchLatencyBuckets) {
		t.Fatalf("%d buckets for %d bounds", len(h.Buckets), len(BatchLatencyBuckets))
	}
	at := func(bound float64) uint64 {
		for i, b := range BatchLatencyBuckets {
			if b == bound {
				return h.Buckets[i]
			}
		}
		t.Fatalf("no bound %g", bound)
		return 0
	}
	for _, c := range []struct {
		bound float64
		want  uint64
	}{{5e-6, 2}, {10e-6, 2}, {50e-6, 3}, {1e-3, 3}, {2.5e-3, 4}, {2.5, 4}} {
		if got := at(c.bound); got != c.want {
			t.Errorf("bucket le=%g: %d, want %d", c.bound, got, c.want)
		}
	}
	if h.Count != 5 {
		t.Errorf("count %d, want 5", h.Count)
	}
	want := (3e-6 + 5e-6 + 40e-6 + 2e-3 + 3)
	if math.Abs(h.SumSeconds-want) > 1e-9 {
		t.Errorf("sum %g, want %g", h.SumSeconds, want)
	}
	if st := s.snapshot(); math.Abs(st.BusySeconds-want) > 1e-9 {
		t.Errorf("busy %g, want %g", st.BusySeconds, want)
	}
}

// TestAddBusyAllocatesNothing: it runs once per batch on every component.
func TestAddBusyAllocatesNothing(t *testing.T) {
	s := newStats()
	if n := testing.AllocsPerRun(1000, func() { s.AddBusy(123 * time.Microsecond) }); n != 0 {
		t.Errorf("AddBusy allocates %.1f times", n)
	}
}

func BenchmarkAddBusy(b *testing.B) {
	s := newStats()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		s.AddBusy(time.Duration(i&0xffff) * time.Microsecond)
	}
}
