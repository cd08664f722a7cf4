package websocket

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/expr-lang/expr/vm"

	"github.com/nfpipe/nfpipe/pipeline/event"
)

// format is how a client receives events.
type format uint8

const (
	formatEvent format = iota // one JSON object per message
	formatArray               // one JSON array per input batch
)

var formatNames = map[string]format{"event": formatEvent, "array": formatArray}

// client is one subscriber. The publisher (the sink's Run) offers it
// frames without ever blocking; its connection's goroutine writes them.
type client struct {
	kinds  event.Kinds
	filter *vm.Program // nil: every event of kinds
	format format
	remote string

	queue  chan *frame
	kicked chan struct{} // closed when the queue overflowed

	mu   sync.Mutex
	done bool // no more frames: kicked, ended or gone

	conn atomic.Pointer[websocket.Conn] // once accepted, for a forced close
	// timedOut is set by the write watchdog before it closes the
	// connection, so the writer can tell a timeout from a client leaving.
	timedOut atomic.Bool

	// Owned by the writer goroutine.
	watchdog *time.Timer
	machine  vm.VM
	scratch  []byte
	sel      []int
}

// kickGrace is how long a kicked client's write in progress may go on
// before the connection is closed under it:
// long enough to finish a write to a client that is merely slow, so it
// still gets the close reason; a client that stopped reading can take
// neither, and is cut off then.
const kickGrace = time.Second

func newClient(kinds event.Kinds, filter *vm.Program, f format, queue int, remote string) *client {
	return &client{kinds: kinds, filter: filter, format: f, remote: remote,
		queue: make(chan *frame, queue), kicked: make(chan struct{})}
}

// closeNow closes the connection at once, without the closing
// handshake; a write in progress fails. It does not wait.
func (c *client) closeNow() {
	if conn := c.conn.Load(); conn != nil {
		// CloseNow waits for the connection's goroutines; nobody needs to.
		go conn.CloseNow()
	}
}

// offer queues f for the client, or, when its queue is full, marks the
// client kicked and reports true. It never blocks.
func (c *client) offer(f *frame) (kicked bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done {
		return false
	}
	f.retain()
	select {
	case c.queue <- f:
		return false
	default:
		f.release()
		c.done = true
		close(c.kicked)
		time.AfterFunc(kickGrace, c.closeNow)
		return true
	}
}

// isKicked reports whether the client was dropped for falling behind.
func (c *client) isKicked() bool {
	select {
	case <-c.kicked:
		return true
	default:
		return false
	}
}

// end tells the writer that nothing more will come: it writes what is
// queued and closes the connection.
func (c *client) end() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.done {
		c.done = true
		close(c.queue)
	}
}

// stop is called by the writer when it leaves: no frame is queued after
// it, and those already queued are released.
func (c *client) stop() {
	c.mu.Lock()
	c.done = true
	c.mu.Unlock()
	for {
		select {
		case f, ok := <-c.queue:
			if !ok {
				return
			}
			f.release()
		default:
			return
		}
	}
}

// selection returns the indexes of f's events that pass the client's
// filter (all of them without a filter: nil), and how many it rejected.
func (c *client) selection(f *frame) (sel []int, all bool, rejected int) {
	if c.filter == nil {
		return nil, true, 0
	}
	c.sel = c.sel[:0]
	for i := 0; i < f.len(); i++ {
		out, err := c.machine.Run(c.filter, f.env(i))
		if ok, _ := out.(bool); err == nil && ok {
			c.sel = append(c.sel, i)
		} else {
			rejected++
		}
	}
	return c.sel, false, rejected
}
