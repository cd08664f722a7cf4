package sessionize_test

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nfpipe/nfpipe/pipeline"
	"github.com/nfpipe/nfpipe/pipeline/config"
	"github.com/nfpipe/nfpipe/pipeline/event"
	"github.com/nfpipe/nfpipe/pipeline/spec"
	_ "github.com/nfpipe/nfpipe/stages/capture"
	_ "github.com/nfpipe/nfpipe/stages/decode"
	_ "github.com/nfpipe/nfpipe/stages/sessionize"
)

// The oracle: for every well-formed capture of the corpus, the pipeline
// capture(file) -> decode -> sessionize must report the TCP and UDP
// conversations tshark reports, with the same packets and bytes in each
// direction. Where our accounting differs from tshark's by design, the
// case is listed in oracleDiffs with the reason, and the test expects our
// exact figures instead of tshark's.

const (
	testdata = "../../testdata"
	corpus   = testdata + "/corpus"
)

// collectType is the test sink that keeps every flow record.
const collectType = "sessionize_oracle_collect"

type flowSink struct {
	mu    sync.Mutex
	flows []event.FlowRec
}

func (s *flowSink) Run(ctx context.Context, env *pipeline.Env) error {
	for b := range env.Batches() {
		s.mu.Lock()
		s.flows = append(s.flows, b.Flows...)
		s.mu.Unlock()
	}
	return nil
}

type noConfig struct{}

func init() {
	pipeline.Register(&spec.Component{
		Name: collectType, Role: spec.RoleSink, Summary: "keeps flow records for the oracle test",
		Accepts: event.KindsOf(event.Flow),
	}, func(*noConfig, *pipeline.BuildContext) (pipeline.Component, error) { return &flowSink{}, nil })
}

// openTunnels is the decode setting of the oracle tests that open
// tunnels, as tshark does.
const openTunnels = "[gre, vxlan, geneve, ip-in-ip]"

// runPipeline replays a capture through the real stages and returns the
// flow records that reached the sink. tunnels is decode's tunnels
// setting ("" for its default, none).
func runPipeline(t *testing.T, file, tunnels string) []event.FlowRec {
	t.Helper()
	abs, err := filepath.Abs(file)
	if err != nil {
		t.Fatal(err)
	}
	dec := "{type: decode, inputs: [cap]}"
	if tunnels != "" {
		dec = "{type: decode, inputs: [cap], tunnels: " + tunnels + "}"
	}
	// Timeouts far longer than any capture: tshark never ends a
	// conversation on time, only a TCP stream on a new SYN.
	yml := fmt.Sprintf(`
stages:
  cap: {type: capture, file: %q, progress: never}
  dec: %s
  ses: {type: sessionize, inputs: [dec], idle_timeout: 100000d, close_linger: 100000d}
sinks:
  out: {type: %s, inputs: [ses]}
`, abs, dec, collectType)
	cfg, errs := config.Parse("oracle.yaml", []byte(yml), func(string) (string, bool) { return "", false })
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	p, errs := pipeline.FromConfig(cfg, pipeline.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if len(errs.Fatal()) > 0 {
		t.Fatal(errs)
	}
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	c, _ := p.Component("out")
	sink := c.(*flowSink)
	st, _ := p.Status().Component("ses")
	var started, ended uint64 = st.Counters["flows_started"], st.Counters["flows_ended"]
	if started != ended || st.Gauges["active_flows"] != 0 {
		t.Errorf("counters: %d started, %d ended, %d active after shutdown", started, ended, st.Gauges["active_flows"])
	}
	return sink.flows
}

// conv is one conversation in a canonical form: the endpoint that sorts
// first is A, so a conversation prints the same whichever side spoke
// first. Strings are compared, so a mismatch reads like a table row.
type conv struct {
	proto      string
	a, b       string // "addr:port"
	aPk, aBy   uint64 // A to B
	bPk, bBy   uint64 // B to A
	startOrder float64
}

// row is c in the row notation of oracleDiffs.
func (c conv) row() string {
	return fmt.Sprintf("%s %s %s %d/%d %d/%d", c.proto, c.a, c.b, c.aPk, c.aBy, c.bPk, c.bBy)
}

func (c conv) String() string {
	return fmt.Sprintf("%s %s > %s %d/%d, %s < %d/%d", c.proto, c.a, c.b, c.aPk, c.aBy, c.b, c.bPk, c.bBy)
}

func hostPort(addr, port string) string {
	if strings.Contains(addr, ":") {
		return "[" + addr + "]:" + port
	}
	return addr + ":" + port
}

// canonical swaps the sides if needed so that a sorts first.
func (c conv) canonical() conv {
	if c.b < c.a {
		c.a, c.b = c.b, c.a
		c.aPk, c.bPk = c.bPk, c.aPk
		c.aBy, c.bBy = c.bBy, c.aBy
	}
	return c
}

// parseConv reads the row notation of oracleDiffs:
// "proto A B aPackets/aBytes bPackets/bBytes".
func parseConv(t *testing.T, s string) conv {
	t.Helper()
	f := strings.Fields(s)
	if len(f) != 5 {
		t.Fatalf("bad row %q", s)
	}
	c := conv{proto: f[0], a: f[1], b: f[2]}
	if _, err := fmt.Sscanf(f[3]+" "+f[4], "%d/%d %d/%d", &c.aPk, &c.aBy, &c.bPk, &c.bBy); err != nil {
		t.Fatalf("bad row %q: %v", s, err)
	}
	return c.canonical()
}

// tsharkConvs reads a conversation table (expected-conv.csv) into
// conversations by file.
func tsharkConvs(t *testing.T, path string) map[string][]conv {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	num := func(r []string, name string) uint64 {
		n, err := strconv.ParseUint(r[col[name]], 10, 64)
		if err != nil {
			t.Fatalf("expected-conv.csv: %s: %v", name, err)
		}
		return n
	}
	out := map[string][]conv{}
	for _, r := range rows[1:] {
		start, _ := strconv.ParseFloat(r[col["rel_start"]], 64)
		c := conv{
			proto: r[col["proto"]],
			a:     hostPort(r[col["addrA"]], r[col["portA"]]),
			b:     hostPort(r[col["addrB"]], r[col["portB"]]),
			aPk:   num(r, "packets_AtoB"), aBy: num(r, "bytes_AtoB"),
			bPk: num(r, "packets_BtoA"), bBy: num(r, "bytes_BtoA"),
			startOrder: start,
		}
		if c.aPk+c.bPk != num(r, "packets") || c.aBy+c.bBy != num(r, "bytes") {
			t.Fatalf("expected-conv.csv: totals do not add up: %v", r)
		}
		out[r[col["file"]]] = append(out[r[col["file"]]], c.canonical())
	}
	return out
}

// ourConvs turns the TCP and UDP flow ends into conversations.
func ourConvs(flows []event.FlowRec) []conv {
	var out []conv
	for _, f := range flows {
		if f.Event != event.FlowEnd || (f.Proto != 6 && f.Proto != 17) {
			continue
		}
		hp := func(e event.Endpoint) string {
			return hostPort(e.IP.Unmap().String(), strconv.Itoa(int(e.Port)))
		}
		out = append(out, conv{
			proto: event.ProtoName(f.Proto),
			a:     hp(f.Client), b: hp(f.Server),
			aPk: f.C2S.Packets, aBy: f.C2S.Bytes,
			bPk: f.S2C.Packets, bBy: f.S2C.Bytes,
		}.canonical())
	}
	return out
}

// corpusFiles lists the valid/ and exotic/ captures.
func corpusFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	for _, dir := range []string{"valid", "exotic"} {
		ents, err := os.ReadDir(filepath.Join(corpus, dir))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			files = append(files, dir+"/"+e.Name())
		}
	}
	return files
}

func convStrings(cs []conv) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.String()
	}
	slices.Sort(out)
	return out
}

func TestOracleTsharkConversations(t *testing.T) {
	if testing.Short() {
		t.Skip("replays 60 captures through the pipeline")
	}
	files := corpusFiles(t)
	if len(files) < 60 {
		t.Fatalf("found %d corpus files, want the 60 valid and exotic ones", len(files))
	}
	matched, documented := checkOracle(t, corpus, files, tsharkConvs(t, filepath.Join(corpus, "expected-conv.csv")), openTunnels, nil)
	t.Logf("%d files: %d tshark conversations matched exactly, %d documented differences", len(files), matched, documented)
	if matched < 95 {
		t.Errorf("only %d conversations matched", matched)
	}
}

// TestOracleTunnelsClosed replays the corpus's tunnel captures with
// decode's default, tunnels not opened: every packet is accounted by its
// outer header, and the differences from tshark, which opens them, are
// the documented ones.
func TestOracleTunnelsClosed(t *testing.T) {
	if testing.Short() {
		t.Skip("replays captures through the pipeline")
	}
	files := []string{
		"valid/zeek_tunnels_4in6.pcap", "valid/zeek_tunnels_6in4.pcap",
		"valid/zeek_tunnels_gre-sample.pcap", "valid/zeek_tunnels_vxlan-encapsulated-http.pcap",
	}
	matched, documented := checkOracle(t, corpus, files, tsharkConvs(t, filepath.Join(corpus, "expected-conv.csv")), "", nil)
	t.Logf("%d files: %d tshark conversations matched exactly, %d documented differences", len(files), matched, documented)
	if matched != 1 || documented != 8 {
		t.Errorf("%d conversations matched (want 1: VXLAN's outer UDP), %d documented (want 8)", matched, documented)
	}
}

// TestOracleRealTraffic checks the recordings of real traffic between
// two network namespaces against their own tshark tables.
func TestOracleRealTraffic(t *testing.T) {
	if testing.Short() {
		t.Skip("replays captures through the pipeline")
	}
	expected := map[string][]conv{}
	var files []string
	for _, name := range []string{"mixed-eth", "mixed-sll2"} {
		for file, cs := range tsharkConvs(t, filepath.Join(testdata, "real", name+".expected-conv.csv")) {
			expected[file] = cs
		}
		files = append(files, "real/"+name+".pcap")
	}
	matched, documented := checkOracle(t, testdata, files, expected, "", checkRealFlows)
	t.Logf("%d files: %d tshark conversations matched exactly, %d documented differences", len(files), matched, documented)
	if matched < 25 {
		t.Errorf("only %d conversations matched", matched)
	}
}

// TestOracleRealTunnels checks the recording of real traffic through
// eight kinds of tunnel (GRE with a key, Ethernet over GRE, GRE over
// IPv6, VXLAN, Geneve, IPIP, SIT, IPv4 over IPv6), with decode opening
// them, against its tshark table: every inner conversation exactly. The
// outer UDP conversations of VXLAN and Geneve, which tshark counts as
// well, are the documented difference.
func TestOracleRealTunnels(t *testing.T) {
	if testing.Short() {
		t.Skip("replays captures through the pipeline")
	}
	expected := tsharkConvs(t, filepath.Join(testdata, "real", "tunnels.expected-conv.csv"))
	matched, documented := checkOracle(t, testdata, []string{"real/tunnels.pcap"}, expected, openTunnels, checkTunnelFlows)
	t.Logf("%d tshark conversations matched exactly, %d documented differences", matched, documented)
	if matched != 26 || documented != 17 {
		t.Errorf("%d matched, %d documented; want the 26 inner conversations and the 17 outer VXLAN and Geneve ones", matched, documented)
	}
}

// checkTunnelFlows checks what the recording's README says of its
// traffic: in each tunnel's inner subnet 10.78.N.0/24 or fd00:78:N::/64,
// the client .1 fetched a page over TCP, closed with FIN after a measured
// handshake, and sent one DNS query over UDP. The only packets left in
// flows of a tunnel's outer header are the six ARP frames of the three
// Ethernet tunnels (an ARP request and reply each): 80 bytes over GRE,
// 92 over VXLAN and Geneve.
func checkTunnelFlows(t *testing.T, flows []event.FlowRec) {
	var tcp, udp, arp int
	for _, f := range flows {
		c, s := f.Client.IP.Unmap(), f.Server.IP.Unmap()
		inner := strings.HasPrefix(c.String(), "10.78.") && !strings.HasPrefix(c.String(), "10.78.0.") ||
			strings.HasPrefix(c.String(), "fd00:78:") && !strings.HasPrefix(c.String(), "fd00:78::")
		outer := f.Proto == 47 || f.Proto == 17 && (f.Server.Port == 4789 || f.Server.Port == 6081)
		if outer {
			size := uint64(92)
			if f.Proto == 47 {
				size = 80
			}
			n := f.C2S.Packets + f.S2C.Packets
			if f.C2S.Bytes+f.S2C.Bytes != n*size {
				t.Errorf("outer flow %v -> %v protocol %d: %d packets, %d bytes; only ARP frames of %d bytes stay outer", c, s, f.Proto, n, f.C2S.Bytes+f.S2C.Bytes, size)
			}
			arp += int(n)
			continue
		}
		switch f.Proto {
		case 6:
			tcp++
			rtt := f.RTT > 0 && f.RTT < 100*time.Millisecond
			if !inner || !strings.HasSuffix(c.String(), ".1") && !strings.HasSuffix(c.String(), "::1") || f.Server.Port != 8080 ||
				f.Reason != event.ReasonFIN || f.TCPState != event.TCPClosed || !rtt {
				t.Errorf("tcp flow %v -> %v: %v %v rtt %v, want a client .1 to port 8080, fin CLOSED, an rtt", f.Client, f.Server, f.Reason, f.TCPState, f.RTT)
			}
		case 17:
			udp++
			if !inner || f.Server.Port != 53 {
				t.Errorf("udp flow %v -> %v: want an inner DNS query", f.Client, f.Server)
			}
		case 4, 41:
			t.Errorf("flow %v -> %v of protocol %d: a tunnel was not opened", c, s, f.Proto)
		}
	}
	if tcp != 13 || udp != 13 || arp != 6 {
		t.Errorf("%d tcp and %d udp flows, %d ARP frames outer; want 13, 13 (one per tunnel and inner address family) and 6", tcp, udp, arp)
	}
}

// checkRealFlows checks what the recordings' README says of their
// traffic: every client is in the client namespace, HTTP and DNS over
// TCP close with FIN after a measured handshake, the closed port answers
// a SYN with a RST, the server on port 7008 aborts with a RST, and the
// pings form one ICMP flow per address family.
func checkRealFlows(t *testing.T, flows []event.FlowRec) {
	clients := map[netip.Addr]bool{netip.MustParseAddr("10.77.0.1"): true, netip.MustParseAddr("fd00:77::1"): true}
	var tcp, pings int
	for _, f := range flows {
		if f.Event != event.FlowEnd {
			t.Errorf("flow %x: event %v", f.ID, f.Event)
		}
		switch f.Proto {
		case 1, 58:
			if clients[f.Client.IP] && f.C2S.Packets == 4 && f.S2C.Packets == 4 {
				pings++
			}
			continue
		case 17:
			if !clients[f.Client.IP] || f.Reason != event.ReasonShutdown {
				t.Errorf("udp flow %v -> %v: reason %v", f.Client, f.Server, f.Reason)
			}
			continue
		}
		tcp++
		if !clients[f.Client.IP] {
			t.Errorf("tcp flow %v -> %v: wrong client", f.Client, f.Server)
		}
		handshake := f.RTT > 0 && f.RTT < 10*time.Millisecond
		switch f.Server.Port {
		case 8080, 53:
			if f.Reason != event.ReasonFIN || f.TCPState != event.TCPClosed || !handshake {
				t.Errorf("tcp flow %v -> %v: %v %v rtt %v, want fin CLOSED with an rtt", f.Client, f.Server, f.Reason, f.TCPState, f.RTT)
			}
		case 81:
			if f.Reason != event.ReasonRST || f.TCPState != event.TCPReset || f.C2S.Packets != 1 || f.S2C.Packets != 1 || f.FlagsS2C != event.FlagRST|event.FlagACK {
				t.Errorf("closed-port flow %v -> %v: %v %v %d/%d %s", f.Client, f.Server, f.Reason, f.TCPState, f.C2S.Packets, f.S2C.Packets, event.FlagString(f.FlagsS2C))
			}
		case 7008:
			if f.Reason != event.ReasonRST || f.TCPState != event.TCPReset || !handshake || f.FlagsS2C&event.FlagRST == 0 {
				t.Errorf("aborted flow %v -> %v: %v %v rtt %v", f.Client, f.Server, f.Reason, f.TCPState, f.RTT)
			}
		default:
			t.Errorf("unexpected tcp flow %v -> %v", f.Client, f.Server)
		}
	}
	if tcp < 7 || pings != 2 {
		t.Errorf("%d tcp flows, %d ping flows; want at least 7 and 2", tcp, pings)
	}
}

// outerTunnelUDP reports a conversation to the VXLAN or Geneve port.
func outerTunnelUDP(c conv) bool {
	if c.proto != "udp" {
		return false
	}
	for _, port := range []string{":4789", ":6081"} {
		if strings.HasSuffix(c.a, port) || strings.HasSuffix(c.b, port) {
			return true
		}
	}
	return false
}

// checkOracle replays each file (relative to root) with decode's tunnels
// setting and compares our TCP and UDP conversations with tshark's,
// adjusted by the oracleDiffs that apply to that setting. It returns how
// many tshark rows matched as they are and how many differences were
// documented.
func checkOracle(t *testing.T, root string, files []string, expected map[string][]conv, tunnels string, inspect func(*testing.T, []event.FlowRec)) (matched, documented int) {
	diffs := map[string][]oracleDiff{}
	for _, d := range oracleDiffs {
		diffs[d.file] = append(diffs[d.file], d)
	}
	if tunnels == "" {
		for _, d := range closedTunnelDiffs {
			diffs[d.file] = append(diffs[d.file], d)
		}
	} else {
		// tshark counts a VXLAN or Geneve packet twice: in the outer UDP
		// conversation and in the inner one. Once the tunnel is opened, a
		// packet is in one flow, its innermost; only packets whose payload
		// is not IP (ARP) stay in the outer one, which inspect checks.
		for file, cs := range expected {
			for _, c := range cs {
				if outerTunnelUDP(c) {
					diffs[file] = append(diffs[file], oracleDiff{file: file, tshark: c.row(), why: "outer UDP of an opened VXLAN or Geneve tunnel"})
				}
			}
		}
	}
	for _, file := range files {
		t.Run(file, func(t *testing.T) {
			want := slices.Clone(expected[file])
			replaced := 0
			for _, d := range diffs[file] {
				if d.why == "" {
					t.Errorf("difference without a reason: %+v", d)
				}
				if d.tshark != "" {
					tc := parseConv(t, d.tshark)
					i := slices.IndexFunc(want, func(c conv) bool { return c.String() == tc.String() })
					if i < 0 {
						t.Fatalf("documented tshark row %q is not in the expected table", d.tshark)
					}
					want = slices.Delete(want, i, i+1)
					replaced++
				}
				if d.ours != "" {
					want = append(want, parseConv(t, d.ours))
				}
			}
			flows := runPipeline(t, filepath.Join(root, file), tunnels)
			if inspect != nil {
				inspect(t, flows)
			}
			ours := ourConvs(flows)
			if tunnels != "" {
				ours = slices.DeleteFunc(ours, outerTunnelUDP)
			}
			got := convStrings(ours)
			w := convStrings(want)
			if !slices.Equal(got, w) {
				t.Errorf("conversations differ\n got: %s\nwant: %s", strings.Join(got, "\n      "), strings.Join(w, "\n      "))
				return
			}
			matched += len(expected[file]) - replaced
			documented += len(diffs[file])
		})
	}
	return matched, documented
}

// oracleDiff is one conversation where our figures differ from tshark's
// by design. tshark is the row of expected-conv.csv that does not apply
// ("" when tshark has no such row); ours is the row we report instead
// ("" when we report none). Rows read "proto A B a2b b2a" with counts
// as packets/bytes. The differences of tunnelled captures depend on
// decode's tunnels setting: closedTunnelDiffs and openTunnelDiffs.
type oracleDiff struct {
	file, tshark, ours, why string
}

var oracleDiffs = []oracleDiff{
	// IP fragments.
	{"valid/zeek_ipv4_fragmented-1.pcap",
		"udp 164.1.123.163:123 164.1.123.61:137 1/338 0/0",
		"udp 164.1.123.163:123 164.1.123.61:137 3/548 0/0",
		"tshark reassembles the datagram and counts it once, in the frame that completes it, with that frame's length; we count all 3 fragment frames with their wire lengths (decode gives later fragments the ports of the first)"},
	{"valid/zeek_ipv6-fragmented-dns.pcap",
		"udp [2001:470:1f11:81f:d138:5f55:6d4:1fe2]:51851 [2607:f740:b::f93]:53 2/272 1/436",
		"udp [2001:470:1f11:81f:d138:5f55:6d4:1fe2]:51851 [2607:f740:b::f93]:53 2/272 3/3424",
		"the second response comes in 3 IPv6 fragments (1494+1494+436 bytes): one frame of 436 bytes for tshark, 3 frames for us"},
	{"valid/zeek_ipv6-fragmented-dns.pcap",
		"",
		"udp [2607:f740:b::f93]:0 [2001:470:1f11:81f:d138:5f55:6d4:1fe2]:0 1/404 0/0",
		"a last IPv6 fragment whose first fragment is not in the capture has no UDP header: tshark puts it in no conversation; we count it in a flow with ports 0"},

	// IPv6 routing header.
	{"valid/zeek_ipv6-hbh-routing0.pcap",
		"udp [2001:4f8:4:7:2e0:81ff:fe52:ffff]:53 [2001:78:1:32::2]:53 1/113 0/0",
		"udp [2001:4f8:4:7:2e0:81ff:fe52:ffff]:53 [2001:4f8:4:7:2e0:81ff:fe52:9a6b]:53 1/113 0/0",
		"the packet has a type 0 routing header: tshark takes its final address as the destination; decode reports the destination of the IPv6 header, the hop the packet is addressed to on the wire"},

	// Flows are keyed by the outer VLAN id; tshark's conversations ignore VLANs.
	{"valid/zeek_vlan-pcp-dei.pcapng",
		"tcp 192.168.1.100:12345 192.168.1.200:80 6/348 3/174",
		"tcp 192.168.1.100:12345 192.168.1.200:80 2/124 1/62",
		"the same connection appears double-tagged (outer VLAN 10), tagged (VLAN 20) and untagged: three flows for us, this one on VLAN 10"},
	{"valid/zeek_vlan-pcp-dei.pcapng", "",
		"tcp 192.168.1.100:12345 192.168.1.200:80 2/116 1/58",
		"the same connection on VLAN 20"},
	{"valid/zeek_vlan-pcp-dei.pcapng", "",
		"tcp 192.168.1.100:12345 192.168.1.200:80 2/108 1/54",
		"the same connection untagged"},
	{"exotic/zeek_ldap_gap-data-missing.pcapng",
		"tcp [2a00:6020:ad0b:8381:fd70:e2f9:f031:9dc4]:49980 [2a00:6020:ad0b:8380::10]:389 10/3476 8/1493",
		"tcp [2a00:6020:ad0b:8381:fd70:e2f9:f031:9dc4]:49980 [2a00:6020:ad0b:8380::10]:389 10/3476 0/0",
		"routed between VLANs: the client's packets carry VLAN 81, the server's VLAN 80, so we report two one-way flows; this is the VLAN 81 one"},
	{"exotic/zeek_ldap_gap-data-missing.pcapng", "",
		"tcp [2a00:6020:ad0b:8381:fd70:e2f9:f031:9dc4]:49980 [2a00:6020:ad0b:8380::10]:389 0/0 8/1493",
		"the VLAN 80 half of the same connection"},

	// Link types.
	{"exotic/zeek_nflog-http.pcap",
		"tcp 10.0.2.15:49762 93.184.216.34:80 8/828 5/2276", "",
		"decode does not support LINKTYPE_NFLOG (239): its frames are counted as unsupported and skipped, so there are no flows"},
}

// closedTunnelDiffs apply with tunnels left closed (decode's default): a
// packet is accounted by its outer IP header.
var closedTunnelDiffs = []oracleDiff{
	{"valid/zeek_tunnels_4in6.pcap",
		"tcp 70.55.213.211:31337 192.88.99.1:80 1/94 0/0", "",
		"IPv4 in IPv6 is not opened: our flow has protocol 4 and no ports; tshark counts the inner TCP"},
	{"valid/zeek_tunnels_6in4.pcap",
		"udp [dead::beef]:30000 [cafe::babe]:13000 1/86 0/0", "",
		"IPv6 in IPv4 is not opened: our flow has protocol 41 and no ports; tshark counts the inner UDP"},
	{"valid/zeek_tunnels_gre-sample.pcap",
		"tcp 66.59.111.190:40264 172.28.2.3:22 12/2040 10/2579", "",
		"GRE is not opened: our flows have protocol 47; tshark counts the inner TCP"},
	{"valid/zeek_tunnels_gre-sample.pcap",
		"udp 66.59.111.190:123 18.26.4.105:123 1/114 1/114", "",
		"GRE is not opened: our flows have protocol 47; tshark counts the inner UDP"},
	{"valid/zeek_tunnels_gre-sample.pcap",
		"udp 66.59.111.190:37675 172.28.2.3:53 2/198 0/0", "",
		"GRE is not opened: our flows have protocol 47; tshark counts the inner UDP"},
	{"valid/zeek_tunnels_gre-sample.pcap",
		"udp 66.59.111.190:123 66.59.111.182:123 1/114 1/114", "",
		"GRE is not opened: our flows have protocol 47; tshark counts the inner UDP"},
	{"valid/zeek_tunnels_gre-sample.pcap",
		"udp 66.59.111.190:123 129.170.17.4:123 1/114 1/114", "",
		"GRE is not opened: our flows have protocol 47; tshark counts the inner UDP"},
	{"valid/zeek_tunnels_vxlan-encapsulated-http.pcap",
		"tcp 172.16.11.201:40354 54.86.237.188:80 7/907 5/9800", "",
		"VXLAN is not opened: we report only the outer UDP conversation to port 4789 (which tshark reports too, with the same figures); tshark also counts the inner TCP"},
}
