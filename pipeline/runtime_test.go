package pipeline_test

import (
	"context"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nfpipe/nfpipe/pipeline"
	"github.com/nfpipe/nfpipe/pipeline/config"
	"github.com/nfpipe/nfpipe/pipeline/event"
	"github.com/nfpipe/nfpipe/pipeline/spec"
)

// counterSource emits Count packets in batches of Batch, or runs until
// stopped when Count is 0.
type counterSource struct {
	cfg *sourceConfig
}

type sourceConfig struct {
	Count int `yaml:"count"`
	Batch int `yaml:"batch"`
}

func (s *counterSource) Run(ctx context.Context, env *pipeline.Env) error {
	sent := 0
	for s.cfg.Count == 0 || sent < s.cfg.Count {
		if err := env.WaitResumed(ctx); err != nil {
			return nil
		}
		if ctx.Err() != nil {
			return nil
		}
		b := env.NewBatch(event.Packet)
		b.Shard = uint16(sent / s.cfg.Batch % 3)
		for i := 0; i < s.cfg.Batch && (s.cfg.Count == 0 || sent < s.cfg.Count); i++ {
			b.Packets = append(b.Packets, event.PacketRec{TS: event.Time(sent), WireLen: 100, Src: netip.MustParseAddr("10.0.0.1")})
			sent++
		}
		env.Emit(b)
		if s.cfg.Count == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	return nil
}

// collectSink records packet timestamps.
type collectSink struct {
	mu     sync.Mutex
	seen   []event.Time
	shards map[event.Time]uint16 // shard each packet arrived on
	slow   time.Duration
}

func (c *collectSink) Run(ctx context.Context, env *pipeline.Env) error {
	for b := range env.Batches() {
		c.mu.Lock()
		for _, p := range b.Packets {
			c.seen = append(c.seen, p.TS)
			if c.shards == nil {
				c.shards = map[event.Time]uint16{}
			}
			c.shards[p.TS] = b.Shard
		}
		c.mu.Unlock()
		time.Sleep(c.slow)
	}
	return nil
}

type sinkConfig struct {
	SlowMS int `yaml:"slow_ms"`
}

// passthrough copies packets to a new batch.
type passthrough struct{}

func (passthrough) Run(ctx context.Context, env *pipeline.Env) error {
	for b := range env.Batches() {
		out := env.NewBatch(event.Packet)
		out.Packets = append(out.Packets, b.Packets...)
		env.Emit(out)
	}
	return nil
}

type noConfig struct{}

func testRegistry(sinks map[string]*collectSink) *pipeline.Registry {
	r := pipeline.NewRegistry()
	pipeline.RegisterIn(r, &spec.Component{
		Name: "counter", Role: spec.RoleStage, Summary: "test source", Source: true, Emits: event.KindsOf(event.Packet),
		Fields: []*spec.Field{
			spec.Int("count").Default("0").Description("packets to emit, 0 = until stopped"),
			spec.Int("batch").Default("100").Description("batch size"),
		},
	}, func(c *sourceConfig, bc *pipeline.BuildContext) (pipeline.Component, error) {
		return &counterSource{c}, nil
	})
	pipeline.RegisterIn(r, &spec.Component{
		Name: "pass", Role: spec.RoleStage, Summary: "copy", Accepts: event.KindsOf(event.Packet), Passthrough: true, Shardable: true,
	}, func(c *noConfig, bc *pipeline.BuildContext) (pipeline.Component, error) { return passthrough{}, nil })
	pipeline.RegisterIn(r, &spec.Component{
		Name: "collect", Role: spec.RoleSink, Summary: "test sink", Accepts: event.KindsOf(event.Packet),
		Fields: []*spec.Field{spec.Int("slow_ms").Default("0").Description("sleep per batch")},
	}, func(c *sinkConfig, bc *pipeline.BuildContext) (pipeline.Component, error) {
		s := &collectSink{slow: time.Duration(c.SlowMS) * time.Millisecond}
		sinks[bc.Name] = s
		return s, nil
	})
	return r
}

func load(t *testing.T, yml string, sinks map[string]*collectSink) *pipeline.Pipeline {
	t.Helper()
	cfg, errs := config.Parse("test.yaml", []byte(yml), func(string) (string, bool) { return "", false })
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	p, errs := pipeline.FromConfig(cfg, pipeline.WithRegistry(testRegistry(sinks)))
	if len(errs.Fatal()) > 0 {
		t.Fatal(errs)
	}
	return p
}

func TestFanOutFanInDeliversEverything(t *testing.T) {
	sinks := map[string]*collectSink{}
	p := load(t, `
stages:
  src: {type: counter, count: 10000, batch: 128}
  a: {type: pass, inputs: [src]}
  b: {type: pass, inputs: [src]}
sinks:
  both: {type: collect, inputs: [a, b]}
  direct: {type: collect, inputs: [src]}
`, sinks)
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := len(sinks["both"].seen); got != 20000 {
		t.Errorf("fan-in sink got %d packets, want 20000", got)
	}
	if got := len(sinks["direct"].seen); got != 10000 {
		t.Errorf("direct sink got %d packets, want 10000", got)
	}
	st := p.Status()
	src, _ := st.Component("src")
	both, _ := st.Component("both")
	if src.EventsOut != 10000 || both.EventsIn != 20000 {
		t.Errorf("status: src out %d, both in %d", src.EventsOut, both.EventsIn)
	}
}

func TestDropNewestCountsDrops(t *testing.T) {
	sinks := map[string]*collectSink{}
	p := load(t, `
stages:
  src: {type: counter, count: 20000, batch: 100}
sinks:
  slow:
    type: collect
    inputs: [src]
    slow_ms: 2
    buffer: {max_batches: 2, when_full: drop_newest}
`, sinks)
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	st, _ := p.Status().Component("slow")
	got := uint64(len(sinks["slow"].seen))
	if st.Dropped == 0 {
		t.Fatal("expected drops with a tiny buffer and a slow sink")
	}
	if got+st.Dropped != 20000 {
		t.Errorf("received %d + dropped %d != 20000 sent", got, st.Dropped)
	}
}

func TestStopDrainsAndPauseHolds(t *testing.T) {
	sinks := map[string]*collectSink{}
	p := load(t, `
stages:
  src: {type: counter}
sinks:
  out: {type: collect, inputs: [src]}
`, sinks)
	done := make(chan error)
	go func() { done <- p.Run(context.Background()) }()
	time.Sleep(50 * time.Millisecond)
	p.Pause()
	time.Sleep(20 * time.Millisecond)
	before, _ := p.Status().Component("src")
	time.Sleep(50 * time.Millisecond)
	after, _ := p.Status().Component("src")
	if after.EventsOut-before.EventsOut > 100 { // at most one batch in flight
		t.Errorf("paused source kept emitting: %d -> %d", before.EventsOut, after.EventsOut)
	}
	p.Resume()
	time.Sleep(30 * time.Millisecond)
	resumed, _ := p.Status().Component("src")
	if resumed.EventsOut <= after.EventsOut {
		t.Error("source did not resume")
	}
	p.Stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, e := range p.Events() {
		kinds = append(kinds, e.Kind)
	}
	if got := strings.Join(kinds, ","); got != "started,paused,resumed,stopped" {
		t.Errorf("system events %q, want started,paused,resumed,stopped", got)
	}
	final, _ := p.Status().Component("src")
	if got := uint64(len(sinks["out"].seen)); got != final.EventsOut {
		t.Errorf("sink got %d of %d emitted", got, final.EventsOut)
	}
}

// passShard records which instance handled which input shard.
type passShard struct {
	mu  *sync.Mutex
	saw map[int]map[uint16]bool
}

func (p passShard) Run(ctx context.Context, env *pipeline.Env) error {
	for b := range env.Batches() {
		p.mu.Lock()
		if p.saw[env.Shard()] == nil {
			p.saw[env.Shard()] = map[uint16]bool{}
		}
		p.saw[env.Shard()][b.Shard] = true
		p.mu.Unlock()
		out := env.NewBatch(event.Packet)
		out.Packets = append(out.Packets, b.Packets...)
		env.Emit(out)
	}
	return nil
}

func TestShardsRouteBatchesByShard(t *testing.T) {
	sinks := map[string]*collectSink{}
	r := testRegistry(sinks)
	var mu sync.Mutex
	saw := map[int]map[uint16]bool{}
	pipeline.RegisterIn(r, &spec.Component{
		Name: "shardpass", Role: spec.RoleStage, Summary: "copy", Accepts: event.KindsOf(event.Packet), Passthrough: true, Shardable: true,
	}, func(c *noConfig, bc *pipeline.BuildContext) (pipeline.Component, error) {
		return passShard{&mu, saw}, nil
	})
	cfg, errs := config.Parse("t.yaml", []byte(`
stages:
  src: {type: counter, count: 9000, batch: 100}
  sp: {type: shardpass, inputs: [src], shards: 3}
sinks:
  out: {type: collect, inputs: [sp]}
`), func(string) (string, bool) { return "", false })
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	p, errs := pipeline.FromConfig(cfg, pipeline.WithRegistry(r))
	if len(errs.Fatal()) > 0 {
		t.Fatal(errs)
	}
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(sinks["out"].seen) != 9000 {
		t.Fatalf("sink got %d packets, want 9000", len(sinks["out"].seen))
	}
	for inst := 0; inst < 3; inst++ {
		if len(saw[inst]) != 1 || !saw[inst][uint16(inst)] {
			t.Errorf("instance %d handled shards %v, want only %d", inst, saw[inst], inst)
		}
	}
	// Batches keep their shard downstream of the sharded stage.
	for ts, sh := range sinks["out"].shards {
		if want := uint16(int(ts) / 100 % 3); sh != want {
			t.Fatalf("packet %d arrived on shard %d, want %d", ts, sh, want)
		}
	}
}

func TestShardsRejectedOnUnshardableComponents(t *testing.T) {
	cfg, _ := config.Parse("t.yaml", []byte(`stages:
  src: {type: counter, count: 1}
sinks:
  out: {type: collect, inputs: [src], shards: 2}
`), func(string) (string, bool) { return "", false })
	_, errs := pipeline.Check(cfg, pipeline.WithRegistry(testRegistry(map[string]*collectSink{})))
	if got := errs.Error(); got != "t.yaml:4:47: sinks.out.shards: a collect sink cannot be sharded; remove shards:" {
		t.Errorf("got %q", got)
	}
}
