package websocket

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/nfpipe/nfpipe/pipeline"
	"github.com/nfpipe/nfpipe/pipeline/config"
	"github.com/nfpipe/nfpipe/pipeline/event"
	"github.com/nfpipe/nfpipe/pipeline/spec"
)

// benchBatch is the batch size of the benchmark source, a typical flow
// batch.
const benchBatch = 256

// benchAhead is how many batches the source may run ahead of the slowest
// client: enough to keep every writer busy, few enough that no client
// queue overflows and memory stays flat.
const benchAhead = 32

var eventStart = []byte(`{"kind":`)

// benchSource emits total flows in batches, never more than benchAhead
// batches ahead of the slowest client.
type benchSource struct {
	total   int
	slowest func() int64
}

func (s *benchSource) Run(ctx context.Context, env *pipeline.Env) error {
	if env.WaitResumed(ctx) != nil {
		return nil
	}
	tmpl := flowBatch(0, benchBatch, "")
	for sent := 0; sent < s.total; sent += benchBatch {
		for int64(sent)-s.slowest() > benchAhead*benchBatch {
			if ctx.Err() != nil {
				return nil
			}
			time.Sleep(20 * time.Microsecond)
		}
		b := env.NewBatch(event.Flow)
		b.Flows = append(b.Flows, tmpl.Flows[:min(benchBatch, s.total-sent)]...)
		env.Emit(b)
	}
	return nil
}

// BenchmarkFanout100Clients measures how many events per second the sink
// delivers to each of 100 WebSocket clients on loopback: the source
// emits b.N flows and the clock stops when every client has received
// all of them. events/s is per client; deliveries/s counts every copy.
func BenchmarkFanout100Clients(b *testing.B) {
	for _, format := range []string{"array", "event"} {
		b.Run("format="+format, func(b *testing.B) { benchFanout(b, 100, format) })
	}
}

func benchFanout(b *testing.B, clients int, format string) {
	received := make([]atomic.Int64, clients)
	slowest := func() int64 {
		m := received[0].Load()
		for i := range received {
			m = min(m, received[i].Load())
		}
		return m
	}
	r := pipeline.NewRegistry()
	pipeline.RegisterIn(r, &spec.Component{Name: "bench", Role: spec.RoleStage, Summary: "benchmark flows", Source: true, Emits: event.KindsOf(event.Flow)},
		func(*noConfig, *pipeline.BuildContext) (pipeline.Component, error) {
			return &benchSource{total: b.N, slowest: slowest}, nil
		})
	pipeline.RegisterIn(r, Spec, New)
	yml := fmt.Sprintf(`
stages:
  src: {type: bench}
sinks:
  ws: {type: websocket, inputs: [src], listen: "127.0.0.1:0", format: %s, max_clients: %d, buffer: {when_full: block}}
`, format, clients)
	cfg, errs := config.Parse("bench.yaml", []byte(yml), func(string) (string, bool) { return "", false })
	if len(errs) > 0 {
		b.Fatal(errs)
	}
	p, errs := pipeline.FromConfig(cfg, pipeline.WithRegistry(r), pipeline.WithLogger(slog.New(slog.DiscardHandler)))
	if len(errs.Fatal()) > 0 {
		b.Fatal(errs)
	}
	p.Pause()
	done := make(chan error, 1)
	go func() { done <- p.Run(context.Background()) }()
	comp, _ := p.Component("ws")
	sink := comp.(*Sink)
	<-sink.Ready()
	url := "ws://" + sink.Addr().String() + "/events"

	var wg sync.WaitGroup
	for i := 0; i < clients; i++ {
		conn, _, err := websocket.Dial(context.Background(), url, nil)
		if err != nil {
			b.Fatal(err)
		}
		conn.SetReadLimit(16 << 20)
		wg.Add(1)
		go func(n *atomic.Int64) {
			defer wg.Done()
			defer conn.CloseNow()
			var msg bytes.Buffer
			for {
				_, rd, err := conn.Reader(context.Background())
				if err != nil {
					return
				}
				msg.Reset()
				if _, err := msg.ReadFrom(rd); err != nil {
					return
				}
				// Every event starts with its kind; nested objects have none.
				n.Add(int64(bytes.Count(msg.Bytes(), eventStart)))
			}
		}(&received[i])
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	p.Resume()
	for slowest() < int64(b.N) {
		time.Sleep(100 * time.Microsecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	wg.Wait()
	st, _ := p.Status().Component("ws")
	if st.Counters["clients_dropped"] != 0 {
		b.Fatalf("%d clients dropped", st.Counters["clients_dropped"])
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(b.N)*float64(clients)/elapsed.Seconds(), "deliveries/s")
}
