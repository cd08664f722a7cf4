package webhook

import (
	"context"
	"fmt"
	"testing"
	"time"
)

func mkItems(n int) []*item {
	out := make([]*item, n)
	for i := range out {
		out[i] = &item{id: fmt.Sprint(i), queued: time.Now()}
	}
	return out
}

func idsOf(items []*item) string {
	s := ""
	for _, it := range items {
		s += it.id + " "
	}
	return s
}

func TestQueueDropsOldestOrNewestWhenFull(t *testing.T) {
	for _, c := range []struct {
		dropOldest bool
		keep       string
		dropped    string
	}{
		{true, "2 3 4 ", "0 1 "},
		{false, "0 1 2 ", "3 4 "},
	} {
		q := newQueue(3, c.dropOldest)
		var dropped []*item
		for _, it := range mkItems(5) {
			if d := q.push(it); d != nil {
				dropped = append(dropped, d)
			}
		}
		if got := idsOf(q.drainAll()); got != c.keep {
			t.Errorf("dropOldest=%v: kept %q, want %q", c.dropOldest, got, c.keep)
		}
		if got := idsOf(dropped); got != c.dropped {
			t.Errorf("dropOldest=%v: dropped %q, want %q", c.dropOldest, got, c.dropped)
		}
	}
}

func TestQueueTakeBatches(t *testing.T) {
	ctx := context.Background()
	never := make(chan struct{})
	q := newQueue(100, true)
	for _, it := range mkItems(7) {
		q.push(it)
	}
	// A full batch goes at once, whatever the wait.
	if got := idsOf(q.take(ctx, never, 5, time.Hour)); got != "0 1 2 3 4 " {
		t.Errorf("first take = %q", got)
	}
	// Two left, fewer than the batch: they go once the oldest has waited.
	if got := idsOf(q.take(ctx, never, 5, 10*time.Millisecond)); got != "5 6 " {
		t.Errorf("second take = %q", got)
	}
	// Draining: what is queued goes at once; then an empty queue ends.
	draining := make(chan struct{})
	close(draining)
	q.push(&item{id: "7", queued: time.Now()})
	if got := idsOf(q.take(ctx, draining, 5, time.Hour)); got != "7 " {
		t.Errorf("take while draining = %q", got)
	}
	if got := q.take(ctx, draining, 5, time.Hour); got != nil {
		t.Errorf("take of an empty draining queue = %v, want nil", got)
	}
	// A cancelled context ends a wait.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if got := q.take(cctx, never, 5, time.Hour); got != nil {
		t.Errorf("take with a cancelled context = %v", got)
	}
}

func TestQueueTakeWakesOnPush(t *testing.T) {
	q := newQueue(10, true)
	got := make(chan []*item)
	go func() { got <- q.take(context.Background(), make(chan struct{}), 1, 0) }()
	q.push(&item{id: "x", queued: time.Now()})
	select {
	case items := <-got:
		if idsOf(items) != "x " {
			t.Errorf("took %q", idsOf(items))
		}
	case <-time.After(eventually):
		t.Fatal("take did not wake up on push")
	}
}

func TestDeduperForgetsAfterTheWindow(t *testing.T) {
	d := newDeduper(time.Minute)
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	if d.duplicate("a", t0) {
		t.Error("first a is a duplicate")
	}
	if !d.duplicate("a", t0.Add(30*time.Second)) {
		t.Error("a again within the window is not a duplicate")
	}
	if d.duplicate("a", t0.Add(61*time.Second)) {
		t.Error("a after the window is still a duplicate")
	}
	if d.duplicate("", t0) || d.duplicate("", t0) {
		t.Error("alerts without an id are never duplicates")
	}
	off := newDeduper(0)
	if off.duplicate("a", t0) || off.duplicate("a", t0) {
		t.Error("dedupe_window 0 must send every alert")
	}
	// Memory stays bounded whatever the window.
	big := newDeduper(time.Hour)
	for i := 0; i < maxRemembered+500; i++ {
		big.duplicate(fmt.Sprint(i), t0)
	}
	if len(big.seen) > maxRemembered {
		t.Errorf("remembers %d ids, bound is %d", len(big.seen), maxRemembered)
	}
}
