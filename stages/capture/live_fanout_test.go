//go:build linux

package capture

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nfpipe/nfpipe/pipeline"
	"github.com/nfpipe/nfpipe/pipeline/event"
	"github.com/nfpipe/nfpipe/pipeline/spec"
)

// shardSink records which shard every flow's frames arrived on.
type shardSink struct {
	mu     sync.Mutex
	shards map[string]map[uint16]int // flow (ends sorted) -> shard -> frames
}

func (s *shardSink) Run(ctx context.Context, env *pipeline.Env) error {
	for b := range env.Batches() {
		s.mu.Lock()
		for _, f := range b.Frames {
			k, ok := flowOf(f.Data)
			if !ok {
				continue
			}
			if s.shards[k] == nil {
				s.shards[k] = map[uint16]int{}
			}
			s.shards[k][b.Shard]++
		}
		s.mu.Unlock()
	}
	return nil
}

// flowOf names the TCP or UDP flow of an Ethernet frame, the same for both
// directions.
func flowOf(d []byte) (string, bool) {
	if len(d) < 14 {
		return "", false
	}
	var src, dst netip.Addr
	var proto byte
	var l4 []byte
	switch binary.BigEndian.Uint16(d[12:]) {
	case 0x0800:
		ip := d[14:]
		if len(ip) < 20 {
			return "", false
		}
		src, dst = netip.AddrFrom4([4]byte(ip[12:16])), netip.AddrFrom4([4]byte(ip[16:20]))
		proto, l4 = ip[9], ip[int(ip[0]&0xf)*4:]
	case 0x86dd:
		ip := d[14:]
		if len(ip) < 40 {
			return "", false
		}
		src, dst = netip.AddrFrom16([16]byte(ip[8:24])), netip.AddrFrom16([16]byte(ip[24:40]))
		proto, l4 = ip[6], ip[40:]
	default:
		return "", false
	}
	if (proto != 6 && proto != 17) || len(l4) < 4 {
		return "", false
	}
	a := netip.AddrPortFrom(src, binary.BigEndian.Uint16(l4))
	b := netip.AddrPortFrom(dst, binary.BigEndian.Uint16(l4[2:]))
	if b.String() < a.String() {
		a, b = b, a
	}
	return fmt.Sprintf("%d %s %s", proto, a, b), true
}

// TestLiveFanout captures many connections with two workers: every
// flow's frames, both directions, come from one worker only (so reach
// one decode and sessionize shard), and both workers get flows.
func TestLiveFanout(t *testing.T) {
	p := newNetPair(t, false)
	p.serveHTTP()
	p.echoUDP(7007)
	reg := pipeline.NewRegistry()
	pipeline.RegisterIn(reg, captureSpec, newSource)
	sink := &shardSink{shards: map[string]map[uint16]int{}}
	pipeline.RegisterIn(reg, &spec.Component{Name: "shards", Role: spec.RoleSink, Summary: "records shards", Accepts: event.KindsOf(event.Raw)},
		func(_ *noConfig, _ *pipeline.BuildContext) (pipeline.Component, error) { return sink, nil })
	yml := "stages:\n  cap:\n    type: capture\n    interface: " + p.vc + "\n    netns: " + p.cli + "\n    workers: 2\nsinks:\n  out:\n    type: shards\n    inputs: [cap]\n"
	r, errs := buildIn(t, reg, yml)
	if errs != nil {
		t.Fatal(errs)
	}
	done := make(chan error, 1)
	go func() { done <- r.Run(context.Background()) }()
	if err := eventually(func() bool { st, _ := r.Status().Component("cap"); return st.Gauges["sockets_open"] == 2 }); err != nil {
		t.Fatal("capture did not open")
	}
	for i := 0; i < 24; i++ {
		p.get(p.b4, 2000)
		if i%3 == 0 {
			p.get(p.b6, 2000)
			p.udpExchange(p.b4, 7007, 2, 100)
		}
	}
	time.Sleep(300 * time.Millisecond)
	r.Stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	perShard := map[uint16]int{}
	var split []string
	for k, sh := range sink.shards {
		if len(sh) != 1 {
			split = append(split, fmt.Sprintf("%s: %v", k, sh))
		}
		for s := range sh {
			perShard[s]++
		}
	}
	if len(split) > 0 {
		t.Errorf("%d flows split across workers:\n%s", len(split), strings.Join(split, "\n"))
	}
	if len(sink.shards) < 40 || perShard[0] == 0 || perShard[1] == 0 {
		t.Errorf("%d flows, per worker %v; want >= 40 flows on both workers", len(sink.shards), perShard)
	}
	t.Logf("%d flows, per worker %v", len(sink.shards), perShard)
}

// TestLiveFanoutShards runs the whole path with two capture workers and
// two decode and sessionize shards: each TCP connection appears once,
// with both directions.
func TestLiveFanoutShards(t *testing.T) {
	for _, name := range []string{"decode", "sessionize"} {
		if reg, ok := pipeline.Default.Lookup(name); !ok || !reg.Spec.Shardable {
			t.Skipf("%s cannot run sharded in this build", name)
		}
	}
	p := newNetPair(t, false)
	p.serveHTTP()
	out := filepath.Join(t.TempDir(), "flows.jsonl")
	live := startPipeline(t, flowPipeline(out, 2, "interface: "+p.vc, "netns: "+p.cli, "workers: 2", "bpf: tcp port 80"))
	live.waitOpen(t)
	for i := 0; i < 20; i++ {
		p.get(p.b4, 3000)
	}
	time.Sleep(300 * time.Millisecond)
	live.stop(t)
	fs := readFlows(t, out).between(p)
	if len(fs) != 20 {
		t.Errorf("%d flows, want the 20 connections", len(fs))
	}
	for k, v := range fs {
		if len(v) != 1 || v[0].C2SPackets == 0 || v[0].S2CPackets == 0 {
			t.Errorf("%v: %v; want one flow with both directions", k, v)
		}
	}
	t.Logf("per worker: %d and %d packets", live.counter("packets_read_w0"), live.counter("packets_read_w1"))
}
