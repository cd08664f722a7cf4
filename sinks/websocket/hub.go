package websocket

import (
	"sync"
	"sync/atomic"
)

// hub is the set of connected clients. publish reads a snapshot without
// locking, so connects and disconnects never hold up the pipeline.
type hub struct {
	max int

	mu      sync.Mutex
	clients map[*client]struct{}
	closed  bool
	running sync.WaitGroup // connection goroutines of admitted clients

	snap atomic.Pointer[[]*client]
}

func newHub(max int) *hub {
	h := &hub{max: max, clients: map[*client]struct{}{}}
	h.snap.Store(&[]*client{})
	return h
}

// admitError says why a client was not admitted.
type admitError string

func (e admitError) Error() string { return string(e) }

// Reasons a client is not admitted.
const (
	errFull   admitError = "too many clients (max_clients); try again later"
	errClosed admitError = "the stream has ended: the pipeline is stopping"
)

// add admits c. The caller must call remove(c) when its connection ends.
func (h *hub) add(c *client) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return errClosed
	}
	if len(h.clients) >= h.max {
		return errFull
	}
	h.clients[c] = struct{}{}
	h.running.Add(1)
	h.publishSnapshot()
	return nil
}

// remove forgets c.
func (h *hub) remove(c *client) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.clients[c]; ok {
		delete(h.clients, c)
		h.running.Done()
		h.publishSnapshot()
	}
}

func (h *hub) publishSnapshot() {
	list := make([]*client, 0, len(h.clients))
	for c := range h.clients {
		list = append(list, c)
	}
	h.snap.Store(&list)
}

// snapshot is the current client list; do not modify it.
func (h *hub) snapshot() []*client { return *h.snap.Load() }

// count is the number of connected clients.
func (h *hub) count() int { return len(h.snapshot()) }

// close admits no more clients and ends every client's stream: each
// writes what it has queued and closes. It returns a channel closed when
// every connection goroutine has finished.
func (h *hub) close() <-chan struct{} {
	h.mu.Lock()
	h.closed = true
	for c := range h.clients {
		c.end()
	}
	h.mu.Unlock()
	done := make(chan struct{})
	go func() {
		h.running.Wait()
		close(done)
	}()
	return done
}

// closeNow closes every client's connection at once, without the
// closing handshake: for a forced stop, or clients that did not finish in
// time. It does not wait: closing a connection that is already closing
// waits for the library's own timeouts.
func (h *hub) closeNow() {
	for _, c := range h.snapshot() {
		c.closeNow()
	}
}
