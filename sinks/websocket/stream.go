package websocket

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/coder/websocket"
)

// errWriteTimeout is a write that took longer than write_timeout.
var errWriteTimeout = errors.New("write took longer than write_timeout")

// Close reasons, short as the protocol requires (at most 123 bytes).
const (
	reasonSlow    = "client too slow: its queue overflowed; reconnect"
	reasonStopped = "pipeline stopped"
)

// stream writes the client's frames until it leaves, is kicked for
// falling behind, or its queue is closed at the end of the stream. It
// reports whether the connection is already being closed.
func (s *Sink) stream(ctx context.Context, conn *websocket.Conn, c *client) (closing bool) {
	// Nothing is read from clients; CloseRead answers pings and closes
	// and cancels ctx when the client goes away.
	ctx = conn.CloseRead(ctx)
	c.watchdog = time.AfterFunc(time.Hour, func() {
		c.timedOut.Store(true)
		c.closeNow()
	})
	c.watchdog.Stop()
	defer c.watchdog.Stop()
	s.log.Debug("websocket client connected", "remote", c.remote)
	for {
		// A kick takes precedence over what is still queued.
		select {
		case <-c.kicked:
			s.kick(conn, c)
			return true
		default:
		}
		select {
		case <-ctx.Done():
			s.log.Debug("websocket client left", "remote", c.remote)
			return false
		case <-c.kicked:
			s.kick(conn, c)
			return true
		case f, ok := <-c.queue:
			if !ok {
				_ = conn.Close(websocket.StatusGoingAway, reasonStopped)
				return true
			}
			err := s.write(conn, c, f)
			f.release()
			if err != nil {
				switch {
				case c.isKicked():
					// The write was cut off kickGrace after the kick.
					s.logKick(c)
				case errors.Is(err, errWriteTimeout):
					s.m.dropped.Add(1)
					s.log.Warn("websocket client disconnected: a write took longer than write_timeout", "remote", c.remote, "write_timeout", s.cfg.WriteTimeout)
				}
				return false
			}
		}
	}
}

// kick closes the connection of a client whose queue overflowed (the
// publisher counted it already). The close handshake runs on its own
// goroutine: a client that stopped reading never answers it, and the
// library bounds it with its own timeouts.
func (s *Sink) kick(conn *websocket.Conn, c *client) {
	s.logKick(c)
	go func() { _ = conn.Close(websocket.StatusPolicyViolation, reasonSlow) }()
}

func (s *Sink) logKick(c *client) {
	s.log.Warn("websocket client too slow; disconnected", "remote", c.remote, "client_queue", s.cfg.ClientQueue)
}

// write sends one frame's events that pass the client's filter.
func (s *Sink) write(conn *websocket.Conn, c *client, f *frame) error {
	sel, all, rejected := c.selection(f)
	if rejected > 0 {
		s.m.filtered.Add(uint64(rejected))
	}
	n := len(sel)
	if all {
		n = f.len()
	}
	if n == 0 {
		return nil
	}
	if c.format == formatArray {
		msg := f.buf
		if !all {
			c.scratch = append(c.scratch[:0], '[')
			for j, i := range sel {
				if j > 0 {
					c.scratch = append(c.scratch, ',')
				}
				c.scratch = append(c.scratch, f.event(i)...)
			}
			msg = append(c.scratch, ']')
			c.scratch = msg
		}
		if err := s.send(conn, c, msg); err != nil {
			return err
		}
		s.m.messages.Add(1)
		s.m.events.Add(uint64(n))
		return nil
	}
	for j := 0; j < n; j++ {
		i := j
		if !all {
			i = sel[j]
		}
		if err := s.send(conn, c, f.event(i)); err != nil {
			return err
		}
		s.m.messages.Add(1)
		s.m.events.Add(1)
	}
	return nil
}

// send writes one message. A watchdog closes the connection if the
// write takes longer than write_timeout: cheaper than a context with a
// deadline per message, which costs two allocations and a timer each.
func (s *Sink) send(conn *websocket.Conn, c *client, msg []byte) error {
	c.watchdog.Reset(s.cfg.WriteTimeout)
	err := conn.Write(context.Background(), websocket.MessageText, msg)
	c.watchdog.Stop()
	if err != nil && c.timedOut.Load() {
		return fmt.Errorf("write: %w", errWriteTimeout)
	}
	return err
}
