//go:build linux

package capture

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestLiveBPF captures one burst of mixed traffic (HTTP on port 80 over
// IPv4 and IPv6, UDP and TCP on VLAN 100, UDP on ports in and out of a range, over both
// families, pings) with four filters at once, and checks that each keeps
// exactly the flows, packets and bytes that match it in an unfiltered
// tcpdump recording of the same burst. It runs for every backend of the
// build.
func TestLiveBPF(t *testing.T) { forEachBackend(t, testLiveBPF) }

func testLiveBPF(t *testing.T, be liveBackend) {
	p := newNetPair(t, true)
	needTcpdump(t)
	p.serveHTTP()
	for _, port := range []int{4999, 5000, 5005, 5010, 5011, 7007} {
		p.echoUDP(port)
	}
	port := func(ep string) int {
		n, _ := strconv.Atoi(ep[strings.LastIndexByte(ep, '/')+1:])
		return n
	}
	v6 := func(k flowKey) bool { return strings.Contains(k.Client, ":") }
	cases := []struct {
		bpf   string
		match func(flowKey) bool
	}{
		// On Linux the kernel takes VLAN tags out of the frame before the
		// filter runs, so "tcp port 80" also matches tagged traffic; tcpdump
		// behaves the same.
		{"tcp port 80", func(k flowKey) bool {
			return k.Proto == "tcp" && (port(k.Client) == 80 || port(k.Server) == 80)
		}},
		{"portrange 5000-5010", func(k flowKey) bool {
			in := func(n int) bool { return n >= 5000 && n <= 5010 }
			return (k.Proto == "tcp" || k.Proto == "udp") && (in(port(k.Client)) || in(port(k.Server)))
		}},
		{"vlan", func(k flowKey) bool { return k.VLAN != 0 }},
		{"ip6 and udp", func(k flowKey) bool { return k.Proto == "udp" && v6(k) }},
	}
	runs := make([]*liveRun, len(cases))
	outs := make([]string, len(cases))
	for i, c := range cases {
		outs[i] = filepath.Join(t.TempDir(), fmt.Sprintf("bpf%d.jsonl", i))
		runs[i] = startPipeline(t, flowPipeline(outs[i], 0, "interface: "+p.vc, "netns: "+p.cli, "backend: "+be.name, "workers: 1", "bpf: "+strconv.Quote(c.bpf)))
	}
	for _, r := range runs {
		r.waitOpen(t)
	}
	td := startTcpdump(t, p.cli, p.vc, "")

	p.get(p.b4, 5000)
	p.get(p.b6, 5000)
	for _, port := range []int{4999, 5000, 5005, 5010, 5011, 7007} {
		p.udpExchange(p.b4, port, 3, 100)
		p.udpExchange(p.b6, port, 3, 100)
	}
	p.injectVLAN(5005, 80, 3)
	p.injectVLAN(7007, 8080, 2)
	p.ping(p.b4, 2)
	p.ping(p.b6, 2)
	time.Sleep(300 * time.Millisecond)
	all := fileFlows(t, td.stop(t)).between(p)
	for _, r := range runs {
		r.stop(t)
	}

	for i, c := range cases {
		want := flowSet{}
		for k, v := range all {
			if c.match(k) {
				want[k] = v
			}
		}
		got := readFlows(t, outs[i]).between(p)
		if len(want) == 0 || len(want) == len(all) {
			t.Errorf("%q: %d of %d flows match; the traffic does not test the filter", c.bpf, len(want), len(all))
		}
		if d := diffFlows(want, got); len(d) > 0 {
			t.Errorf("%q: %d flows differ from the matching part of the unfiltered recording:\n%s", c.bpf, len(d), strings.Join(d, "\n"))
		}
		wp, _ := want.totals()
		t.Logf("%q: %d of %d flows, %d packets", c.bpf, len(want), len(all), wp)
	}
}
