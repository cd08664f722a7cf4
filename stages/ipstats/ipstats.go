package ipstats

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/nfpipe/nfpipe/pipeline"
	"github.com/nfpipe/nfpipe/pipeline/event"
	"github.com/nfpipe/nfpipe/pipeline/spec"
)

// Config is the ipstats stage's configuration; see the spec for each
// field.
type Config struct {
	Interval  time.Duration `yaml:"interval"`
	Top       int           `yaml:"top"`
	MaxIPs    int           `yaml:"max_ips"`
	MaxTuples int           `yaml:"max_tuples"`
}

// componentSpec is the single description of the stage: decoding,
// defaults and docs all come from it.
var componentSpec = &spec.Component{
	Name:      "ipstats",
	Role:      spec.RoleStage,
	Summary:   "Per-IP counters over fixed intervals of packet time: bytes, packets, flows started, distinct peers and destination ports.",
	Stability: spec.Beta,
	Accepts:   event.KindsOf(event.Packet),
	Emits:     event.KindsOf(event.IPStat),
	Description: `
Every decoded packet is counted for its source (bytes_out, packets_out) and
its destination (bytes_in, packets_in); bytes are wire lengths. Intervals are
aligned to multiples of interval in packet time, [floor(ts/interval)*interval,
+interval), so a replay gives the same records as the live capture did.

An interval is emitted when a packet of a later interval arrives, and at
shutdown (the partial interval, with the same aligned start and end). A quiet
link therefore reports its last interval when traffic resumes. A packet
slightly out of order (older than the open interval by less than one
interval) is counted in the open interval (metric late_packets); a packet
older than that means the clock stepped back, as in a looped replay, and
closes the open interval.

flows counts the flows an address started in the interval. TCP: a SYN
without ACK it sent, once per 5-tuple and interval, so a retransmitted SYN
is not counted twice. Other protocols (UDP, ICMP, ...): the first packet of a
5-tuple seen in the interval, counted for its sender. The 5-tuple is taken
without direction, so the answer of a flow is not a second flow; and a long
UDP or ICMP flow is counted again in every interval it is active in. Later
fragments (no ports of their own) never start a flow.

peers is the number of distinct addresses an address exchanged packets with
in either direction; traffic to itself is not a peer. dst_ports is the number
of distinct destination port numbers it sent TCP, UDP, SCTP, DCCP or UDP-Lite
packets to: a port scan shows as a high dst_ports. A server answering many
clients also sends to many ports (their ephemeral ones), so scan rules should
look at dst_ports together with flows or peers.

With top: N only the N addresses with the most bytes (in + out) are emitted
per interval, largest first; otherwise every address is emitted in the order
first seen. IPv4 addresses and their IPv4-mapped IPv6 forms share one record.

Memory is bounded per interval. When max_ips addresses are tracked, new
addresses are not tracked until the interval ends: their packets still count
for the tracked end, except for flows, peers and dst_ports, and each untracked end of a
packet is counted in the untracked metric. The 5-tuple, peer and port sets
hold at most max_tuples entries each; beyond that flows, peers and dst_ports
become lower bounds (tuples_dropped). The tables keep their memory between
intervals so that steady traffic allocates nothing.

The stage keeps up with its input on one goroutine; if it falls behind, its
input queue applies backpressure like any other stage.`,
	Fields: []*spec.Field{
		spec.Duration("interval").Default("10s").Check(func(v any) error {
			if v.(time.Duration) < time.Millisecond {
				return fmt.Errorf("interval %v is too short; use at least 1ms, e.g. 10s", v)
			}
			return nil
		}).Description("Length of an interval in packet time; intervals are aligned to multiples of it."),
		spec.Int("top").Default("0").Min(0).Description("Emit only the top N addresses by bytes per interval, sorted; 0 emits every address."),
		spec.Int("max_ips").Default("1000000").Range(1, 1<<31).Description("Most addresses tracked per interval; packets of further addresses are counted in the untracked metric."),
		spec.Int("max_tuples").Default("1000000").Range(1, 1<<31).Adv().Description("Most entries in each distinct set (5-tuples, peer pairs, ports) per interval; beyond it flows, peers and dst_ports are lower bounds."),
	},
	Examples: []spec.Example{
		{Title: "Top talkers every minute", YAML: "inputs: [decode]\ninterval: 1m\ntop: 100\n"},
		{Title: "Every address every 10 seconds, at most 200000 per interval", YAML: "inputs: [decode]\nmax_ips: 200000\n"},
	},
	Metrics: []spec.Metric{
		{Name: "intervals", Doc: "intervals emitted"},
		{Name: "records", Doc: "ipstat records emitted"},
		{Name: "untracked", Doc: "packet ends (source or destination) not counted because max_ips addresses were already tracked in the interval"},
		{Name: "tuples_dropped", Doc: "packets whose 5-tuple could not be remembered, and peer pairs or ports not remembered, because a set held max_tuples entries"},
		{Name: "late_packets", Doc: "packets older than the open interval, counted in it"},
		{Name: "non_ip", Doc: "packets without a source and destination address, skipped"},
	},
}

func init() { pipeline.Register(componentSpec, build) }

// ipstats is the running stage.
type ipstats struct {
	cfg Config
}

var _ pipeline.Component = (*ipstats)(nil)

func build(cfg *Config, _ *pipeline.BuildContext) (pipeline.Component, error) {
	return &ipstats{cfg: *cfg}, nil
}

// metrics are the published counters; see the spec's Metrics.
type metrics struct {
	intervals, records, untracked, tuplesDropped, late, nonIP *atomic.Uint64
	last                                                      counts
}

func newMetrics(s *pipeline.Stats) *metrics {
	return &metrics{
		intervals:     s.Counter("intervals"),
		records:       s.Counter("records"),
		untracked:     s.Counter("untracked"),
		tuplesDropped: s.Counter("tuples_dropped"),
		late:          s.Counter("late_packets"),
		nonIP:         s.Counter("non_ip"),
	}
}

// publish adds what the table counted since the last call.
func (m *metrics) publish(c counts) {
	add := func(a *atomic.Uint64, now, before uint64) {
		if now != before {
			a.Add(now - before)
		}
	}
	add(m.intervals, c.intervals, m.last.intervals)
	add(m.records, c.records, m.last.records)
	add(m.untracked, c.untracked, m.last.untracked)
	add(m.tuplesDropped, c.tuplesDropped, m.last.tuplesDropped)
	add(m.late, c.late, m.last.late)
	add(m.nonIP, c.nonIP, m.last.nonIP)
	m.last = c
}

// Run counts every packet batch and emits intervals as packet time
// passes them; when the input ends it emits the partial interval.
func (s *ipstats) Run(ctx context.Context, env *pipeline.Env) error {
	t := newTable(int64(s.cfg.Interval), s.cfg.Top, s.cfg.MaxIPs, s.cfg.MaxTuples, env)
	defer t.release()
	m := newMetrics(env.Stats())
	for b := range env.Batches() {
		if b.Kind != event.Packet {
			continue
		}
		t.addBatch(b.Packets)
		m.publish(t.cnt)
	}
	t.finish()
	m.publish(t.cnt)
	return nil
}
