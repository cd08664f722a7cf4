package ipstats

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nfpipe/nfpipe/pipeline/event"
)

// syntheticTraffic returns packets of the given number of flows between
// 4096 clients and 256 servers, one microsecond apart. Flows send in
// trains of 1 to 16 packets alternating between directions, as TCP does
// with delayed ACKs; a third of the flows are UDP. Each TCP flow opens
// with a SYN and a SYN-ACK.
func syntheticTraffic(flows, packets int, seed uint64) []event.PacketRec {
	rng := rand.New(rand.NewPCG(seed, 1))
	type flow struct {
		cli, srv   netip.Addr
		cport, sp  uint16
		proto      uint8
		started    bool
		clientTurn bool
	}
	fs := make([]flow, flows)
	for i := range fs {
		c := rng.IntN(4096)
		s := rng.IntN(256)
		fs[i] = flow{
			cli:   netip.AddrFrom4([4]byte{10, 1, byte(c >> 8), byte(c)}),
			srv:   netip.AddrFrom4([4]byte{172, 16, 0, byte(s)}),
			cport: uint16(32768 + rng.IntN(28000)),
			sp:    []uint16{80, 443, 53, 22, 8080}[rng.IntN(5)],
			proto: protoTCP,
		}
		if i%3 == 0 {
			fs[i].proto = protoUDP
		}
	}
	out := make([]event.PacketRec, 0, packets)
	for len(out) < packets {
		f := &fs[rng.IntN(len(fs))]
		train := 1 + rng.IntN(16)
		for k := 0; k < train && len(out) < packets; k++ {
			p := event.PacketRec{
				TS: event.Time(len(out)) * event.Time(time.Microsecond), Proto: f.proto, IPVer: 4,
				WireLen: uint32(60 + rng.IntN(1455)),
			}
			fromClient := !f.started || f.clientTurn
			if fromClient {
				p.Src, p.Dst, p.SrcPort, p.DstPort = f.cli, f.srv, f.cport, f.sp
			} else {
				p.Src, p.Dst, p.SrcPort, p.DstPort = f.srv, f.cli, f.sp, f.cport
			}
			if f.proto == protoTCP {
				switch {
				case !f.started:
					p.TCPFlags = event.FlagSYN
				case k == 0 && !f.clientTurn:
					p.TCPFlags = event.FlagSYN | event.FlagACK
				default:
					p.TCPFlags = event.FlagACK | event.FlagPSH
				}
			}
			out = append(out, p)
			f.started = true
			if k%4 == 3 {
				f.clientTurn = !f.clientTurn
			}
		}
		f.clientTurn = !f.clientTurn
	}
	return out
}

// scanTraffic is one source probing every port of 256 hosts with SYNs.
func scanTraffic(packets int) []event.PacketRec {
	out := make([]event.PacketRec, packets)
	src := netip.MustParseAddr("203.0.113.9")
	for i := range out {
		out[i] = event.PacketRec{
			TS: event.Time(i) * event.Time(time.Microsecond), Proto: protoTCP, IPVer: 4, WireLen: 60,
			Src: src, Dst: netip.AddrFrom4([4]byte{198, 51, 100, byte(i)}),
			SrcPort: 40000, DstPort: uint16(1 + i/256), TCPFlags: event.FlagSYN,
		}
	}
	return out
}

// toIPv6 moves traffic into 2001:db8::/32, keeping the low 32 bits.
func toIPv6(ps []event.PacketRec) []event.PacketRec {
	v6 := func(a netip.Addr) netip.Addr {
		b4 := a.As4()
		return netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 12: b4[0], 13: b4[1], 14: b4[2], 15: b4[3]})
	}
	for i := range ps {
		ps[i].Src, ps[i].Dst, ps[i].IPVer = v6(ps[i].Src), v6(ps[i].Dst), 6
	}
	return ps
}

var benchCases = []struct {
	name    string
	traffic func() []event.PacketRec
}{
	{"flows=64", func() []event.PacketRec { return syntheticTraffic(64, 1<<17, 1) }},
	{"flows=4k", func() []event.PacketRec { return syntheticTraffic(4096, 1<<17, 2) }},
	{"flows=50k", func() []event.PacketRec { return syntheticTraffic(50_000, 1<<18, 3) }},
	{"flows=4k-ipv6", func() []event.PacketRec { return toIPv6(syntheticTraffic(4096, 1<<17, 2)) }},
	{"scan", func() []event.PacketRec { return scanTraffic(1 << 16) }},
}

// threadCPU returns the CPU time used by the calling OS thread. The
// benchmarks report it beside wall time because the machine they run on
// is shared: CPU time per packet does not grow when other processes take
// the cores.
func threadCPU() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}

// cpuMeter reports wall and CPU nanoseconds per packet.
type cpuMeter struct {
	b     *testing.B
	start time.Duration
}

func startMeter(b *testing.B) *cpuMeter {
	runtime.LockOSThread()
	b.ReportAllocs()
	b.ResetTimer()
	return &cpuMeter{b: b, start: threadCPU()}
}

// exclude takes CPU time spent on preparing input out of the result.
func (m *cpuMeter) exclude(d time.Duration) { m.start += d }

func (m *cpuMeter) stop() {
	cpu := threadCPU() - m.start
	m.b.StopTimer()
	runtime.UnlockOSThread()
	n := float64(m.b.N)
	m.b.ReportMetric(float64(m.b.Elapsed().Nanoseconds())/n, "ns/packet")
	m.b.ReportMetric(float64(cpu.Nanoseconds())/n, "cpu-ns/packet")
}

// BenchmarkAdd measures the steady state within one interval: the
// traffic is replayed in a loop, all of it inside the same interval.
func BenchmarkAdd(b *testing.B) {
	for _, bc := range benchCases {
		b.Run(bc.name, func(b *testing.B) {
			traffic := bc.traffic()
			tb := newTestTable(&collector{reuse: true})
			for i := range traffic {
				tb.add(&traffic[i])
			}
			m := startMeter(b)
			for i := 0; i < b.N; i++ {
				tb.add(&traffic[i%len(traffic)])
			}
			m.stop()
		})
	}
}

// BenchmarkAddRolling replays the traffic as one new interval per pass,
// so the cost of emitting and clearing every interval is included.
func BenchmarkAddRolling(b *testing.B) {
	for _, bc := range benchCases {
		b.Run(bc.name, func(b *testing.B) {
			traffic := bc.traffic()
			tb := newTable(int64(time.Second), 0, 1_000_000, 1_000_000, &collector{reuse: true})
			pass := 0
			shifted := make([]event.PacketRec, len(traffic))
			copy(shifted, traffic)
			next := func() {
				pass++
				for i := range shifted {
					shifted[i].TS = traffic[i].TS + event.Time(pass)*event.Time(time.Second)
				}
			}
			for i := range shifted {
				tb.add(&shifted[i])
			}
			next()
			m := startMeter(b)
			for i := 0; i < b.N; i++ {
				j := i % len(shifted)
				if j == 0 && i > 0 {
					// Shifting the timestamps rewrites megabytes of
					// packets: keep it out of both measurements.
					b.StopTimer()
					c := threadCPU()
					next()
					m.exclude(threadCPU() - c)
					b.StartTimer()
				}
				tb.add(&shifted[j])
			}
			m.stop()
		})
	}
}

func TestNoAllocationsPerPacketInSteadyState(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		traffic := syntheticTraffic(4096, 1<<15, 7)
		if v6 {
			traffic = toIPv6(traffic)
		}
		tb := newTestTable(&collector{reuse: true})
		for i := range traffic {
			tb.add(&traffic[i])
		}
		i := 0
		allocs := testing.AllocsPerRun(len(traffic), func() {
			tb.add(&traffic[i%len(traffic)])
			i++
		})
		if allocs != 0 {
			t.Errorf("ipv6=%v: %.2f allocations per packet within an interval, want 0", v6, allocs)
		}
		if allocs := testing.AllocsPerRun(10, func() { tb.addBatch(traffic[:256]) }); allocs != 0 {
			t.Errorf("ipv6=%v: %.2f allocations per batch of 256 within an interval, want 0", v6, allocs)
		}
	}
}

func TestNoAllocationsAcrossIntervals(t *testing.T) {
	// A whole interval, including emitting and clearing the previous one,
	// allocates nothing once the tables have grown to the traffic's size.
	for _, top := range []int{0, 100} {
		t.Run(fmt.Sprintf("top=%d", top), func(t *testing.T) {
			traffic := syntheticTraffic(4096, 1<<14, 8)
			tb := newTable(int64(time.Second), top, 1_000_000, 1_000_000, &collector{reuse: true})
			pass := 0
			interval := func() {
				for i := range traffic {
					p := traffic[i]
					p.TS += event.Time(pass) * event.Time(time.Second)
					tb.add(&p)
				}
				pass++
			}
			interval()
			interval()
			if allocs := testing.AllocsPerRun(5, interval); allocs != 0 {
				t.Errorf("%.1f allocations per interval of %d packets, want 0", allocs, len(traffic))
			}
			if tb.cnt.intervals < 7 {
				t.Errorf("only %d intervals emitted", tb.cnt.intervals)
			}
		})
	}
}
