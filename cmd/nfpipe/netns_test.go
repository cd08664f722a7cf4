package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"
)

// inNetns runs fn on a thread moved into the named network namespace.
// Sockets fn opens stay in that namespace for their whole life.
func inNetns(t *testing.T, ns string, fn func() error) {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// The thread is not unlocked: it ends with the goroutine, so it
		// never returns to the scheduler in the wrong namespace.
		target, err := unix.Open(filepath.Join("/var/run/netns", ns), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			done <- err
			return
		}
		defer unix.Close(target)
		if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
			done <- fmt.Errorf("setns %s: %w", ns, err)
			return
		}
		done <- fn()
	}()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func run(t *testing.T, args ...string) {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

var nsSeq atomic.Int32

// testID is a short name part unique to this process and call, for
// namespaces and interfaces (interface names have at most 15 bytes).
func testID() string {
	return fmt.Sprintf("%d%c", os.Getpid()%100000, 'a'+rune(nsSeq.Add(1)%26))
}

// newNamespace creates a network namespace with lo up and IPv6 off (so
// the only traffic is the test's), removed when the test ends.
func newNamespace(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs the ip command (apt-get install iproute2)")
	}
	run(t, "ip", "netns", "add", name)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	run(t, "ip", "-n", name, "link", "set", "lo", "up")
	inNetns(t, name, func() error {
		return os.WriteFile("/proc/sys/net/ipv6/conf/all/disable_ipv6", []byte("1"), 0o644)
	})
}

// udpSink opens a UDP socket in a namespace that reads and discards, so
// the test's datagrams get no ICMP errors back.
func udpSink(t *testing.T, ns, addr string) {
	t.Helper()
	var c net.PacketConn
	inNetns(t, ns, func() (err error) {
		c, err = net.ListenPacket("udp4", addr)
		return err
	})
	t.Cleanup(func() { c.Close() })
	go func() {
		buf := make([]byte, 2048)
		for {
			if _, _, err := c.ReadFrom(buf); err != nil {
				return
			}
		}
	}()
}

// udpSender sends datagrams from a namespace, one socket per client
// port, so each port is one flow.
type udpSender struct {
	t     *testing.T
	ns    string
	dst   string
	conns map[int]*net.UDPConn
	sent  int
}

func newUDPSender(t *testing.T, ns, dst string) *udpSender {
	s := &udpSender{t: t, ns: ns, dst: dst, conns: map[int]*net.UDPConn{}}
	t.Cleanup(func() {
		for _, c := range s.conns {
			c.Close()
		}
	})
	return s
}

// send sends n datagrams of 100 bytes from local port port.
func (s *udpSender) send(port, n int) {
	s.t.Helper()
	c := s.conns[port]
	if c == nil {
		inNetns(s.t, s.ns, func() error {
			raddr, err := net.ResolveUDPAddr("udp4", s.dst)
			if err != nil {
				return err
			}
			c, err = net.DialUDP("udp4", &net.UDPAddr{Port: port}, raddr)
			return err
		})
		s.conns[port] = c
	}
	payload := make([]byte, 100)
	for i := 0; i < n; i++ {
		if _, err := c.Write(payload); err != nil {
			s.t.Fatalf("send from port %d: %v", port, err)
		}
		s.sent++
	}
}

// liveFlow is a flow line of the jsonl sink, with its ports.
type liveFlow struct {
	Kind      string `json:"kind"`
	Event     string `json:"event"`
	ID        string `json:"id"`
	Proto     string `json:"proto"`
	EndReason string `json:"end_reason"`
	Client    struct {
		Port int `json:"port"`
	} `json:"client"`
	Server struct {
		Port int `json:"port"`
	} `json:"server"`
	C2S struct{ Packets, Bytes uint64 }
	S2C struct{ Packets, Bytes uint64 }
}

// readLiveFlows reads the ended flows of a jsonl file; a flow ended twice
// fails the test.
func readLiveFlows(t *testing.T, path string) []liveFlow {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []liveFlow
	seen := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var fl liveFlow
		if err := json.Unmarshal(sc.Bytes(), &fl); err != nil {
			t.Fatalf("%s: bad line %q: %v", path, sc.Text(), err)
		}
		if fl.Kind != "flow" || fl.Event != "end" {
			continue
		}
		if seen[fl.ID] {
			t.Errorf("%s: flow %s ended twice", path, fl.ID)
		}
		seen[fl.ID] = true
		out = append(out, fl)
	}
	return out
}
