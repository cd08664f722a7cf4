//go:build linux

package capture

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nfpipe/nfpipe/pipeline"
	"github.com/nfpipe/nfpipe/pipeline/event"
)

// liveBackend is a live capture method under test with the number of
// workers it runs.
type liveBackend struct {
	name    string
	workers int
}

// fields are the capture fields that select the backend, then extra.
func (b liveBackend) fields(extra ...string) []string {
	return append([]string{"backend: " + b.name, fmt.Sprintf("workers: %d", b.workers)}, extra...)
}

// liveBackends are the backends of this build: afpacket with two workers
// (so fanout is part of every comparison) and, in builds with -tags
// pcap, libpcap with its one.
func liveBackends() []liveBackend {
	bs := []liveBackend{{"afpacket", 2}}
	if LibpcapBuild() {
		bs = append(bs, liveBackend{"pcap", 1})
	}
	return bs
}

// forEachBackend runs a live test once per backend of this build.
func forEachBackend(t *testing.T, fn func(t *testing.T, be liveBackend)) {
	for _, be := range liveBackends() {
		t.Run(be.name, func(t *testing.T) { fn(t, be) })
	}
}

// TestLiveBackendChecks: the pcap backend refuses several workers before
// anything opens, and a build without libpcap says how to get one.
func TestLiveBackendChecks(t *testing.T) {
	_, errs := build(t, ".", "stages:\n  cap:\n    type: capture\n    interface: lo\n    backend: pcap\n    workers: 2\nsinks:\n  out:\n    type: frames\n    inputs: [cap]\n")
	if errs == nil || !strings.Contains(errs.Error(), "the pcap backend reads one socket; use backend: afpacket for several workers") {
		t.Errorf("workers: 2 with backend: pcap: %v", errs)
	}
	_, errs = build(t, ".", "stages:\n  cap:\n    type: capture\n    interface: lo\n    backend: pcap\nsinks:\n  out:\n    type: frames\n    inputs: [cap]\n")
	refused := errs != nil && strings.Contains(errs.Error(), "needs an nfpipe built with libpcap (go build -tags pcap")
	if refused == LibpcapBuild() {
		t.Errorf("libpcap linked in: %v; backend: pcap: %v", LibpcapBuild(), errs)
	}
}

// TestLiveBPFError: a filter with a mistake stops the pipeline from
// starting, with libpcap's message (through tcpdump or linked in) and
// the line of the stage, for every backend.
func TestLiveBPFError(t *testing.T) {
	needRoot(t)
	if !LibpcapBuild() {
		needTcpdump(t)
	}
	forEachBackend(t, func(t *testing.T, be liveBackend) {
		_, errs := build(t, ".", "stages:\n  cap:\n    type: capture\n    interface: lo\n    backend: "+be.name+"\n    bpf: tcp port 99999\nsinks:\n  out:\n    type: frames\n    inputs: [cap]\n")
		if errs == nil {
			t.Fatal("pipeline built with a wrong filter")
		}
		for _, want := range []string{`bpf "tcp port 99999": illegal port number 99999 > 65535`, "pipeline.yaml:3:"} {
			if !strings.Contains(errs.Error(), want) {
				t.Errorf("message %q lacks %q", errs.Error(), want)
			}
		}
	})
}

// TestLiveInterfaceDown takes the captured interface down mid-capture:
// the stage reports itself degraded and retries, and captures again once
// the interface is up, for every backend (libpcap itself would wait
// silently).
func TestLiveInterfaceDown(t *testing.T) { forEachBackend(t, testLiveInterfaceDown) }

func testLiveInterfaceDown(t *testing.T, be liveBackend) {
	p := newNetPair(t, false)
	p.echoUDP(7007)
	out := filepath.Join(t.TempDir(), "flows.jsonl")
	live := startPipeline(t, flowPipeline(out, 0, be.fields("interface: "+p.vc, "netns: "+p.cli, "bpf: udp port 7007")...))
	live.waitOpen(t)
	p.udpExchange(p.b4, 7007, 5, 100)
	if err := eventually(func() bool { return live.counter("packets_read") == 10 }); err != nil {
		t.Fatalf("packets_read %d before the interface went down, want 10", live.counter("packets_read"))
	}

	sh(t, "ip", "-n", p.cli, "link", "set", p.vc, "down")
	if err := eventually(func() bool { return live.gauge("sockets_open") == 0 }); err != nil {
		t.Fatalf("interface down not noticed:\n%s", live.logs.String())
	}
	st, _ := live.p.Status().Component("cap")
	if st.Health != pipeline.Degraded || !strings.Contains(st.HealthMsg, "down") {
		t.Errorf("health %s %q, want degraded, interface down", st.Health, st.HealthMsg)
	}

	sh(t, "ip", "-n", p.cli, "link", "set", p.vc, "up")
	live.waitOpen(t)
	p.udpExchange(p.b4, 7007, 5, 100)
	if err := eventually(func() bool { return live.counter("packets_read") == 20 }); err != nil {
		t.Fatalf("packets_read %d after the interface came back up, want 20:\n%s", live.counter("packets_read"), live.logs.String())
	}
	if live.counter("reopens") < 1 {
		t.Errorf("reopens = %d", live.counter("reopens"))
	}
	live.stop(t)
}

// readFrames reads n frames through the reader into a batch that is
// emptied when full, as the worker loop does with pooled batches. It
// fails on any error, errWouldBlock included. fi is the caller's, as in
// the worker, where it lives as long as the loop.
func readFrames(t testing.TB, r liveReader, b *event.Batch, fi *frameInfo, n int) {
	link := r.link()
	for i := 0; i < n; i++ {
		data, err := r.next(fi)
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if len(b.Frames) == 256 {
			b.Frames, b.Arena = b.Frames[:0], b.Arena[:0]
		}
		b.AddFrame(event.Frame{TS: event.Time(fi.ts), WireLen: fi.wireLen, LinkType: link}, data)
	}
}

// BenchmarkLiveRead reads datagrams the kernel captured on a veth
// through each backend's reader into batches; one op is one frame. Each
// round sends up to 20,000 datagrams of 242 bytes on the wire with the
// timer stopped and waits until the kernel has taken them all, then
// reads them timed: the cost from the kernel's buffer to a batch,
// without the cost of making the traffic.
func BenchmarkLiveRead(b *testing.B) {
	for _, be := range liveBackends() {
		b.Run(be.name, func(b *testing.B) {
			p := newNetPair(b, false)
			p.listenUDP(":9000") // a socket, so no ICMP port unreachable comes back
			cfg := Config{Interface: p.vc, Netns: p.cli, Backend: be.name, Workers: 1, BPF: "udp port 9000", Snaplen: 262144,
				Promiscuous: true, RingSize: 64 << 20, BlockSize: 1 << 20, BlockTimeout: 10 * time.Millisecond}
			l := &liveSource{cfg: cfg, workers: 1}
			err := inNetns(p.cli, func() (err error) {
				l.prog, err = compileFilter(cfg.BPF, p.vc, cfg.Snaplen)
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
			set, _, err := l.open()
			if err != nil {
				b.Fatal(err)
			}
			r := set[0]
			defer r.close()
			batch, fi := event.NewBatch(event.Raw), &frameInfo{}
			link := r.link()
			const round = 20000
			b.ReportAllocs()
			b.ResetTimer()
			for done := 0; done < b.N; {
				n := min(round, b.N-done)
				b.StopTimer()
				p.udpBurst(9000, n, 200)
				var taken uint64
				if err := eventually(func() bool { st, _ := r.stats(); taken += st.packets; return taken >= uint64(n) }); err != nil {
					b.Fatalf("the kernel took %d of %d datagrams", taken, n)
				}
				b.StartTimer()
				for i := 0; i < n; {
					data, err := r.next(fi)
					if errors.Is(err, errWouldBlock) {
						// The last block is handed over at its timeout.
						r.wait(pollMs)
						continue
					}
					if err != nil {
						b.Fatal(err)
					}
					if len(batch.Frames) == 256 {
						batch.Frames, batch.Arena = batch.Frames[:0], batch.Arena[:0]
					}
					batch.AddFrame(event.Frame{TS: event.Time(fi.ts), WireLen: fi.wireLen, LinkType: link}, data)
					i++
				}
				done += n
			}
		})
	}
}
