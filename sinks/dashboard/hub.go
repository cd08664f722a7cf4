package dashboard

import (
	"sync"
	"sync/atomic"
)

// topic is a kind of WebSocket message a client receives.
type topic uint8

// Topics. Summaries and system events go to every client; session
// updates only to clients that ask for them (the sessions page), since
// they are the bulk of the traffic.
const (
	topicSummary topic = 1 << iota
	topicSessions
	topicEvents
)

var topicNames = map[string]topic{"summary": topicSummary, "sessions": topicSessions, "events": topicEvents}

// wsClient is one connected WebSocket client.
type wsClient struct {
	topics topic
	send   chan []byte   // encoded messages, shared read-only between clients
	kicked chan struct{} // closed when the client is dropped for being slow
	once   sync.Once
}

func (c *wsClient) kick() { c.once.Do(func() { close(c.kicked) }) }

// hub fans messages out to WebSocket clients. Every client has its own
// bounded queue; publish never blocks: a client whose queue is full is
// disconnected (its browser reconnects and starts fresh) so one slow
// reader can delay no one, least of all the pipeline.
type hub struct {
	mu      sync.RWMutex
	clients map[*wsClient]struct{}
	queue   int
	max     int

	messages, kicked *atomic.Uint64
	gauge            *atomic.Int64
	closing          atomic.Bool // set at shutdown: kicked clients are told why
}

func newHub(queue, max int) *hub {
	if queue <= 0 {
		queue = 64
	}
	if max <= 0 {
		max = 1000
	}
	return &hub{clients: map[*wsClient]struct{}{}, queue: queue, max: max,
		messages: new(atomic.Uint64), kicked: new(atomic.Uint64), gauge: new(atomic.Int64)}
}

func (h *hub) bind(messages, kicked *atomic.Uint64, gauge *atomic.Int64) {
	h.messages, h.kicked, h.gauge = messages, kicked, gauge
}

// add registers a client, or returns nil when the hub is full.
func (h *hub) add(topics topic) *wsClient {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.clients) >= h.max {
		return nil
	}
	c := &wsClient{topics: topics, send: make(chan []byte, h.queue), kicked: make(chan struct{})}
	h.clients[c] = struct{}{}
	h.gauge.Store(int64(len(h.clients)))
	return c
}

func (h *hub) remove(c *wsClient) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.clients, c)
	h.gauge.Store(int64(len(h.clients)))
}

// count returns the number of connected clients.
func (h *hub) count() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.clients)
}

// wants reports whether any client subscribed to t, so the sink can skip
// encoding messages nobody reads.
func (h *hub) wants(t topic) bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for c := range h.clients {
		if c.topics&t != 0 {
			return true
		}
	}
	return false
}

// publish queues msg to every client subscribed to t without blocking.
func (h *hub) publish(t topic, msg []byte) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for c := range h.clients {
		if c.topics&t == 0 {
			continue
		}
		select {
		case c.send <- msg:
			h.messages.Add(1)
		default:
			select {
			case <-c.kicked:
			default:
				h.kicked.Add(1)
				c.kick()
			}
		}
	}
}

// closeAll disconnects every client (at shutdown).
func (h *hub) closeAll() {
	h.closing.Store(true)
	h.mu.RLock()
	defer h.mu.RUnlock()
	for c := range h.clients {
		c.kick()
	}
}
