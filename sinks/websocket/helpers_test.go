package websocket

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/nfpipe/nfpipe/pipeline"
	"github.com/nfpipe/nfpipe/pipeline/config"
	"github.com/nfpipe/nfpipe/pipeline/event"
	"github.com/nfpipe/nfpipe/pipeline/spec"
)

// eventually bounds every wait of these tests. It only turns a hang into
// a failure; no test measures time.
const eventually = 60 * time.Second

// feedSource is a source stage the test feeds: every batch sent on its
// channel is emitted; closing the channel ends the source.
type feedSource struct{ feed chan *event.Batch }

func (s *feedSource) Run(ctx context.Context, env *pipeline.Env) error {
	for {
		select {
		case b, ok := <-s.feed:
			if !ok {
				return nil
			}
			out := env.NewBatch(b.Kind)
			out.Flows = append(out.Flows, b.Flows...)
			out.IPStats = append(out.IPStats, b.IPStats...)
			out.Alerts = append(out.Alerts, b.Alerts...)
			env.Emit(out)
		case <-ctx.Done():
			return nil
		}
	}
}

type noConfig struct{}

// harness runs a pipeline of a fed source and the websocket sink.
type harness struct {
	feed chan *event.Batch
	p    *pipeline.Pipeline
	sink *Sink
	done chan struct{} // closed when Run returned
	err  error         // what Run returned
	base string        // ws://host:port/events
}

func newHarness(t *testing.T, sinkFields string) *harness {
	t.Helper()
	h := &harness{feed: make(chan *event.Batch)}
	r := pipeline.NewRegistry()
	pipeline.RegisterIn(r, &spec.Component{
		Name: "feed", Role: spec.RoleStage, Summary: "test events", Source: true, Emits: streamKinds,
	}, func(*noConfig, *pipeline.BuildContext) (pipeline.Component, error) {
		return &feedSource{feed: h.feed}, nil
	})
	pipeline.RegisterIn(r, Spec, New)
	yml := "stages:\n  src: {type: feed}\nsinks:\n  ws:\n    type: websocket\n    inputs: [src]\n    listen: 127.0.0.1:0\n" + indent(sinkFields)
	cfg, errs := config.Parse("test.yaml", []byte(yml), func(string) (string, bool) { return "", false })
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	p, errs := pipeline.FromConfig(cfg, pipeline.WithRegistry(r), pipeline.WithLogger(log))
	if len(errs.Fatal()) > 0 {
		t.Fatal(errs)
	}
	h.p = p
	comp, _ := p.Component("ws")
	h.sink = comp.(*Sink)
	h.done = make(chan struct{})
	go func() {
		defer close(h.done)
		h.err = p.Run(context.Background())
	}()
	t.Cleanup(func() {
		p.Kill()
		<-h.done
	})
	select {
	case <-h.sink.Ready():
	case <-h.done:
		t.Fatalf("pipeline ended before serving: %v", h.err)
	}
	h.base = "ws://" + h.sink.Addr().String() + h.sink.cfg.Path
	return h
}

func indent(fields string) string {
	var b strings.Builder
	for _, line := range strings.Split(strings.TrimSpace(fields), "\n") {
		if line != "" {
			b.WriteString("    " + strings.TrimSpace(line) + "\n")
		}
	}
	return b.String()
}

// testWriter sends log lines to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// send emits a batch; it fails the test if the pipeline does not take it.
func (h *harness) send(t *testing.T, b *event.Batch) {
	t.Helper()
	select {
	case h.feed <- b:
	case <-time.After(eventually):
		t.Fatal("the source could not emit: the pipeline is stalled")
	}
}

// finish ends the source and waits for the pipeline to stop.
func (h *harness) finish(t *testing.T) {
	t.Helper()
	close(h.feed)
	select {
	case <-h.done:
		if h.err != nil {
			t.Fatal(h.err)
		}
	case <-time.After(eventually):
		t.Fatal("the pipeline did not stop")
	}
}

func (h *harness) counter(name string) uint64 {
	cs, _ := h.p.Status().Component("ws")
	return cs.Counters[name]
}

func (h *harness) gauge(name string) int64 {
	cs, _ := h.p.Status().Component("ws")
	return cs.Gauges[name]
}

// wsClient is a real WebSocket client that records what it receives.
type wsClient struct {
	conn *websocket.Conn
	done chan struct{}

	mu     sync.Mutex
	events []map[string]any // every event, in order (arrays flattened)
	msgs   int
	raw    []string // every message as received
	err    error    // why reading ended
}

// dialOpts tune a test client.
type dialOpts struct {
	header http.Header
	// rcvbuf, when set, is the socket's receive buffer: a small one makes
	// a client that does not read fall behind quickly.
	rcvbuf int
	// noRead leaves the connection unread until read is called.
	noRead bool
}

func dial(t *testing.T, url string, o dialOpts) (*wsClient, *http.Response, error) {
	t.Helper()
	hc := &http.Client{}
	if o.rcvbuf > 0 {
		d := &net.Dialer{Control: func(network, address string, rc syscall.RawConn) error {
			var serr error
			err := rc.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, o.rcvbuf)
			})
			if err != nil {
				return err
			}
			return serr
		}}
		hc.Transport = &http.Transport{DialContext: d.DialContext}
	}
	ctx, cancel := context.WithTimeout(context.Background(), eventually)
	defer cancel()
	conn, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: hc, HTTPHeader: o.header})
	if err != nil {
		return nil, resp, err
	}
	conn.SetReadLimit(64 << 20)
	c := &wsClient{conn: conn, done: make(chan struct{})}
	t.Cleanup(func() { conn.CloseNow() })
	if !o.noRead {
		go c.read()
	}
	return c, resp, nil
}

func mustDial(t *testing.T, url string, o dialOpts) *wsClient {
	t.Helper()
	c, resp, err := dial(t, url, o)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial %s: %v (status %d)", url, err, status)
	}
	return c
}

// read records messages until the connection ends.
func (c *wsClient) read() {
	defer close(c.done)
	for {
		_, data, err := c.conn.Read(context.Background())
		if err != nil {
			c.mu.Lock()
			c.err = err
			c.mu.Unlock()
			return
		}
		var evs []map[string]any
		if len(data) > 0 && data[0] == '[' {
			err = json.Unmarshal(data, &evs)
		} else {
			var one map[string]any
			err = json.Unmarshal(data, &one)
			evs = []map[string]any{one}
		}
		c.mu.Lock()
		c.msgs++
		c.raw = append(c.raw, string(data))
		if err != nil {
			c.err = fmt.Errorf("message is not JSON: %w: %s", err, data)
			c.mu.Unlock()
			return
		}
		c.events = append(c.events, evs...)
		c.mu.Unlock()
	}
}

func (c *wsClient) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.events)
}

// ids are the ids of the received events, in order.
func (c *wsClient) ids() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, len(c.events))
	for i, e := range c.events {
		key, _ := e["id"].(string)
		if e["kind"] == "ipstat" {
			key, _ = e["ip"].(string)
		}
		out[i] = fmt.Sprintf("%v:%s", e["kind"], key)
	}
	return out
}

// wait waits for the connection to end and returns its close status
// (-1 if it ended without a close frame).
func (c *wsClient) wait(t *testing.T) websocket.StatusCode {
	t.Helper()
	select {
	case <-c.done:
	case <-time.After(eventually):
		t.Fatal("the connection did not end")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var ce websocket.CloseError
	if errors.As(c.err, &ce) {
		return ce.Code
	}
	return -1
}

func (c *wsClient) closeReason() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var ce websocket.CloseError
	if errors.As(c.err, &ce) {
		return ce.Reason
	}
	return ""
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(eventually)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// testFlow is a flow whose server port and size vary with n, so filters
// select a known part of a stream. pad makes the JSON larger.
func testFlow(n int, pad string) event.FlowRec {
	port := uint16(80)
	if n%3 == 0 {
		port = 443
	}
	f := event.FlowRec{
		ID: uint64(n) + 1, Event: event.FlowEnd, Proto: 6,
		Client:    event.Endpoint{IP: netip.AddrFrom4([4]byte{10, 0, byte(n >> 8), byte(n)}), Port: uint16(40000 + n%20000)},
		Server:    event.Endpoint{IP: netip.MustParseAddr("192.0.2.10"), Port: port, Geo: &event.Geo{CountryCode: "DE"}},
		FirstSeen: event.Time(int64(n) * 1e9), LastSeen: event.Time(int64(n)*1e9 + 2e9),
		C2S:      event.Counters{Packets: 3, Bytes: uint64(100 * (n % 100))},
		S2C:      event.Counters{Packets: 2, Bytes: 1000},
		TCPState: event.TCPClosed, Reason: event.ReasonFIN,
	}
	if pad != "" {
		f.Attrs = map[string]string{"pad": pad}
	}
	return f
}

func flowBatch(from, n int, pad string) *event.Batch {
	b := event.NewBatch(event.Flow)
	for i := 0; i < n; i++ {
		b.Flows = append(b.Flows, testFlow(from+i, pad))
	}
	return b
}

func alertBatch(from, n int) *event.Batch {
	b := event.NewBatch(event.Alert)
	for i := 0; i < n; i++ {
		b.Alerts = append(b.Alerts, event.AlertRec{
			ID: fmt.Sprintf("alert-%d", from+i), Rule: "big_flow", Severity: "warning", State: event.AlertFiring,
			Subject: "10.0.0.1", Message: "a big flow", Labels: map[string]string{"n": fmt.Sprint(from + i)},
		})
	}
	return b
}

// eventKey is how the tests name an event: its kind and id (the address
// for an ipstat).
func eventKey(kind event.Kind, id string) string { return kind.String() + ":" + id }

// websocketDial dials with extra headers and, if host is set, that Host.
func websocketDial(ctx context.Context, rawURL string, header http.Header, host string) (*websocket.Conn, *http.Response, error) {
	return websocket.Dial(ctx, rawURL, &websocket.DialOptions{HTTPHeader: header, Host: host})
}
