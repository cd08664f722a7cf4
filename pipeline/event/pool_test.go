package event

import (
	"runtime"
	"testing"
)

// TestPoolReusesAcrossGC: batches released to a pool come back with their
// capacity after a garbage collection, so a pipeline that runs through
// collections allocates no batches and grows no slices in steady state.
func TestPoolReusesAcrossGC(t *testing.T) {
	p := NewPool(Flow)
	cycle := func() {
		bs := make([]*Batch, 8)
		for i := range bs {
			bs[i] = p.Get()
			for range 256 {
				bs[i].Flows = append(bs[i].Flows, FlowRec{ID: 1})
			}
		}
		for _, b := range bs {
			b.Release()
		}
	}
	cycle()
	var held [8]*Batch
	if allocs := testing.AllocsPerRun(20, func() {
		runtime.GC()
		for i := range held {
			held[i] = p.Get()
		}
		for i, b := range held {
			if len(b.Flows) != 0 || cap(b.Flows) < 256 || b.refs.Load() != 1 {
				t.Fatalf("batch %d: %d flows, capacity %d, %d holders", i, len(b.Flows), cap(b.Flows), b.refs.Load())
			}
			b.Release()
		}
	}); allocs != 0 {
		t.Errorf("%v allocations per cycle with a collection in it, want 0", allocs)
	}
}

// TestPoolBound: a pool keeps at most maxFree batches.
func TestPoolBound(t *testing.T) {
	p := NewPool(Raw)
	bs := make([]*Batch, maxFree+10)
	for i := range bs {
		bs[i] = p.Get()
	}
	for _, b := range bs {
		b.Release()
	}
	if len(p.free) != maxFree {
		t.Errorf("pool keeps %d batches, want %d", len(p.free), maxFree)
	}
}
