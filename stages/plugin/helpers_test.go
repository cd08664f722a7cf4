package plugin

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nfpipe/nfpipe/pipeline"
	"github.com/nfpipe/nfpipe/pipeline/config"
	"github.com/nfpipe/nfpipe/pipeline/event"
	"github.com/nfpipe/nfpipe/pipeline/spec"
)

// binDir holds the plugin programs built once for all tests.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "nfpipe-plugin-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var buildOnce sync.Once
var buildErr error

// plugins builds the test and example plugins (once) and returns the
// directory holding them.
func plugins(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		cmd := exec.Command("go", "build", "-o", binDir+string(filepath.Separator),
			"github.com/nfpipe/nfpipe/plugins/internal/testplugin",
			"github.com/nfpipe/nfpipe/examples/plugins/servicename",
			"github.com/nfpipe/nfpipe/examples/plugins/blocklist")
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("building the plugins: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binDir
}

// flowgen is a test source: Count flows (0: until stopped) in batches of
// Batch, one batch every Every. Flow i has ID i and server port 80+i%4.
type flowgen struct{ cfg *flowgenConfig }

type flowgenConfig struct {
	Count int           `yaml:"count"`
	Batch int           `yaml:"batch"`
	Every time.Duration `yaml:"every"`
	Kind  string        `yaml:"kind"`
}

func (g *flowgen) Run(ctx context.Context, env *pipeline.Env) error {
	kind, _ := event.ParseKind(g.cfg.Kind)
	for i := 0; g.cfg.Count == 0 || i < g.cfg.Count; {
		if ctx.Err() != nil {
			return nil
		}
		b := env.NewBatch(kind)
		for j := 0; j < g.cfg.Batch && (g.cfg.Count == 0 || i < g.cfg.Count); j++ {
			switch kind {
			case event.Flow:
				b.Flows = append(b.Flows, testFlow(i))
			case event.IPStat:
				b.IPStats = append(b.IPStats, event.IPStatRec{IP: netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), Flows: uint64(i)})
			}
			i++
		}
		env.Emit(b)
		if g.cfg.Every > 0 {
			select {
			case <-time.After(g.cfg.Every):
			case <-ctx.Done():
				return nil
			}
		}
	}
	return nil
}

func testFlow(i int) event.FlowRec {
	return event.FlowRec{
		ID: uint64(i), Event: event.FlowEnd, Proto: 6,
		Client:    event.Endpoint{IP: netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), Port: uint16(30000 + i%20000)},
		Server:    event.Endpoint{IP: netip.MustParseAddr("2001:db8::80"), Port: uint16(80 + i%4)},
		FirstSeen: event.Time(i) * 1e6, LastSeen: event.Time(i)*1e6 + 5e5,
		C2S: event.Counters{Packets: 3, Bytes: 180}, S2C: event.Counters{Packets: 2, Bytes: 1500},
		TCPState: event.TCPClosed, FlagsC2S: 0x1b, FlagsS2C: 0x1b, Reason: event.ReasonFIN,
	}
}

// collector is a test sink remembering every record it got.
type collector struct {
	mu      sync.Mutex
	flows   []event.FlowRec
	ipstats []event.IPStatRec
	alerts  []event.AlertRec
	batches int
}

func (c *collector) Run(ctx context.Context, env *pipeline.Env) error {
	for b := range env.Batches() {
		c.mu.Lock()
		c.batches++
		c.flows = append(c.flows, b.Flows...)
		c.ipstats = append(c.ipstats, b.IPStats...)
		c.alerts = append(c.alerts, b.Alerts...)
		c.mu.Unlock()
	}
	return nil
}

func (c *collector) snapshot() ([]event.FlowRec, []event.AlertRec) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]event.FlowRec(nil), c.flows...), append([]event.AlertRec(nil), c.alerts...)
}

type noConfig struct{}

// testRegistry holds the plugin stage, flowgen and a collector whose
// instances land in sinks by name.
func testRegistry(sinks map[string]*collector) *pipeline.Registry {
	r := pipeline.NewRegistry()
	pipeline.RegisterIn(r, componentSpec, build)
	pipeline.RegisterIn(r, &spec.Component{
		Name: "flowgen", Role: spec.RoleStage, Summary: "test source", Source: true, Emits: event.KindsOf(event.Flow, event.IPStat),
		Fields: []*spec.Field{
			spec.Int("count").Default("0").Description("records, 0 until stopped"),
			spec.Int("batch").Default("100").Description("records per batch"),
			spec.Duration("every").Default("0s").Description("pause between batches"),
			spec.Enum("kind", "flow", "ipstat").Default("flow").Description("kind of records"),
		},
	}, func(c *flowgenConfig, _ *pipeline.BuildContext) (pipeline.Component, error) { return &flowgen{c}, nil })
	var mu sync.Mutex
	pipeline.RegisterIn(r, &spec.Component{
		Name: "collect", Role: spec.RoleSink, Summary: "test sink", Accepts: event.AllKinds(),
	}, func(_ *noConfig, bc *pipeline.BuildContext) (pipeline.Component, error) {
		c := &collector{}
		mu.Lock()
		sinks[bc.Name] = c
		mu.Unlock()
		return c, nil
	})
	return r
}

// load writes yml to a pipeline file in a temporary directory (with
// BIN replaced by the plugin directory) and builds it.
func load(t testing.TB, yml string, opts ...pipeline.Option) *pipeline.Pipeline {
	t.Helper()
	p, errs := tryLoad(t, yml, opts...)
	if len(errs.Fatal()) > 0 {
		t.Fatalf("pipeline does not build:\n%v", errs)
	}
	return p
}

func tryLoad(t testing.TB, yml string, opts ...pipeline.Option) (*pipeline.Pipeline, spec.Errors) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "pipeline.yaml")
	yml = strings.ReplaceAll(yml, "BIN", plugins(t))
	if err := os.WriteFile(path, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, errs := config.Load(path)
	if len(errs.Fatal()) > 0 {
		t.Fatalf("config: %v", errs)
	}
	opts = append([]pipeline.Option{pipeline.WithLogger(slog.New(slog.DiscardHandler))}, opts...)
	return pipeline.FromConfig(cfg, opts...)
}

// component returns a component's status.
func component(t testing.TB, p *pipeline.Pipeline, name string) pipeline.ComponentStatus {
	t.Helper()
	st, ok := p.Status().Component(name)
	if !ok {
		t.Fatalf("no component %s", name)
	}
	return st
}

// waitFor polls cond until it holds, failing after a generous limit: the
// limit only guards against a hang, it is not what the test measures.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
