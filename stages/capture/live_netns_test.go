//go:build linux

package capture

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// mixedTraffic runs real HTTP (IPv4 and IPv6), UDP exchanges and pings
// across the pair.
func mixedTraffic(p *netPair) {
	p.t.Helper()
	for _, size := range []int{0, 1000, 30000, 400000} {
		p.get(p.b4, size)
	}
	for _, size := range []int{10, 100000} {
		p.get(p.b6, size)
	}
	p.udpExchange(p.b4, 7007, 20, 200)
	p.udpExchange(p.b4, 7007, 5, 1400)
	p.udpExchange(p.b6, 7007, 10, 1000)
	p.ping(p.b4, 3)
	p.ping(p.b6, 3)
}

// TestLiveMatchesTcpdump captures real traffic between two namespaces
// with nfpipe (afpacket with two workers; libpcap in builds with it) and
// tcpdump on the same interface at the same time, sessionizes both, and
// compares them flow by flow: the same connections with the same packets
// and bytes in each direction.
func TestLiveMatchesTcpdump(t *testing.T) { forEachBackend(t, testLiveMatchesTcpdump) }

func testLiveMatchesTcpdump(t *testing.T, be liveBackend) {
	p := newNetPair(t, false)
	p.serveHTTP()
	p.echoUDP(7007)
	out := filepath.Join(t.TempDir(), "live.jsonl")
	live := startPipeline(t, flowPipeline(out, 0, be.fields("interface: "+p.vc, "netns: "+p.cli)...))
	live.waitOpen(t)
	td := startTcpdump(t, p.cli, p.vc, "")

	mixedTraffic(p)
	time.Sleep(300 * time.Millisecond) // let the last blocks retire
	file := td.stop(t)
	live.stop(t)

	// Compare the flows between the two test hosts: link-local chatter
	// (MLD reports, router solicitations) may fall just outside one of
	// the two captures' windows.
	want := fileFlows(t, file).between(p)
	got := readFlows(t, out).between(p)
	if d := diffFlows(want, got); len(d) > 0 {
		t.Errorf("%d flows differ:\n%s", len(d), strings.Join(d, "\n"))
	}
	// The comparison means something only if the traffic is all there.
	wp, wb := want.totals()
	tcp4 := want.count(func(k flowKey) bool { return k.Proto == "tcp" && strings.HasPrefix(k.Server, p.b4+"/80") })
	tcp6 := want.count(func(k flowKey) bool { return k.Proto == "tcp" && strings.HasPrefix(k.Server, p.b6+"/80") })
	udp := want.count(func(k flowKey) bool { return k.Proto == "udp" && strings.HasSuffix(k.Server, "/7007") })
	icmp := want.count(func(k flowKey) bool { return strings.HasPrefix(k.Proto, "icmp") })
	if tcp4 != 4 || tcp6 != 2 || udp < 2 || wp < 300 || wb < 500000 {
		t.Errorf("tcpdump saw %d IPv4 and %d IPv6 HTTP connections, %d UDP flows, %d packets, %d bytes; want 4, 2, >=2, >=300, >=500000", tcp4, tcp6, udp, wp, wb)
	}
	if _, err := findPing(); err == nil && icmp < 2 {
		t.Errorf("tcpdump saw %d ICMP flows, want the two pings", icmp)
	}
	t.Logf("%d flows, %d packets, %d bytes; capture counters: packets_read=%d kernel_packets=%d kernel_drops=%d",
		len(want), wp, wb, live.counter("packets_read"), live.counter("kernel_packets"), live.counter("kernel_drops"))
	if live.counter("kernel_drops") != 0 {
		t.Errorf("kernel dropped %d packets on an idle machine", live.counter("kernel_drops"))
	}
}
