package host

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/nfpipe/nfpipe/pipeline/event"
	"github.com/nfpipe/nfpipe/plugins/codec"
	pluginv1 "github.com/nfpipe/nfpipe/plugins/proto/nfpipe/plugin/v1"
)

// Request is one batch, or the records [Lo, Hi) of it, to send.
type Request struct {
	Seq    uint64
	Batch  *event.Batch // read-only, held by the caller until answered
	Lo, Hi int
}

// Stream is an open Process stream. A sender and a receiver goroutine do
// the gRPC calls, so the caller never blocks on a slow or hung plugin: it
// selects on Responses and Done, keeps at most the window it opened the
// stream with in flight, and closes the stream when a batch times out.
type Stream struct {
	plugin *Plugin
	cancel context.CancelFunc
	sendq  chan Request
	resps  chan *pluginv1.ProcessResponse
	done   chan struct{}
	once   sync.Once
	err    error
	wg     sync.WaitGroup
	closeQ sync.Once
	// sendClosed tells an end of stream after CloseSend (the normal
	// finish) from a plugin that ended it on its own.
	sendClosed atomic.Bool
}

// ErrStreamClosed is the error of a stream that was closed by its owner.
var ErrStreamClosed = errors.New("stream closed")

// OpenStream opens the Process stream with room for window batches in
// flight. It ends with ctx.
func (p *Plugin) OpenStream(ctx context.Context, window int) (*Stream, error) {
	sctx, cancel := context.WithCancel(ctx)
	cs, err := p.Process(sctx)
	if err != nil {
		cancel()
		return nil, err
	}
	s := &Stream{
		plugin: p,
		cancel: cancel,
		sendq:  make(chan Request, window),
		resps:  make(chan *pluginv1.ProcessResponse, window),
		done:   make(chan struct{}),
	}
	s.wg.Add(2)
	go s.sendLoop(cs)
	go s.recvLoop(cs)
	return s, nil
}

// Plugin is the process serving the stream.
func (s *Stream) Plugin() *Plugin { return s.plugin }

// Send, CloseSend and Close are called by the stream's owner, one
// goroutine.

// Send queues a request. It never blocks while fewer than window requests
// are unanswered; it reports false when the stream has failed.
func (s *Stream) Send(r Request) bool {
	select {
	case <-s.done:
		return false
	default:
	}
	select {
	case s.sendq <- r:
		return true
	case <-s.done:
		return false
	}
}

// Responses delivers the answers in order.
func (s *Stream) Responses() <-chan *pluginv1.ProcessResponse { return s.resps }

// Done is closed when the stream has ended: the plugin closed it, it
// broke, or Close was called. Err says why.
func (s *Stream) Done() <-chan struct{} { return s.done }

// Err is why the stream ended (io.EOF when the plugin ended it after
// CloseSend); nil while it is open.
func (s *Stream) Err() error {
	select {
	case <-s.done:
		return s.err
	default:
		return nil
	}
}

// CloseSend tells the plugin no more requests follow; the plugin then
// answers what it has and ends the stream (Err is io.EOF).
func (s *Stream) CloseSend() {
	s.closeQ.Do(func() {
		s.sendClosed.Store(true)
		close(s.sendq)
	})
}

// Close ends the stream now with err (ErrStreamClosed when nil) and
// waits for its goroutines: once it returns, nothing reads the batches of
// the requests sent any more.
func (s *Stream) Close(err error) {
	if err == nil {
		err = ErrStreamClosed
	}
	s.fail(err)
	s.cancel()
	s.CloseSend()
	s.wg.Wait()
}

func (s *Stream) fail(err error) {
	s.once.Do(func() {
		s.err = err
		close(s.done)
	})
}

func (s *Stream) sendLoop(cs pluginv1.Plugin_ProcessClient) {
	defer s.wg.Done()
	var enc codec.Encoder
	broken := false
	for r := range s.sendq {
		select {
		case <-s.done:
			broken = true // the owner is giving the batches up: hands off
		default:
		}
		if broken {
			continue // the receiver reports why; keep draining
		}
		view := event.Batch{Kind: r.Batch.Kind}
		switch r.Batch.Kind {
		case event.Flow:
			view.Flows = r.Batch.Flows[r.Lo:r.Hi]
		case event.IPStat:
			view.IPStats = r.Batch.IPStats[r.Lo:r.Hi]
		case event.Alert:
			view.Alerts = r.Batch.Alerts[r.Lo:r.Hi]
		case event.Packet:
			view.Packets = r.Batch.Packets[r.Lo:r.Hi]
		}
		m, err := enc.Encode(&view)
		if err != nil {
			s.fail(fmt.Errorf("encode batch %d: %w", r.Seq, err))
			s.cancel()
			broken = true
			continue
		}
		if err := cs.Send(&pluginv1.ProcessRequest{Seq: r.Seq, Batch: m}); err != nil {
			broken = true
		}
	}
	if !broken {
		_ = cs.CloseSend() // fails only on a broken stream, which Recv reports
	}
}

func (s *Stream) recvLoop(cs pluginv1.Plugin_ProcessClient) {
	defer s.wg.Done()
	for {
		resp, err := cs.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) && s.sendClosed.Load() {
				s.fail(io.EOF)
			} else if errors.Is(err, io.EOF) {
				s.fail(errors.New("the plugin ended the process stream"))
			} else {
				s.fail(fmt.Errorf("process stream: %w", err))
			}
			s.cancel()
			return
		}
		select {
		case s.resps <- resp:
		case <-s.done:
			return
		}
	}
}
