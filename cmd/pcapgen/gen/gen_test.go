package gen

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"net/netip"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// small is a capture small enough to decode every frame in a test.
var small = Config{Packets: 60_000, Flows: 4_000, Concurrent: 400, Seed: 7}

func generate(t testing.TB, cfg Config) ([]byte, *Truth) {
	t.Helper()
	var buf bytes.Buffer
	truth, err := Generate(&buf, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), truth
}

func TestSameSeedSameBytes(t *testing.T) {
	a, _ := generate(t, small)
	b, _ := generate(t, small)
	if sha256.Sum256(a) != sha256.Sum256(b) {
		t.Fatal("two runs with the same config wrote different captures")
	}
	other := small
	other.Seed++
	c, _ := generate(t, other)
	if bytes.Equal(a, c) {
		t.Fatal("a different seed wrote the same capture")
	}
}

// flowKey is a flow as a sessionizer sees it: protocol, VLAN and the two
// endpoints in a canonical order. ICMP is keyed on addresses only, the
// strictest choice a sessionizer can make.
type flowKey struct {
	proto  uint8
	vlan   uint16
	lo, hi netip.AddrPort
}

func keyOf(proto uint8, vlan uint16, a, b netip.AddrPort) flowKey {
	if b.Addr().Less(a.Addr()) || b.Addr() == a.Addr() && b.Port() < a.Port() {
		a, b = b, a
	}
	return flowKey{proto, vlan, a, b}
}

// TestReadBackMatchesTruth reads every frame back with an independent
// pcap reader and L2–L4 decoder and checks it against the truth: counts,
// sizes, lengths, checksums, DNS messages, timestamps, and the flow count
// after sessionizing by key.
func TestReadBackMatchesTruth(t *testing.T) {
	for _, nano := range []bool{false, true} {
		cfg := small
		cfg.Nanosecond = nano
		data, truth := generate(t, cfg)
		if int64(len(data)) != truth.FileBytes {
			t.Fatalf("file is %d bytes, truth says %d", len(data), truth.FileBytes)
		}
		r, err := pcapgo.NewReader(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		if r.LinkType() != layers.LinkTypeEthernet {
			t.Fatalf("link type %v", r.LinkType())
		}
		if want := gopacket.TimestampResolutionNanosecond; nano && r.Resolution() != want {
			t.Fatalf("resolution %v, want %v", r.Resolution(), want)
		}
		d := newDecoder()
		var (
			packets, byteSum, v6, vlan uint64
			byProto                    = map[string]uint64{}
			flows                      = map[flowKey]string{}
			flowsByProto               = map[string]uint64{}
			tcp                        = map[flowKey]*tcpTrack{}
			last                       int64
		)
		for {
			frame, ci, err := r.ReadPacketData()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			packets++
			byteSum += uint64(ci.Length)
			if ci.CaptureLength != ci.Length || ci.Length != len(frame) {
				t.Fatalf("frame %d: captured %d of %d", packets, ci.CaptureLength, ci.Length)
			}
			ts := ci.Timestamp.UnixNano()
			if ts < last {
				t.Fatalf("frame %d: timestamp goes back from %d to %d", packets, last, ts)
			}
			last = ts
			name, k, from, isSYN := d.decode(t, packets, frame)
			if d.has(layers.LayerTypeDot1Q) {
				vlan++
			}
			if d.has(layers.LayerTypeIPv6) {
				v6++
			}
			byProto[name]++
			if _, seen := flows[k]; !seen {
				flows[k] = name
				flowsByProto[name]++
				if name == "tcp" {
					if !isSYN {
						t.Fatalf("frame %d: TCP flow %v starts without a SYN", packets, k)
					}
					tcp[k] = &tcpTrack{client: from}
				}
			}
			if name == "tcp" {
				tcp[k].follow(t, packets, from, &d.tcp)
			}
		}
		if packets != truth.Packets || packets != uint64(cfg.Packets) {
			t.Errorf("read %d frames, truth %d, config %d", packets, truth.Packets, cfg.Packets)
		}
		if byteSum != truth.Bytes {
			t.Errorf("read %d bytes, truth %d", byteSum, truth.Bytes)
		}
		if uint64(len(flows)) != truth.Flows || truth.Flows != uint64(cfg.Flows) {
			t.Errorf("sessionized %d flows, truth %d, config %d", len(flows), truth.Flows, cfg.Flows)
		}
		for _, p := range protoNames {
			if flowsByProto[p] != truth.FlowsByProto[p] || byProto[p] != truth.PacketsByProto[p] {
				t.Errorf("%s: read %d flows %d frames, truth %d flows %d frames",
					p, flowsByProto[p], byProto[p], truth.FlowsByProto[p], truth.PacketsByProto[p])
			}
			if truth.FlowsByProto[p] == 0 {
				t.Errorf("no %s flows in the capture", p)
			}
		}
		if v6 != truth.IPv6Packets || vlan != truth.VLANPackets {
			t.Errorf("read %d IPv6 and %d VLAN frames, truth %d and %d", v6, vlan, truth.IPv6Packets, truth.VLANPackets)
		}
		wantTS := truth.LastNS
		if !nano {
			wantTS -= wantTS % 1000
		}
		if last != wantTS {
			t.Errorf("last timestamp %d, truth %d", last, truth.LastNS)
		}
	}
}

// TestModelShape checks the traffic mix the benchmarks rely on.
func TestModelShape(t *testing.T) {
	_, tr := generate(t, Config{Packets: 200_000, Flows: 8_000, Concurrent: 1_000, Seed: 3})
	share := func(n, of uint64) float64 { return float64(n) / float64(of) }
	if s := share(tr.IPv6Flows, tr.Flows); s < 0.17 || s > 0.23 {
		t.Errorf("IPv6 share of flows %.3f, want about 0.2", s)
	}
	if s := share(tr.VLANFlows, tr.Flows); s < 0.08 || s > 0.12 {
		t.Errorf("VLAN share of flows %.3f, want about 0.1", s)
	}
	// Small frames are 64 bytes, or the header minimum of IPv6 and
	// VLAN frames, or a short DNS message.
	var smallN uint64
	for size, n := range tr.FrameSizes {
		if l, err := strconv.Atoi(size); err != nil {
			t.Fatal(err)
		} else if l < 200 {
			smallN += n
		}
	}
	small := share(smallN, tr.Packets)
	mid := share(tr.FrameSizes["594"], tr.Packets)
	large := share(tr.FrameSizes["1518"], tr.Packets)
	if small < 0.5 || small > 0.65 || mid < 0.25 || mid > 0.4 || large < 0.05 || large > 0.12 {
		t.Errorf("frame size mix small:%.2f 594:%.2f 1518:%.2f, want near 7:4:1 (0.58:0.33:0.08)", small, mid, large)
	}
	if tr.TCPFinCloses == 0 || tr.TCPRSTCloses == 0 || tr.TCPRefused == 0 {
		t.Errorf("TCP closes: %d fin, %d rst, %d refused; want all kinds", tr.TCPFinCloses, tr.TCPRSTCloses, tr.TCPRefused)
	}
	if tr.IdleGapFlows == 0 || tr.IdleGapMinNS < IdleGapMin || tr.MaxActiveGapNS >= IdleGapMin/2 {
		t.Errorf("idle gaps: %d flows, min %d ns, largest other gap %d ns", tr.IdleGapFlows, tr.IdleGapMinNS, tr.MaxActiveGapNS)
	}
	if tr.PeakOpenFlows < 950 || tr.PeakOpenFlows > 1_000 {
		t.Errorf("peak open flows %d, want close to the 1000 asked for", tr.PeakOpenFlows)
	}
}

// TestAllConcurrent checks the flow-table benchmark's shape: every flow
// open at once.
func TestAllConcurrent(t *testing.T) {
	_, tr := generate(t, Config{Packets: 60_000, Flows: 20_000, Concurrent: 20_000, Seed: 1})
	if tr.PeakTrackedFlows < 19_200 {
		t.Errorf("peak tracked flows %d of 20000", tr.PeakTrackedFlows)
	}
}

func TestWriteFileAndMatches(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.pcap")
	cfg := Config{Packets: 5_000, Flows: 500, Concurrent: 50, Seed: 1}
	tr, err := WriteFile(path, cfg)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := Matches(path, cfg)
	if !ok || got.Packets != tr.Packets || got.Flows != 500 || got.FlowsByProto["tcp"] != tr.FlowsByProto["tcp"] {
		t.Fatalf("Matches = %v, %+v", ok, got)
	}
	other := cfg
	other.Seed = 2
	if _, ok := Matches(path, other); ok {
		t.Fatal("Matches accepted a capture of another seed")
	}
}

func TestValidate(t *testing.T) {
	for _, c := range []Config{
		{Packets: 10, Flows: 0, Concurrent: 1},
		{Packets: 10, Flows: 11, Concurrent: 1},
		{Packets: 10, Flows: 5, Concurrent: 0},
		{Packets: 10, Flows: 5, Concurrent: 1, Spacing: -1},
	} {
		if _, err := New(c); err == nil {
			t.Errorf("New(%+v) accepted an invalid config", c)
		}
	}
	// One frame per flow and a single slot is still a valid capture.
	_, tr := generate(t, Config{Packets: 100, Flows: 100, Concurrent: 1})
	if tr.Packets != 100 || tr.Flows != 100 {
		t.Errorf("got %d frames %d flows", tr.Packets, tr.Flows)
	}
}

func TestNextAllocatesNothing(t *testing.T) {
	g, err := New(Config{Packets: 1_000_000, Flows: 20_000, Concurrent: 2_000, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	pw, err := newPcapWriter(io.Discard, false)
	if err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(10_000, func() {
		ts, frame, _ := g.Next()
		if err := pw.write(ts, frame); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Fatalf("%v allocations per frame", n)
	}
}

func BenchmarkGenerate(b *testing.B) {
	cfg := Config{Packets: 1 << 30, Flows: 1 << 24, Concurrent: 20_000, Seed: 1}
	g, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	pw, err := newPcapWriter(io.Discard, false)
	if err != nil {
		b.Fatal(err)
	}
	var n int64
	b.ReportAllocs()
	for b.Loop() {
		ts, frame, _ := g.Next()
		n += int64(len(frame)) + pcapRecordLen
		if err := pw.write(ts, frame); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(n / int64(b.N))
}

// BenchmarkGenerateMillionOpen is the flow-table capture's shape: a
// million flows open at once, so the schedule and the flow states do not
// fit in the CPU caches.
func BenchmarkGenerateMillionOpen(b *testing.B) {
	g, err := New(Config{Packets: 1 << 40, Flows: 1 << 28, Concurrent: 1_000_000, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		g.Next()
	}
}
