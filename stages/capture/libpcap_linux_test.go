//go:build pcap

package capture

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/pcap"
	"golang.org/x/sys/unix"

	"github.com/nfpipe/nfpipe/pipeline/event"
)

// TestLibpcapCompileMatchesTcpdump compiles filters with the linked-in
// libpcap and with tcpdump -ddd on the same interface: the programs are
// the same, instruction for instruction, out-of-band VLAN loads included.
func TestLibpcapCompileMatchesTcpdump(t *testing.T) {
	needRoot(t)
	bin := needTcpdump(t)
	for _, expr := range []string{"tcp port 80", "portrange 5000-5010", "vlan", "vlan 100 and udp", "ip6 and udp", "icmp or arp", "net 10.0.0.0/8 and not port 22"} {
		got, err := compileLibpcap("lo", 262144, expr)
		if err != nil {
			t.Fatalf("%q: %v", expr, err)
		}
		out, err := exec.Command(bin, "-i", "lo", "-s", "262144", "-ddd", "--", expr).Output()
		if err != nil {
			t.Fatalf("tcpdump -ddd %q: %v", expr, err)
		}
		want, err := parseDDD(out)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Errorf("%q: libpcap %d instructions, tcpdump %d", expr, len(got), len(want))
			continue
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("%q: instruction %d: libpcap %+v, tcpdump %+v", expr, i, got[i], want[i])
			}
		}
	}
}

// offlineCapture writes a generated pcap file of n frames.
func offlineCapture(t testing.TB, n int) string {
	path := filepath.Join(t.TempDir(), "gen.pcap")
	if err := os.WriteFile(path, genCapture(t, formatPcap, n), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// offlineReader is a libpcap reader over a capture file: the read path
// of a live handle (pcap_next_ex, the zero-copy read, the batch), fed
// from a file instead of the kernel, so it runs without privileges.
func offlineReader(t testing.TB, path string) *libpcapReader {
	h, err := pcap.OpenOffline(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return &libpcapReader{h: h, linkType: linkTypeOfDLT(int(h.LinkType()))}
}

// TestLibpcapNoAllocationsOffline reads 20,000 frames of a file through
// the libpcap reader into a batch: not one allocation.
func TestLibpcapNoAllocationsOffline(t *testing.T) {
	const n = 20000
	r := offlineReader(t, offlineCapture(t, 2*n+10)) // AllocsPerRun reads once to warm up
	b, fi := event.NewBatch(event.Raw), &frameInfo{}
	allocs := testing.AllocsPerRun(1, func() { readFrames(t, r, b, fi, n) })
	t.Logf("%v allocations for %d frames", allocs, n)
	if allocs > 0 {
		t.Errorf("%v allocations reading %d frames", allocs, n)
	}
}

// TestLibpcapNoAllocationsLive captures a burst of datagrams on a veth
// with the libpcap reader and reads 1,000 of them into a batch: not one
// allocation.
func TestLibpcapNoAllocationsLive(t *testing.T) {
	const n = 1000
	p := newNetPair(t, false)
	p.listenUDP(":9000") // a socket, so no ICMP port unreachable comes back
	cfg := Config{BPF: "udp port 9000", Snaplen: 262144, Promiscuous: true, RingSize: 32 << 20, BlockTimeout: 10 * time.Millisecond}
	var r liveReader
	err := inNetns(p.cli, func() error {
		ifi, err := net.InterfaceByName(p.vc)
		if err != nil {
			return err
		}
		r, err = openLibpcap(ifi, &cfg)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer r.close()
	p.udpBurst(9000, 2*n+100, 200)
	var seen uint64
	if err := eventually(func() bool { st, _ := r.stats(); seen += st.packets; return seen >= 2*n+100 }); err != nil {
		t.Fatalf("the kernel took %d of %d datagrams", seen, 2*n+100)
	}
	b, fi := event.NewBatch(event.Raw), &frameInfo{}
	allocs := testing.AllocsPerRun(1, func() { readFrames(t, r, b, fi, n) })
	t.Logf("%v allocations for %d frames", allocs, n)
	if allocs > 0 {
		t.Errorf("%v allocations reading %d frames", allocs, n)
	}
	if f := b.Frames[len(b.Frames)-1]; f.LinkType != linkTypeEthernet || f.WireLen != 242 || len(f.Data) != 242 || time.Since(f.TS.Std()) > time.Minute {
		t.Errorf("last frame: link type %d, wire %d, captured %d, at %v", f.LinkType, f.WireLen, len(f.Data), f.TS.Std())
	}
}

// TestLibpcapRawIP captures on a tun device, which has no link-layer
// header: libpcap's DLT_RAW reaches the frames as LINKTYPE_RAW, as the
// AF_PACKET ring gives it.
func TestLibpcapRawIP(t *testing.T) {
	p := newNetPair(t, false)
	const dev = "nftun0"
	var tun *os.File
	err := inNetns(p.cli, func() error {
		var err error
		tun, err = openTun(dev)
		if err != nil {
			return err
		}
		for _, args := range [][]string{{"addr", "add", "10.93.0.1/24", "dev", dev}, {"link", "set", dev, "up"}} {
			if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
				return errors.New(string(out))
			}
		}
		return nil
	})
	if err != nil {
		t.Skipf("no tun device: %v", err)
	}
	defer tun.Close()
	var r liveReader
	cfg := Config{Snaplen: 262144, RingSize: 2 << 20, BlockTimeout: 10 * time.Millisecond}
	err = inNetns(p.cli, func() error {
		ifi, err := net.InterfaceByName(dev)
		if err != nil {
			return err
		}
		r, err = openLibpcap(ifi, &cfg)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer r.close()
	if r.link() != linkTypeRaw {
		t.Fatalf("link type %d, want %d (raw IP)", r.link(), linkTypeRaw)
	}
	// An IPv4 UDP datagram "received" on the tun device.
	pkt := []byte{0x45, 0, 0, 32, 0, 1, 0, 0, 64, 17, 0, 0, 10, 93, 0, 2, 10, 93, 0, 1, 0x1f, 0x40, 0x1f, 0x41, 0, 12, 0, 0, 't', 'u', 'n', '!'}
	sum := ^ipChecksum(pkt[:20])
	pkt[10], pkt[11] = byte(sum>>8), byte(sum)
	if _, err := tun.Write(pkt); err != nil {
		t.Fatal(err)
	}
	var fi frameInfo
	deadline := time.Now().Add(10 * time.Second)
	for {
		data, err := r.next(&fi)
		if err == nil {
			if string(data) != string(pkt) || fi.wireLen != uint32(len(pkt)) {
				t.Errorf("captured % x (wire %d), sent % x", data, fi.wireLen, pkt)
			}
			return
		}
		if !errors.Is(err, errWouldBlock) || time.Now().After(deadline) {
			t.Fatalf("no frame: %v", err)
		}
		runtime.Gosched()
	}
}

// ipChecksum is the ones' complement sum of an IPv4 header, not yet
// complemented.
func ipChecksum(h []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(h); i += 2 {
		s += uint32(h[i])<<8 | uint32(h[i+1])
	}
	for s > 0xffff {
		s = s&0xffff + s>>16
	}
	return uint16(s)
}

// BenchmarkLibpcapReadFile reads frames of a generated file through the
// libpcap reader into batches; one op is one frame. It measures
// libpcap's read path from a file (fread included) and the copy into the
// batch, without privileges; BenchmarkLiveRead measures it on a live
// handle.
func BenchmarkLibpcapReadFile(b *testing.B) {
	const frames = 100000
	path := offlineCapture(b, frames)
	var r *libpcapReader
	batch, fi := event.NewBatch(event.Raw), &frameInfo{}
	b.ReportAllocs()
	b.ResetTimer()
	left := 0
	for i := 0; i < b.N; i++ {
		if left == 0 {
			if r != nil {
				r.close()
			}
			r = offlineReader(b, path)
			left = frames
		}
		readFrames(b, r, batch, fi, 1)
		left--
	}
}

// openTun creates a tun device (raw IP, no packet information header) in
// the calling thread's network namespace; writing to the file makes the
// device receive the packet.
func openTun(name string) (*os.File, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return os.NewFile(uintptr(fd), "/dev/net/tun"), nil
}

// TestLibpcapPermission opens lo with libpcap in a copy of this test
// binary running as nobody: the error is recognised as missing
// privileges, which is what makes the stage say how to grant them, or,
// after a user switch, why it cannot reopen.
func TestLibpcapPermission(t *testing.T) {
	if os.Getenv("NFT_LIBPCAP_PERMISSION_CHILD") == "1" {
		ifi, err := net.InterfaceByName("lo")
		if err != nil {
			t.Fatal(err)
		}
		_, err = openLibpcap(ifi, &Config{Snaplen: 262144, RingSize: 1 << 20, BlockTimeout: 10 * time.Millisecond})
		fmt.Printf("PERMISSION: %v\nERROR: %v\n", isPermission(err), err)
		return
	}
	out := rerunAsNobody(t, "TestLibpcapPermission", "NFT_LIBPCAP_PERMISSION_CHILD")
	if !strings.Contains(out, "PERMISSION: true") {
		t.Errorf("libpcap's refusal is not seen as missing privileges:\n%s", out)
	}
	t.Logf("%s", out)
}
