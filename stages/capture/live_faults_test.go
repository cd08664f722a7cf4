//go:build linux

package capture

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nfpipe/nfpipe/pipeline"
)

// udpBurst sends count datagrams of size bytes from the client side to
// the server side without waiting for answers.
func (p *netPair) udpBurst(port, count, size int) {
	p.t.Helper()
	c, err := p.dialUDP(p.b4, port)
	if err != nil {
		p.t.Fatal(err)
	}
	defer c.Close()
	msg := make([]byte, size)
	for i := 0; i < count; i++ {
		c.Write(msg)
	}
}

// TestLiveOverload overflows a tiny ring behind a slow sink and checks
// that the kernel's drops are counted in the status, per worker and in
// total, logged as a warning and reported when the capture stops.
func TestLiveOverload(t *testing.T) { forEachBackend(t, testLiveOverload) }

func testLiveOverload(t *testing.T, be liveBackend) {
	p := newNetPair(t, false)
	p.listenUDP(":9000") // a socket, so no ICMP port unreachable comes back
	r, errs := build(t, ".", "stages:\n  cap:\n    type: capture\n    interface: "+p.vc+"\n    netns: "+p.cli+
		"\n    backend: "+be.name+"\n    workers: 1\n    ring_size: 128KiB\n    block_size: 64KiB\n    bpf: udp port 9000\nsinks:\n  out:\n    type: frames\n    inputs: [cap]\n")
	if errs != nil {
		t.Fatal(errs)
	}
	r.out.onAdd = func(int) { time.Sleep(20 * time.Millisecond) }
	done := make(chan error, 1)
	go func() { done <- r.p.Run(context.Background()) }()
	defer func() { r.p.Kill(); <-done }()
	if err := eventually(func() bool { st, _ := r.p.Status().Component("cap"); return st.Gauges["sockets_open"] > 0 }); err != nil {
		t.Fatal("capture did not open")
	}
	p.udpBurst(9000, 20000, 1000)
	if err := eventually(func() bool { return r.counter("kernel_drops") > 0 }); err != nil {
		t.Fatalf("no drops counted: %v", r.p.Status().Components)
	}
	r.p.Stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	done <- nil
	st, _ := r.p.Status().Component("cap")
	c := st.Counters
	t.Logf("kernel_packets=%d kernel_drops=%d kernel_freezes=%d packets_read=%d", c["kernel_packets"], c["kernel_drops"], c["kernel_freezes"], c["packets_read"])
	if c["kernel_drops_w0"] != c["kernel_drops"] || c["kernel_packets"] < c["kernel_drops"]+c["packets_read"] {
		t.Errorf("counters do not add up: %v", c)
	}
	if c["packets_read"] != uint64(r.out.count()) {
		t.Errorf("packets_read %d, sink got %d", c["packets_read"], r.out.count())
	}
	// Each backend publishes only the counters it measures.
	_, freezes := c["kernel_freezes"]
	_, ifDrops := c["interface_drops"]
	if freezes != (be.name == "afpacket") || ifDrops != (be.name == "pcap") {
		t.Errorf("%s publishes kernel_freezes %v, interface_drops %v", be.name, freezes, ifDrops)
	}
	logs := r.logs.String()
	if !strings.Contains(logs, "the kernel dropped packets") || !strings.Contains(logs, fmt.Sprintf("kernel_drops=%d", c["kernel_drops"])) {
		t.Errorf("drops not logged:\n%s", logs)
	}
}

// TestLiveInterfaceDeleted deletes the captured interface mid-capture:
// the stage logs it, stays up, and captures again once an interface of
// that name is back.
func TestLiveInterfaceDeleted(t *testing.T) { forEachBackend(t, testLiveInterfaceDeleted) }

func testLiveInterfaceDeleted(t *testing.T, be liveBackend) {
	p := newNetPair(t, false)
	p.echoUDP(7007)
	out := filepath.Join(t.TempDir(), "flows.jsonl")
	live := startPipeline(t, flowPipeline(out, 0, be.fields("interface: "+p.vc, "netns: "+p.cli)...))
	live.waitOpen(t)
	p.udpExchange(p.b4, 7007, 5, 100)
	if err := eventually(func() bool { return live.counter("packets_read") >= 10 }); err != nil {
		t.Fatal("no packets before the deletion")
	}

	sh(t, "ip", "-n", p.cli, "link", "del", p.vc)
	if err := eventually(func() bool { return live.gauge("sockets_open") == 0 }); err != nil {
		t.Fatalf("deletion not noticed:\n%s", live.logs.String())
	}
	st, _ := live.p.Status().Component("cap")
	if st.Health != pipeline.Degraded || !strings.Contains(live.logs.String(), "capture interrupted") {
		t.Errorf("health %s %q; logs:\n%s", st.Health, st.HealthMsg, live.logs.String())
	}
	time.Sleep(time.Second) // a few retries against the missing interface
	select {
	case err := <-live.done:
		t.Fatalf("pipeline ended when the interface went away: %v", err)
	default:
	}

	p.addVeth()
	live.waitOpen(t)
	before := live.counter("packets_read")
	p.udpExchange(p.b4, 7007, 5, 100)
	if err := eventually(func() bool { return live.counter("packets_read") >= before+10 }); err != nil {
		t.Fatalf("no packets after the interface came back:\n%s", live.logs.String())
	}
	if live.counter("reopens") < 1 {
		t.Errorf("reopens = %d", live.counter("reopens"))
	}
	live.stop(t)
	if !strings.Contains(live.logs.String(), "retrying") && !strings.Contains(live.logs.String(), "reopened") {
		t.Errorf("retries not logged:\n%s", live.logs.String())
	}
}

// TestLivePauseResume pauses and resumes a live capture: nothing is
// captured or dropped while paused, capture goes on after, and the
// counters continue.
func TestLivePauseResume(t *testing.T) { forEachBackend(t, testLivePauseResume) }

func testLivePauseResume(t *testing.T, be liveBackend) {
	p := newNetPair(t, false)
	p.echoUDP(7007)
	out := filepath.Join(t.TempDir(), "flows.jsonl")
	live := startPipeline(t, flowPipeline(out, 0, be.fields("interface: "+p.vc, "netns: "+p.cli, "bpf: udp port 7007")...))
	live.waitOpen(t)
	p.udpExchange(p.b4, 7007, 10, 100)
	if err := eventually(func() bool { return live.counter("packets_read") == 20 }); err != nil {
		t.Fatalf("packets_read %d, want 20", live.counter("packets_read"))
	}
	live.p.Pause()
	time.Sleep(500 * time.Millisecond) // every worker notices within its poll
	p.udpExchange(p.b4, 7007, 10, 100)
	time.Sleep(300 * time.Millisecond)
	if n, d := live.counter("packets_read"), live.counter("kernel_drops"); n != 20 || d != 0 {
		t.Fatalf("while paused: packets_read %d (want 20), kernel_drops %d (want 0)", n, d)
	}
	live.p.Resume()
	time.Sleep(200 * time.Millisecond)
	p.udpExchange(p.b4, 7007, 10, 100)
	if err := eventually(func() bool { return live.counter("packets_read") == 40 }); err != nil {
		t.Fatalf("after resume: packets_read %d, want 40", live.counter("packets_read"))
	}
	if live.gauge("sockets_open") != int64(be.workers) || live.counter("reopens") != 0 {
		t.Errorf("pause reopened or closed sockets: open %d, reopens %d", live.gauge("sockets_open"), live.counter("reopens"))
	}
	live.stop(t)
}

// TestLiveUnknownInterface: the pipeline does not start, and the message
// names the interface, the ones that exist and how to list them.
func TestLiveUnknownInterface(t *testing.T) {
	_, errs := build(t, ".", "stages:\n  cap:\n    type: capture\n    interface: nft-nosuch0\nsinks:\n  out:\n    type: frames\n    inputs: [cap]\n")
	if errs == nil {
		t.Fatal("pipeline built")
	}
	msg := errs.Error()
	for _, want := range []string{`no such interface "nft-nosuch0"`, "interfaces here: ", "lo", "nfpipe interfaces", "pipeline.yaml:3:"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
}

// TestLivePermission runs this test binary as nobody, without any
// capability, and checks the message of a live capture that cannot start.
func TestLivePermission(t *testing.T) {
	if os.Getenv("NFT_PERMISSION_CHILD") == "1" {
		_, errs := build(t, ".", "stages:\n  cap:\n    type: capture\n    interface: lo\nsinks:\n  out:\n    type: frames\n    inputs: [cap]\n")
		if errs == nil {
			t.Fatal("pipeline built without privileges")
		}
		fmt.Println("MESSAGE:", errs.Error())
		return
	}
	s := rerunAsNobody(t, "TestLivePermission", "NFT_PERMISSION_CHILD")
	for _, want := range []string{"needs CAP_NET_RAW", "setcap cap_net_raw,cap_net_admin=eip", "pipeline.yaml:3:"} {
		if !strings.Contains(s, want) {
			t.Errorf("child output lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "goroutine ") || strings.Contains(s, "panic") {
		t.Errorf("stack trace in the output:\n%s", s)
	}
}

// rerunAsNobody runs the named test of this test binary again as user
// nobody, without any capability, with env=1 set so the test plays the
// child's part, and returns the child's output. The binary is copied
// where nobody can read it.
func rerunAsNobody(t *testing.T, test, env string) string {
	t.Helper()
	needRoot(t)
	dir, err := os.MkdirTemp("", "nft-perm")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o755)
	exe := filepath.Join(dir, "capture.test")
	data, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(exe, data, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^"+test+"$", "-test.v")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	return string(out)
}
