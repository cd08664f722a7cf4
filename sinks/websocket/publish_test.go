package websocket

import (
	"sync/atomic"
	"testing"

	"github.com/nfpipe/nfpipe/pipeline/event"
)

func testMetrics() *metrics {
	return &metrics{
		clients: new(atomic.Int64), messages: new(atomic.Uint64), events: new(atomic.Uint64),
		filtered: new(atomic.Uint64), dropped: new(atomic.Uint64), refused: new(atomic.Uint64),
	}
}

// TestPublishEncodesOnceForAllClients: every client gets the same frame,
// so a batch is encoded once whatever the number of clients, and
// publishing allocates nothing per client.
func TestPublishEncodesOnceForAllClients(t *testing.T) {
	s := &Sink{hub: newHub(1000), m: testMetrics()}
	var clients []*client
	for i := 0; i < 50; i++ {
		c := newClient(streamKinds, nil, formatEvent, 4, "test")
		if err := s.hub.add(c); err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
	}
	alertsOnly := newClient(event.KindsOf(event.Alert), nil, formatEvent, 4, "test")
	if err := s.hub.add(alertsOnly); err != nil {
		t.Fatal(err)
	}
	b := flowBatch(0, 100, "")
	s.publish(b)
	first := <-clients[0].queue
	for _, c := range clients[1:] {
		if f := <-c.queue; f != first {
			t.Fatal("clients got different frames: the batch was encoded more than once")
		}
	}
	if len(alertsOnly.queue) != 0 {
		t.Error("a client of alerts only was offered flows")
	}
	if got := first.refs.Load(); got != int32(len(clients)) {
		t.Errorf("frame has %d holders, want one per client (%d)", got, len(clients))
	}
	for range clients {
		first.release()
	}

	// Allocations do not grow with the number of clients (frames and
	// their buffers are pooled).
	allocs := func(n int) float64 {
		h := &Sink{hub: newHub(1000), m: testMetrics()}
		var cs []*client
		for i := 0; i < n; i++ {
			c := newClient(streamKinds, nil, formatEvent, 4, "test")
			_ = h.hub.add(c)
			cs = append(cs, c)
		}
		return testing.AllocsPerRun(100, func() {
			h.publish(b)
			for _, c := range cs {
				(<-c.queue).release()
			}
		})
	}
	if raceEnabled {
		return // sync.Pool drops items at random under the race detector
	}
	if one, many := allocs(1), allocs(50); many > one {
		t.Errorf("publishing allocates %.1f times with 50 clients, %.1f with one", many, one)
	}
}

// TestSlowClientIsKickedWithoutBlocking: a full queue never blocks the
// publisher; the client is marked kicked and counted once.
func TestSlowClientIsKickedWithoutBlocking(t *testing.T) {
	s := &Sink{hub: newHub(10), m: testMetrics()}
	slow := newClient(streamKinds, nil, formatEvent, 2, "test")
	fast := newClient(streamKinds, nil, formatEvent, 100, "test")
	_ = s.hub.add(slow)
	_ = s.hub.add(fast)
	for i := 0; i < 10; i++ {
		s.publish(flowBatch(i, 1, ""))
	}
	if !slow.isKicked() {
		t.Fatal("the client with a full queue was not kicked")
	}
	if got := s.m.dropped.Load(); got != 1 {
		t.Errorf("clients_dropped = %d, want 1", got)
	}
	if len(fast.queue) != 10 {
		t.Errorf("the other client has %d batches, want 10", len(fast.queue))
	}
	slow.stop()
	if len(slow.queue) != 0 {
		t.Error("stop left frames queued")
	}
}
