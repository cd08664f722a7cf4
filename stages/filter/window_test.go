package filter

import "testing"

func TestWindowCountsAndSlides(t *testing.T) {
	var w window
	w.reset()
	for idx := int64(100); idx < 110; idx++ {
		w.advance(idx)
		w.add(idx, 2, nil, 10)
		w.add(idx, 3, nil, 10)
	}
	if c, s := w.value(109, aggCount), w.value(109, aggSum); c != 20 || s != 50 {
		t.Errorf("count %v sum %v, want 20 50", c, s)
	}
	// Slices 100..103 fall out when the window ends at 115 (12 slices).
	w.advance(115)
	if c := w.value(115, aggCount); c != 12 {
		t.Errorf("after sliding: count %v, want 12", c)
	}
	if !w.live(115) || w.live(200) {
		t.Error("live")
	}
	// A jump further than the window forgets everything.
	w.advance(500)
	if c := w.value(500, aggCount); c != 0 {
		t.Errorf("after a jump: %v", c)
	}
}

func TestWindowDistinct(t *testing.T) {
	var w window
	w.reset()
	key := func(p int) *stateKey { k := keyOf(p); return &k }
	w.advance(0)
	for p := 0; p < 50; p++ {
		w.add(0, 0, key(p), 1000)
	}
	for p := 0; p < 50; p++ {
		w.add(0, 0, key(p), 1000) // repeats count once
	}
	if d := w.value(0, aggDistinct); d != 50 {
		t.Fatalf("distinct %v, want 50", d)
	}
	// Ports 0..9 seen again at slice 10 move there; the rest expire when
	// slice 0 leaves the window.
	w.advance(10)
	for p := 0; p < 10; p++ {
		w.add(10, 0, key(p), 1000)
	}
	if d := w.value(10, aggDistinct); d != 50 {
		t.Errorf("distinct at 10: %v, want 50", d)
	}
	w.advance(12)
	if d := w.value(12, aggDistinct); d != 10 {
		t.Errorf("distinct at 12: %v, want 10", d)
	}
	// A value whose slice was reused counts again once.
	w.add(12, 0, key(30), 1000)
	if d := w.value(12, aggDistinct); d != 11 {
		t.Errorf("distinct after re-adding an expired value: %v, want 11", d)
	}
	w.prune(12)
	if len(w.distinct) != 50 {
		// 50 entries is below the pruning floor: nothing is dropped yet.
		t.Errorf("pruned too early: %d", len(w.distinct))
	}
	for p := 100; p < 300; p++ {
		w.add(12, 0, key(p), 1000)
	}
	w.advance(30)
	w.prune(30)
	if len(w.distinct) != 0 {
		t.Errorf("stale values kept: %d", len(w.distinct))
	}
}

func TestWindowMaxValues(t *testing.T) {
	var w window
	w.reset()
	w.advance(1)
	dropped := 0
	for p := 0; p < 10; p++ {
		k := keyOf(p)
		if !w.add(1, 0, &k, 4) {
			dropped++
		}
	}
	if dropped != 6 || w.value(1, aggDistinct) != 4 || w.value(1, aggCount) != 10 {
		t.Errorf("dropped %d distinct %v count %v", dropped, w.value(1, aggDistinct), w.value(1, aggCount))
	}
}
