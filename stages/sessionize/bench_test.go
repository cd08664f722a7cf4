package sessionize

import (
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/nfpipe/nfpipe/pipeline/event"
	"github.com/nfpipe/nfpipe/stages/internal/hugemem"
)

// discard counts reported flows without keeping them, so measurements
// see only the table's own cost.
type discard struct{ n int }

func (d *discard) emit(*event.FlowRec) { d.n++ }

// flowPacket returns a TCP ACK of flow n (client 10.x.y.z:port to a
// server on 443), sent by the server if reply.
func flowPacket(n uint32, reply bool) event.PacketRec {
	src := netip.AddrFrom4([4]byte{10, byte(n >> 16), byte(n >> 8), byte(n)})
	dst := netip.AddrFrom4([4]byte{192, 0, 2, byte(n >> 24)})
	p := event.PacketRec{
		WireLen: 590, CapLen: 590, Src: src, Dst: dst,
		Proto: 6, SrcPort: 1024 + uint16(n%60000), DstPort: 443, TCPFlags: event.FlagACK,
	}
	if reply {
		p.Src, p.Dst, p.SrcPort, p.DstPort = p.Dst, p.Src, p.DstPort, p.SrcPort
	}
	return p
}

// traffic generates a steady mix of packets over `live` concurrent
// flows: one packet in `newEvery` replaces a random flow by a new one,
// the others continue a random live flow in either direction. Packets
// are 200 ns of packet time apart (5 million per second) unless step
// says otherwise.
type traffic struct {
	slots    []uint32 // flow numbers of the live flows
	next     uint32   // next new flow number
	newEvery uint32
	rng      uint64 // xorshift state: cheaper than math/rand per packet
	ts       event.Time
	step     event.Time // packet time between packets
}

func newTraffic(live, newEvery int) *traffic {
	g := &traffic{slots: make([]uint32, live), newEvery: uint32(newEvery), rng: 88172645463325252, step: 200}
	for i := range g.slots {
		g.slots[i] = g.next
		g.next++
	}
	return g
}

func (g *traffic) packet(p *event.PacketRec) {
	g.rng ^= g.rng << 13
	g.rng ^= g.rng >> 7
	g.rng ^= g.rng << 17
	r := g.rng
	s := uint32(r % uint64(len(g.slots)))
	if uint32(r>>32)%g.newEvery == 0 {
		g.slots[s] = g.next
		g.next++
	}
	*p = flowPacket(g.slots[s], r&(1<<40) != 0)
	g.ts += g.step
	p.TS = g.ts
}

// BenchmarkAddExisting is the cost of a packet of a flow already in the
// table and in cache.
func BenchmarkAddExisting(b *testing.B) {
	d := &discard{}
	tb := NewTable(DefaultConfig(), d.emit)
	p := flowPacket(1, false)
	b.ReportAllocs()
	cpu := startCPU()
	for i := 0; i < b.N; i++ {
		p.TS = event.Time(i)
		tb.Add(&p)
	}
	cpu.report(b, "packet")
}

// BenchmarkAddMix measures the steady state of a table under a mix of
// 10% new flows and 90% packets of live flows, with 10,000 and 1,000,000
// flows live (the latter is far larger than the CPU caches). The idle
// timeout is ten times the mean gap between two packets of a flow, so
// flows end by idle expiry about as fast as new ones start; the table is
// warmed up to that state before the clock starts. Packets go in batches
// of 256 through AddBatch, as the stage feeds them. ns/op includes
// generating the packets; ns/packet and cpu-ns/packet time AddBatch
// alone, the latter in this thread's CPU time, for machines shared with
// other work.
func BenchmarkAddMix(b *testing.B) {
	for _, live := range []int{10_000, 1_000_000} {
		b.Run(itoa(live)+"flows", func(b *testing.B) {
			g := newTraffic(live, 10)
			d := &discard{}
			cfg := DefaultConfig()
			cfg.IdleTimeout = time.Duration(10*live) * 200 * time.Nanosecond
			cfg.MaxSessions = 4 * live // room for the flows not yet expired
			tb := NewTable(cfg, d.emit)
			batch := make([]event.PacketRec, 256)
			fill := func() {
				for i := range batch {
					g.packet(&batch[i])
				}
			}
			for range 15 * live / len(batch) {
				fill()
				tb.AddBatch(batch)
			}
			b.ReportAllocs()
			b.ResetTimer()
			cpu := startCPU()
			var spent, wall time.Duration
			for n := 0; n < b.N; n += len(batch) {
				fill()
				t0, w0 := threadTime(), time.Now()
				tb.AddBatch(batch)
				wall += time.Since(w0)
				spent += threadTime() - t0
			}
			b.StopTimer()
			cpu.stop()
			b.ReportMetric(float64(wall.Nanoseconds())/float64(b.N), "ns/packet")
			if spent > 0 {
				b.ReportMetric(float64(spent.Nanoseconds())/float64(b.N), "cpu-ns/packet")
			}
			b.ReportMetric(float64(tb.Len()), "flows")
		})
	}
}

// BenchmarkMemoryPerFlow inserts 1,000,000 concurrent flows and reports
// the heap they take per flow, table overhead included.
func BenchmarkMemoryPerFlow(b *testing.B) {
	for i := 0; i < b.N; i++ {
		perFlow := memoryPerFlow(1_000_000)
		b.ReportMetric(perFlow, "B/flow")
	}
}

// memoryPerFlow returns the memory growth per flow after inserting n
// concurrent flows: the heap's, and the tables mapped apart from it.
func memoryPerFlow(n int) float64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	mappedBefore := hugemem.Populated()
	d := &discard{}
	tb := NewTable(Config{IdleTimeout: time.Hour, MaxSessions: n}, d.emit)
	for i := 0; i < n; i++ {
		p := flowPacket(uint32(i), false)
		p.TS = event.Time(i)
		tb.Add(&p)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if tb.Len() != n || d.n != 0 {
		panic("flows lost while measuring memory")
	}
	mapped := hugemem.Populated() - mappedBefore
	tb.Release()
	return (float64(after.HeapAlloc) - float64(before.HeapAlloc) + float64(mapped)) / float64(n)
}

func itoa(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return itoa(n/1_000_000) + "M"
	case n >= 1000 && n%1000 == 0:
		return itoa(n/1000) + "k"
	}
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}
