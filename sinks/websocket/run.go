package websocket

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/nfpipe/nfpipe/pipeline"
	"github.com/nfpipe/nfpipe/pipeline/event"
)

// stopGrace bounds how long clients get, after the input ended and on top
// of write_timeout, to take what was queued for them.
const stopGrace = 5 * time.Second

// metrics are the sink's counters, looked up once in Run.
type metrics struct {
	clients                                      *atomic.Int64
	messages, events, filtered, dropped, refused *atomic.Uint64
}

func newMetrics(st *pipeline.Stats) *metrics {
	return &metrics{
		clients:  st.Gauge("clients"),
		messages: st.Counter("messages_sent"),
		events:   st.Counter("events_sent"),
		filtered: st.Counter("events_filtered"),
		dropped:  st.Counter("clients_dropped"),
		refused:  st.Counter("clients_refused"),
	}
}

// Run serves WebSocket clients and hands every input batch to them until
// the input ends; then clients get what is queued and a close.
func (s *Sink) Run(ctx context.Context, env *pipeline.Env) error {
	s.m = newMetrics(env.Stats())
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %w", s.cfg.Listen, err)
	}
	return s.serve(ctx, env, ln)
}

// serve runs the server on ln; Run and the benchmarks use it.
func (s *Sink) serve(ctx context.Context, env *pipeline.Env, ln net.Listener) error {
	s.mu.Lock()
	s.addr = ln.Addr()
	s.mu.Unlock()
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	s.log.Info("websocket stream listening", "url", "ws://"+displayAddr(ln.Addr())+s.cfg.Path, "auth", s.token != "")
	close(s.ready)

	in := env.Input()
	st := env.Stats()
loop:
	for {
		select {
		case b, ok := <-in:
			if !ok {
				break loop
			}
			env.Received(b)
			start := time.Now()
			s.publish(b)
			b.Release()
			st.AddBusy(time.Since(start))
		case err := <-serveErr:
			return fmt.Errorf("websocket server stopped: %w", err)
		case <-ctx.Done():
			// A forced stop: no draining.
			s.hub.close()
			s.hub.closeNow()
			srv.Close()
			return nil
		}
	}
	return s.shutdown(ctx, srv)
}

// publish encodes b once and offers it to every client that wants its
// kind. It never blocks: a client whose queue is full is kicked.
func (s *Sink) publish(b *event.Batch) {
	if b.Len() == 0 {
		return
	}
	clients := s.hub.snapshot()
	var f *frame
	for _, c := range clients {
		if !c.kinds.Has(b.Kind) {
			continue
		}
		if f == nil {
			f = newFrame(b)
		}
		if c.offer(f) {
			s.m.dropped.Add(1)
		}
	}
	if f != nil {
		f.release()
	}
}

// shutdown ends every client's stream, waits a bounded time for them to
// take what was queued, then stops the server.
func (s *Sink) shutdown(ctx context.Context, srv *http.Server) error {
	done := s.hub.close()
	t := time.NewTimer(s.cfg.WriteTimeout + stopGrace)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		s.log.Warn("websocket clients did not finish in time; closing them", "clients", s.hub.count())
		s.hub.closeNow()
	case <-ctx.Done():
		s.hub.closeNow()
	}
	// Shutdown does not touch the WebSocket connections (they were
	// hijacked from the server); they are closed above.
	sctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("websocket shutdown: %w", err)
	}
	return nil
}

// displayAddr renders a bound address for a URL, with 127.0.0.1 for an
// unspecified host.
func displayAddr(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}
