package decode

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/nfpipe/nfpipe/pipeline"
	"github.com/nfpipe/nfpipe/pipeline/config"
	"github.com/nfpipe/nfpipe/pipeline/event"
	"github.com/nfpipe/nfpipe/pipeline/spec"
)

// frameSource emits the frames of corpus captures as raw batches.
type frameSource struct{ cfg *sourceConfig }

type sourceConfig struct {
	Files []string `yaml:"files"`
	Batch int      `yaml:"batch"`
}

func (s *frameSource) Run(ctx context.Context, env *pipeline.Env) error {
	for i, name := range s.cfg.Files {
		raw, err := os.ReadFile(filepath.Join(corpus, name))
		if err != nil {
			return err
		}
		frames, err := parseCapture(raw)
		if err != nil {
			return err
		}
		// Each file is its own shard, as a capture sharded by flow would
		// keep a datagram's fragments together.
		for len(frames) > 0 {
			b := env.NewBatch(event.Raw)
			b.Shard = uint16(i)
			n := min(s.cfg.Batch, len(frames))
			for _, f := range frames[:n] {
				b.AddFrame(f, f.Data)
			}
			frames = frames[n:]
			env.Emit(b)
		}
	}
	return nil
}

// collectSink keeps the packets it receives.
type collectSink struct {
	mu   sync.Mutex
	pkts []event.PacketRec
}

func (c *collectSink) Run(ctx context.Context, env *pipeline.Env) error {
	for b := range env.Batches() {
		c.mu.Lock()
		c.pkts = append(c.pkts, b.Packets...)
		c.mu.Unlock()
	}
	return nil
}

type noConfig struct{}

func testRegistry(sink *collectSink) *pipeline.Registry {
	r := pipeline.NewRegistry()
	pipeline.RegisterIn(r, Spec, New)
	pipeline.RegisterIn(r, &spec.Component{
		Name: "frames", Role: spec.RoleStage, Summary: "test source", Source: true, Emits: event.KindsOf(event.Raw),
		Fields: []*spec.Field{
			spec.List("files").Description("corpus captures to emit"),
			spec.Int("batch").Default("64").Description("frames per batch"),
		},
	}, func(c *sourceConfig, bc *pipeline.BuildContext) (pipeline.Component, error) {
		return &frameSource{c}, nil
	})
	pipeline.RegisterIn(r, &spec.Component{
		Name: "collect", Role: spec.RoleSink, Summary: "test sink", Accepts: event.KindsOf(event.Packet),
	}, func(c *noConfig, bc *pipeline.BuildContext) (pipeline.Component, error) { return sink, nil })
	return r
}

func load(t *testing.T, yml string, sink *collectSink) (*pipeline.Pipeline, spec.Errors) {
	t.Helper()
	cfg, errs := config.Parse("test.yaml", []byte(yml), func(string) (string, bool) { return "", false })
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	return pipeline.FromConfig(cfg, pipeline.WithRegistry(testRegistry(sink)))
}

// runDecode runs a pipeline whose decode stage is named dec to its end
// and returns dec's status.
func runDecode(t *testing.T, sink *collectSink, yml string) pipeline.ComponentStatus {
	t.Helper()
	p, errs := load(t, yml, sink)
	if len(errs.Fatal()) > 0 {
		t.Fatal(errs)
	}
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	st, ok := p.Status().Component("dec")
	if !ok {
		t.Fatal("no status for dec")
	}
	return st
}

// TestStageCountsEveryOutcome runs capture frames through the stage in a
// pipeline and checks the packets and the counters the status reports.
// The expected numbers come from the captures (see INDEX.csv and the
// per-file tests): zeek_linux_dlt_sll2 has 4 IP frames, an ARP and a RARP;
// zeek_nflog-http is 13 frames of link type NFLOG; zeek_ipv4_fragmented-1
// is 3 fragments; zeek_ipv6-fragmented-dns has 4 fragments, one of them
// a later fragment whose first one is missing; zeek_tcp_reassembly has 5
// frames whose IPv4 total length exceeds the frame; decnet-shorthdr-oobr
// is 15 frames of unknown EtherTypes.
func TestStageCountsEveryOutcome(t *testing.T) {
	for _, shards := range []string{"1", "2"} {
		t.Run("shards "+shards, func(t *testing.T) { testStageCounts(t, shards) })
	}
}

func testStageCounts(t *testing.T, shards string) {
	sink := &collectSink{}
	st := runDecode(t, sink, `
stages:
  src:
    type: frames
    batch: 7
    files:
      - exotic/zeek_linux_dlt_sll2.pcap
      - exotic/zeek_nflog-http.pcap
      - valid/zeek_ipv4_fragmented-1.pcap
      - valid/zeek_ipv6-fragmented-dns.pcap
      - malformed/zeek_trunc_ip4-trunc.pcap
      - malformed/tcpdump_ipv4_invalid_hdr_length.pcap
      - valid/zeek_tcp_reassembly.pcap
      - malformed/tcpdump_decnet-shorthdr-oobr.pcap
  dec:
    type: decode
    inputs: [src]
    fragment_table_size: 64
    shards: `+shards+`
sinks:
  out: {type: collect, inputs: [dec]}
`)
	if st.EventsIn != 164 || st.EventsOut != 132 || len(sink.pkts) != 132 {
		t.Errorf("in %d, out %d, sink got %d; want 164, 132, 132", st.EventsIn, st.EventsOut, len(sink.pkts))
	}
	if st.Errors != 15 {
		t.Errorf("errors %d, want 15 (13 unsupported link type, 1 truncated, 1 bad header)", st.Errors)
	}
	want := map[string]uint64{
		"decode_errors_truncated":             1,
		"decode_errors_bad_header":            1,
		"decode_errors_bad_length":            0,
		"decode_errors_too_many_headers":      0,
		"decode_errors_unsupported_link_type": 13,
		"skipped_not_ip":                      2,
		"skipped_unsupported_ethertype":       15,
		"fragments":                           7,
		"fragments_unmatched":                 1,
		"fragment_evictions":                  0,
		"length_mismatch":                     5,
		"tunneled_gre":                        0,
		"tunneled_vxlan":                      0,
		"tunneled_geneve":                     0,
		"tunneled_ip_in_ip":                   0,
		"tunnel_errors":                       0,
		"tunnel_not_ip":                       0,
	}
	for name, n := range want {
		if got, ok := st.Counters[name]; !ok || got != n {
			t.Errorf("counter %s = %d (present %v), want %d", name, got, ok, n)
		}
	}
	if len(st.Counters) != len(want) {
		t.Errorf("counters %v, want exactly %v", st.Counters, want)
	}
	// The later IPv4 fragment carries the ports of its first fragment.
	found := false
	for _, pk := range sink.pkts {
		if pk.Frag == event.FragLater && pk.FragID == 242 {
			found = true
			if pk.SrcPort != 123 || pk.DstPort != 137 {
				t.Errorf("later fragment ports %d>%d, want 123>137", pk.SrcPort, pk.DstPort)
			}
		}
	}
	if !found {
		t.Error("the later IPv4 fragment is missing")
	}
}

// TestStageOpensTunnels runs the tunnel captures through the stage with
// every kind of tunnel open and checks the packets and the counters: the
// GRE sample's 40 frames and ERSPAN's 4 are opened as GRE, the VXLAN
// capture's 12 and the Geneve-in-VXLAN capture's 2 as VXLAN (and those 2
// again as Geneve), 6in4 and 4in6 as IP in IP; PPTP's one GRE frame holds
// PPP control traffic, and the truncated Geneve frame is cut inside the
// Geneve options.
func TestStageOpensTunnels(t *testing.T) {
	sink := &collectSink{}
	st := runDecode(t, sink, `
stages:
  src:
    type: frames
    files:
      - valid/zeek_tunnels_gre-sample.pcap
      - valid/zeek_erspanII.pcap
      - valid/zeek_tunnels_vxlan-encapsulated-http.pcap
      - malformed/zeek_tunnels_geneve-vxlan-dns-truncated.pcap
      - valid/zeek_tunnels_6in4.pcap
      - valid/zeek_tunnels_4in6.pcap
      - exotic/tcpdump_pptp.pcap
      - malformed/zeek_tunnels_geneve-truncated.pcapng
  dec:
    type: decode
    inputs: [src]
    tunnels: [gre, vxlan, geneve, ip-in-ip]
sinks:
  out: {type: collect, inputs: [dec]}
`)
	frames := 40 + 4 + 12 + 2 + 1 + 1 + 23 + 1
	if st.EventsIn != uint64(frames) || len(sink.pkts) != frames {
		t.Errorf("in %d, sink got %d; want %d each", st.EventsIn, len(sink.pkts), frames)
	}
	want := map[string]uint64{
		"tunneled_gre": 44, "tunneled_vxlan": 14, "tunneled_geneve": 2, "tunneled_ip_in_ip": 2,
		"tunnel_errors": 1, "tunnel_not_ip": 1,
	}
	for name, n := range want {
		if got := st.Counters[name]; got != n {
			t.Errorf("counter %s = %d, want %d", name, got, n)
		}
	}
	if st.Errors != 0 {
		t.Errorf("errors %d: an inner packet that is not opened is not a frame lost", st.Errors)
	}
	// No packet of an opened kind is left with its outer header but
	// those two.
	outer := 0
	for _, pk := range sink.pkts {
		if pk.Proto == ipGRE || pk.Proto == ipIPv4Encap || pk.Proto == ipIPv6Encap || pk.Proto == ipUDP && (pk.DstPort == 4789 || pk.DstPort == genevePort) {
			outer++
		}
	}
	if outer != 2 {
		t.Errorf("%d packets keep a tunnel's outer header, want 2", outer)
	}
}

func TestConfigChecks(t *testing.T) {
	cases := []struct {
		name, fields, want string
	}{
		{"table too small", "fragment_table_size: 8", "fragment_table_size"},
		{"zero timeout", "fragment_timeout: 0s", "must be positive"},
		{"unknown field", "tunnel: [gre]", `unknown field "tunnel"; did you mean "tunnels"?`},
		{"unknown tunnel", "tunnels: [gre, teredo]", `test.yaml:7:14: stages.dec.tunnels: unknown tunnel "teredo"; use one of gre, vxlan, geneve, ip-in-ip`},
		{"vxlan port", "vxlan_port: 70000", "vxlan_port"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, errs := load(t, `
stages:
  src: {type: frames, files: []}
  dec:
    type: decode
    inputs: [src]
    `+tc.fields+`
sinks:
  out: {type: collect, inputs: [dec]}
`, &collectSink{})
			if len(errs.Fatal()) == 0 || !strings.Contains(errs.Error(), tc.want) {
				t.Errorf("errors %q, want one mentioning %q", errs.Error(), tc.want)
			}
		})
	}
}

// TestSpecExamplesAndDocs checks that every example of the spec builds a
// pipeline, that defaults reach the decoder, and that the docs list a
// counter for every reason.
func TestSpecExamplesAndDocs(t *testing.T) {
	for _, ex := range Spec.Examples {
		var b strings.Builder
		b.WriteString("stages:\n  capture: {type: frames, files: []}\n  decode:\n    type: decode\n")
		for _, line := range strings.Split(strings.TrimRight(ex.YAML, "\n"), "\n") {
			b.WriteString("    " + line + "\n")
		}
		b.WriteString("sinks:\n  out: {type: collect, inputs: [decode]}\n")
		p, errs := load(t, b.String(), &collectSink{})
		if len(errs.Fatal()) > 0 {
			t.Errorf("example %q: %v", ex.Title, errs)
			continue
		}
		if err := p.Run(context.Background()); err != nil {
			t.Errorf("example %q: %v", ex.Title, err)
		}
	}
	p, errs := load(t, "stages:\n  src: {type: frames, files: []}\n  dec: {type: decode, inputs: [src]}\nsinks:\n  out: {type: collect, inputs: [dec]}\n", &collectSink{})
	if len(errs.Fatal()) > 0 {
		t.Fatal(errs)
	}
	c, _ := p.Component("dec")
	if o := c.(*Stage).opts; o.FragmentTableSize != DefaultFragmentTableSize || o.FragmentTimeout != DefaultFragmentTimeout {
		t.Errorf("defaults %+v", o)
	}
	doc := spec.Markdown(Spec)
	for r := OK + 1; r < numReasons; r++ {
		if !strings.Contains(doc, "`"+counterName(r)+"`") {
			t.Errorf("docs do not list %s", counterName(r))
		}
	}
}
