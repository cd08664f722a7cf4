package websocket

import (
	"strings"
	"testing"
)

// TestStuckWriteEndsAfterWriteTimeout: with a queue too long to
// overflow, a client that stopped reading is still dropped, by the write
// that cannot complete, and counted; the reading client gets everything.
func TestStuckWriteEndsAfterWriteTimeout(t *testing.T) {
	h := newHarness(t, `
buffer: {when_full: block}
client_queue: 1000000
write_timeout: 200ms
`)
	reader := mustDial(t, h.base, dialOpts{})
	mustDial(t, h.base, dialOpts{rcvbuf: 4096, noRead: true})
	waitFor(t, "two clients", func() bool { return h.gauge("clients") == 2 })
	pad := strings.Repeat("y", 1024)
	sent := 0
	for batch := 0; h.counter("clients_dropped") == 0; batch++ {
		if batch == 5000 {
			t.Fatal("the client that stopped reading was never dropped")
		}
		h.send(t, flowBatch(sent, 50, pad))
		sent += 50
		waitFor(t, "the reading client to keep up", func() bool { return reader.count() == sent })
	}
	waitFor(t, "the dropped client to be gone", func() bool { return h.gauge("clients") == 1 })
	h.send(t, flowBatch(sent, 50, pad))
	sent += 50
	h.finish(t)
	reader.wait(t)
	if reader.count() != sent {
		t.Errorf("reading client got %d of %d events", reader.count(), sent)
	}
	if d := h.counter("clients_dropped"); d != 1 {
		t.Errorf("clients_dropped = %d, want 1", d)
	}
}
