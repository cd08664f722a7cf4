package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/nfpipe/nfpipe/pipeline"
	"github.com/nfpipe/nfpipe/pipeline/config"
	"github.com/nfpipe/nfpipe/pipeline/event"
	"github.com/nfpipe/nfpipe/pipeline/pipetest"
	"github.com/nfpipe/nfpipe/pipeline/spec"
)

// eventually bounds every wait of these tests. It is generous: it only
// turns a hang into a failure and is never what a test measures.
const eventually = 60 * time.Second

// alertSource is a source stage the test feeds: every slice sent on its
// channel becomes one batch; closing the channel ends the source.
type alertSource struct{ feed chan []event.AlertRec }

func (s *alertSource) Run(ctx context.Context, env *pipeline.Env) error {
	for {
		select {
		case alerts, ok := <-s.feed:
			if !ok {
				return nil
			}
			b := env.NewBatch(event.Alert)
			b.Alerts = append(b.Alerts, alerts...)
			env.Emit(b)
		case <-ctx.Done():
			return nil
		}
	}
}

// collector is a sink that records the ids of the alerts it receives.
type collector struct {
	mu  sync.Mutex
	ids []string
}

func (c *collector) Run(ctx context.Context, env *pipeline.Env) error {
	for b := range env.Batches() {
		c.mu.Lock()
		for _, a := range b.Alerts {
			c.ids = append(c.ids, a.ID)
		}
		c.mu.Unlock()
	}
	return nil
}

func (c *collector) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.ids)
}

type noConfig struct{}

// harness is a pipeline of an alert source, a collector and the webhook
// sink, built from YAML in an isolated registry.
type harness struct {
	feed chan []event.AlertRec
	coll *collector
	p    *pipeline.Pipeline
	done chan error
	logs *pipetest.SyncBuffer
}

func newHarness(t *testing.T, yml string) *harness {
	t.Helper()
	h := &harness{feed: make(chan []event.AlertRec), coll: &collector{}, logs: &pipetest.SyncBuffer{}}
	r := pipeline.NewRegistry()
	pipeline.RegisterIn(r, &spec.Component{
		Name: "alertsrc", Role: spec.RoleStage, Summary: "test alerts", Source: true, Emits: event.KindsOf(event.Alert),
	}, func(*noConfig, *pipeline.BuildContext) (pipeline.Component, error) {
		return &alertSource{feed: h.feed}, nil
	})
	pipeline.RegisterIn(r, &spec.Component{
		Name: "collect", Role: spec.RoleSink, Summary: "test collector", Accepts: event.KindsOf(event.Alert),
	}, func(*noConfig, *pipeline.BuildContext) (pipeline.Component, error) { return h.coll, nil })
	pipeline.RegisterIn(r, Spec, New)
	cfg, errs := config.Parse("test.yaml", []byte(yml), func(string) (string, bool) { return "", false })
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	log := slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	p, errs := pipeline.FromConfig(cfg, pipeline.WithRegistry(r), pipeline.WithLogger(log))
	if len(errs.Fatal()) > 0 {
		t.Fatal(errs)
	}
	h.p = p
	h.done = make(chan error, 1)
	go func() { h.done <- p.Run(context.Background()) }()
	t.Cleanup(func() {
		select {
		case <-h.done:
		default:
			p.Kill()
		}
	})
	return h
}

// send emits one batch of alerts with the given ids.
func (h *harness) send(t *testing.T, ids ...string) {
	t.Helper()
	alerts := make([]event.AlertRec, len(ids))
	for i, id := range ids {
		alerts[i] = testAlert(id)
	}
	select {
	case h.feed <- alerts:
	case <-time.After(eventually):
		t.Fatal("the source could not emit: the pipeline is stalled")
	}
}

// finish ends the source and waits for the pipeline to stop.
func (h *harness) finish(t *testing.T) {
	t.Helper()
	close(h.feed)
	select {
	case err := <-h.done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(eventually):
		t.Fatal("the pipeline did not stop")
	}
}

// counter reads one of the webhook sink's counters.
func (h *harness) counter(name string) uint64 {
	cs, _ := h.p.Status().Component("hook")
	return cs.Counters[name]
}

func testAlert(id string) event.AlertRec {
	return event.AlertRec{
		ID: id, Rule: "port_scan", Severity: "critical", State: event.AlertFiring,
		Time:    event.TimeOf(time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)),
		Subject: "10.0.0.5", Message: "120 destination ports in 10s", DedupKey: "port_scan/10.0.0.5",
		Labels: map[string]string{"site": "lab"},
	}
}

func ids(prefix string, from, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%04d", prefix, from+i)
	}
	return out
}

// waitFor polls cond until it holds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(eventually)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// request is one request as a receiver saw it.
type request struct {
	ids      []string
	delivery string
	attempt  string
	status   int
}

// receiver is a webhook endpoint on loopback that checks signatures,
// answers 500 to its first failFirst requests, and can go down (its
// port refuses connections) and come back on the same port.
type receiver struct {
	t         *testing.T
	secret    []byte
	failFirst int
	addr      string
	// hold, when set, blocks every request until it is closed.
	hold chan struct{}
	// started gets a token for every request that has been read, before
	// hold (buffered, never blocks).
	started chan struct{}

	mu       sync.Mutex
	srv      *http.Server
	reqs     []request
	accepted map[string]int // alert id -> 2xx answers carrying it
	badSig   int
}

func newReceiver(t *testing.T, secret string, failFirst int) *receiver {
	r := &receiver{t: t, secret: []byte(secret), failFirst: failFirst, accepted: map[string]int{}, started: make(chan struct{}, 1<<16)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.addr = ln.Addr().String()
	r.serve(ln)
	t.Cleanup(r.down)
	return r
}

func (r *receiver) serve(ln net.Listener) {
	srv := &http.Server{Handler: http.HandlerFunc(r.handle)}
	r.mu.Lock()
	r.srv = srv
	r.mu.Unlock()
	go srv.Serve(ln)
}

// down closes the listener and every connection: the port now refuses
// connections.
func (r *receiver) down() {
	r.mu.Lock()
	srv := r.srv
	r.srv = nil
	r.mu.Unlock()
	if srv != nil {
		srv.Close()
	}
}

// up listens on the same port again.
func (r *receiver) up() {
	var ln net.Listener
	var err error
	for i := 0; i < 100; i++ {
		if ln, err = net.Listen("tcp", r.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		r.t.Fatalf("cannot listen on %s again: %v", r.addr, err)
	}
	r.serve(ln)
}

func (r *receiver) handle(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return
	}
	select {
	case r.started <- struct{}{}:
	default:
	}
	if r.hold != nil {
		<-r.hold
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.secret) > 0 {
		err := Verify(r.secret, req.Header.Get(HeaderTimestamp), body, req.Header.Get(HeaderSignature), 5*time.Minute, time.Now())
		if err != nil {
			r.badSig++
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
	}
	got := request{ids: alertIDs(r.t, body), delivery: req.Header.Get(HeaderDelivery), attempt: req.Header.Get(HeaderAttempt), status: http.StatusOK}
	if len(r.reqs) < r.failFirst {
		got.status = http.StatusInternalServerError
	}
	r.reqs = append(r.reqs, got)
	if got.status == http.StatusOK {
		for _, id := range got.ids {
			r.accepted[id]++
		}
	}
	w.WriteHeader(got.status)
}

// alertIDs reads the ids of a body: one alert object or an array.
func alertIDs(t *testing.T, body []byte) []string {
	var one struct {
		Kind string `json:"kind"`
		ID   string `json:"id"`
	}
	if len(body) > 0 && body[0] == '[' {
		var many []struct {
			Kind string `json:"kind"`
			ID   string `json:"id"`
		}
		if err := json.Unmarshal(body, &many); err != nil {
			t.Errorf("body is not a JSON array of alerts: %v: %s", err, body)
			return nil
		}
		var out []string
		for _, a := range many {
			out = append(out, a.ID)
		}
		return out
	}
	if err := json.Unmarshal(body, &one); err != nil || one.Kind != "alert" {
		t.Errorf("body is not an alert (%v): %s", err, body)
		return nil
	}
	return []string{one.ID}
}

func (r *receiver) snapshot() (reqs []request, accepted map[string]int, badSig int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	accepted = make(map[string]int, len(r.accepted))
	for k, v := range r.accepted {
		accepted[k] = v
	}
	return append([]request(nil), r.reqs...), accepted, r.badSig
}

func (r *receiver) acceptedCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.accepted)
}
