package sessionize

import (
	"context"
	"time"

	"github.com/nfpipe/nfpipe/pipeline"
	"github.com/nfpipe/nfpipe/pipeline/event"
	"github.com/nfpipe/nfpipe/pipeline/spec"
)

// Config is the stage's configuration, one field per spec field. The
// Table takes the same struct.
type Config struct {
	IdleTimeout    time.Duration `yaml:"idle_timeout"`
	ActiveTimeout  time.Duration `yaml:"active_timeout"`
	UpdateInterval time.Duration `yaml:"update_interval"`
	CloseLinger    time.Duration `yaml:"close_linger"`
	MaxSessions    int           `yaml:"max_sessions"`
}

// DefaultConfig returns the spec's defaults.
func DefaultConfig() Config {
	return Config{
		IdleTimeout: 300 * time.Second,
		CloseLinger: 5 * time.Second,
		MaxSessions: 1000000,
	}
}

// Validate checks what the field types cannot.
func (c *Config) Validate() error {
	var errs spec.FieldErrors
	if c.IdleTimeout <= 0 {
		errs = append(errs, &spec.FieldError{Field: "idle_timeout", Msg: "must be positive; use e.g. 300s"})
	}
	if c.ActiveTimeout > 0 && c.ActiveTimeout < time.Second {
		errs = append(errs, &spec.FieldError{Field: "active_timeout", Msg: "must be 0 (off) or at least 1s"})
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// batchSize is the number of flows per emitted batch.
const batchSize = 256

// Spec describes the sessionize stage.
var Spec = &spec.Component{
	Name:    "sessionize",
	Role:    spec.RoleStage,
	Summary: "Folds decoded packets into bidirectional flows with TCP state, per-direction counters and end reasons.",
	Description: `Packets are grouped by (IP protocol, both endpoints address:port, outer VLAN); both directions of a conversation form one flow. Protocols without ports (ICMP, GRE, ...) form one flow per address pair. Packets without IP addresses are counted in packets_no_address and skipped. The client is the side that sent the SYN; if the first packet seen is a SYN-ACK, its receiver; otherwise the first packet's sender, unless that packet goes from a well-known or service port to an ephemeral one, in which case the sender is the server.

Per direction the stage counts packets and bytes (the frame's length on the wire), ORs the TCP flags, and tracks the TCP state (SYN_SENT, SYN_RECEIVED, ESTABLISHED, FIN_WAIT, CLOSING, CLOSED, RESET) and the handshake RTT (from the client's last SYN to its ACK of the SYN-ACK). Every IP fragment counts as a packet of its flow: the decoder gives non-first fragments the ports of their first fragment (tshark, by contrast, counts a fragmented datagram once).

A flow ends with reason idle after idle_timeout without packets; fin or rst once it closed (both sides sent a FIN, or one sent a RST) and close_linger passed, so trailing ACKs and retransmitted RSTs are still counted in it; evicted when max_sessions is reached and it is the least recently seen open flow (a closed flow in its linger is ended first, with its own reason); shutdown when the input ends (flows still in their linger end with fin or rst). A SYN on a connection that has closed or is closing ends the old flow at once and starts a new one. While alive, a flow is reported as an update every active_timeout (reason active_timeout) and every update_interval (no reason), if it saw packets since its last report; updates carry running totals and the same id as the end.

Timeouts follow packet time (the newest packet timestamp seen), never the wall clock, so a replay gives the same flows on every run; on a quiet live link, flows expire when the next packet arrives. Timeouts are checked at least every second of packet time. The flow id is a 64-bit hash of the key and the first-seen time: stable for a flow's updates and end, the same on every replay, and never zero.

Flows are emitted in batches of up to 256, at the latest at the end of each input batch. When downstream is full the stage waits: flows are never dropped. Memory is bounded by max_sessions, at about 180 bytes per flow (measured with a million flows, table overhead included); the table never shrinks below its largest size.`,
	Stability: spec.Beta,
	Accepts:   event.KindsOf(event.Packet),
	Emits:     event.KindsOf(event.Flow),
	Fields: []*spec.Field{
		spec.Duration("idle_timeout").Default("300s").Description("End a flow after this much packet time without packets."),
		spec.Duration("active_timeout").Default("0s").Description("Report long flows every this often with reason active_timeout, like NetFlow's active timeout; 0 turns it off.").Ex("30m"),
		spec.Duration("update_interval").Default("0s").Description("Report every flow that saw packets every this often, for live views; 0 turns it off.").Ex("10s"),
		spec.Duration("close_linger").Default("5s").Description("Keep a closed TCP flow this long so trailing ACKs and RSTs are counted in it before it ends with fin or rst.").Adv(),
		spec.Int("max_sessions").Default("1000000").Min(1).Description("Most flows held at once; when full, the least recently seen flow is ended with reason evicted."),
	},
	Examples: []spec.Example{
		{Title: "Flows with live updates every 10 seconds", YAML: "inputs: [decode]\nidle_timeout: 120s\nupdate_interval: 10s\n"},
		{Title: "NetFlow-like export with a 30 minute active timeout", YAML: "inputs: [decode]\nidle_timeout: 15s\nactive_timeout: 30m\nmax_sessions: 2000000\n"},
	},
	Metrics: []spec.Metric{
		{Name: "flows_started", Doc: "counter: flows created"},
		{Name: "flows_ended", Doc: "counter: flows ended, for any reason"},
		{Name: "flows_evicted", Doc: "counter: flows ended early with reason evicted because max_sessions was reached"},
		{Name: "active_flows", Doc: "gauge: flows in the table"},
		{Name: "packets_no_address", Doc: "counter: packets skipped because they carry no IP addresses"},
	},
}

func init() {
	pipeline.Register(Spec, New)
}

// New builds the stage.
func New(cfg *Config, bc *pipeline.BuildContext) (pipeline.Component, error) {
	return &stage{cfg: *cfg}, nil
}

type stage struct {
	cfg Config
}

// Run folds every input packet into the table, emits flows as they are
// reported and, when the input ends, ends every flow with reason shutdown.
func (s *stage) Run(ctx context.Context, env *pipeline.Env) error {
	out := &emitter{env: env}
	t := NewTable(s.cfg, out.add)
	defer t.Release()
	m := newMetrics(env.Stats())
	for b := range env.Batches() {
		t.AddBatch(b.Packets)
		out.flush()
		m.publish(t.Stats())
	}
	t.Flush(event.ReasonShutdown)
	out.flush()
	m.publish(t.Stats())
	return nil
}

// emitter collects reported flows into batches.
type emitter struct {
	env *pipeline.Env
	b   *event.Batch
}

func (o *emitter) add(f *event.FlowRec) {
	if o.b == nil {
		o.b = o.env.NewBatch(event.Flow)
	}
	o.b.Flows = append(o.b.Flows, *f)
	if len(o.b.Flows) >= batchSize {
		o.flush()
	}
}

func (o *emitter) flush() {
	if o.b != nil {
		o.env.Emit(o.b)
		o.b = nil
	}
}
