//go:build linux

package capture

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"golang.org/x/sys/unix"

	"github.com/nfpipe/nfpipe/pipeline/pipetest"
)

// netPair is two network namespaces joined by a veth pair: the client
// side (cli, interface vc) and the server side (srv, interface vs), with
// IPv4 and IPv6 addresses and, optionally, a VLAN on top.
type netPair struct {
	t        testing.TB
	cli, srv string // namespace names
	vc, vs   string // veth ends
	a4, b4   string // client and server IPv4
	a6, b6   string // client and server IPv6
	va4, vb4 string // client and server IPv4 on VLAN 100 (if made)
}

var pairSeq atomic.Int32

// needRoot skips a test that needs root and iproute2.
func needRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (network namespaces and packet sockets); CI runs these as root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs the ip command (apt-get install iproute2)")
	}
}

// needTcpdump skips a test that compares with tcpdump or compiles filters.
func needTcpdump(t testing.TB) string {
	t.Helper()
	p, err := findTcpdump()
	if err != nil {
		t.Skip("needs tcpdump (apt-get install tcpdump)")
	}
	return p
}

func sh(t testing.TB, args ...string) {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// newNetPair creates the namespaces and the veth pair; they are removed
// when the test ends.
func newNetPair(t testing.TB, vlan bool) *netPair {
	t.Helper()
	needRoot(t)
	n := pairSeq.Add(1)
	id := fmt.Sprintf("%d%c", os.Getpid()%1000000, 'a'+rune(n%26))
	p := &netPair{
		t:   t,
		cli: "nft-" + id + "-c", srv: "nft-" + id + "-s",
		vc: "nft" + id + "c", vs: "nft" + id + "s",
		a4: "10.91.0.1", b4: "10.91.0.2",
		a6: "fd00:91::1", b6: "fd00:91::2",
	}
	t.Cleanup(func() {
		exec.Command("ip", "netns", "del", p.cli).Run()
		exec.Command("ip", "netns", "del", p.srv).Run()
	})
	sh(t, "ip", "netns", "add", p.cli)
	sh(t, "ip", "netns", "add", p.srv)
	p.addVeth()
	if vlan {
		// Tagged frames are injected (see injectVLAN): kernels built
		// without 802.1Q support cannot make a VLAN interface.
		p.va4, p.vb4 = "10.92.0.1", "10.92.0.2"
	}
	p.warm()
	return p
}

// addVeth (re)creates the veth pair with its addresses.
func (p *netPair) addVeth() {
	t := p.t
	sh(t, "ip", "link", "add", p.vc, "netns", p.cli, "mtu", "1500", "type", "veth", "peer", "name", p.vs, "netns", p.srv, "mtu", "1500")
	for _, side := range []struct{ ns, dev, a4, a6 string }{{p.cli, p.vc, p.a4, p.a6}, {p.srv, p.vs, p.b4, p.b6}} {
		// No router solicitations or DAD: nothing here answers them, and
		// they would only add noise to the captures.
		for _, k := range []string{"all", "default", side.dev} {
			p.sysctl(side.ns, "net/ipv6/conf/"+k+"/router_solicitations", "0")
			p.sysctl(side.ns, "net/ipv6/conf/"+k+"/accept_dad", "0")
		}
		if _, err := exec.LookPath("ethtool"); err == nil {
			// Real on-the-wire frames (no GSO super-packets), when ethtool
			// is there to ask for it.
			exec.Command("ip", "netns", "exec", side.ns, "ethtool", "-K", side.dev, "tso", "off", "gso", "off", "gro", "off").Run()
		}
		sh(t, "ip", "-n", side.ns, "link", "set", "lo", "up")
		sh(t, "ip", "-n", side.ns, "addr", "add", side.a4+"/24", "dev", side.dev)
		sh(t, "ip", "-n", side.ns, "-6", "addr", "add", side.a6+"/64", "dev", side.dev, "nodad")
		sh(t, "ip", "-n", side.ns, "link", "set", side.dev, "up")
	}
}

// sysctl writes a value under /proc/sys inside a namespace.
func (p *netPair) sysctl(ns, key, val string) {
	err := inNetns(ns, func() error {
		return os.WriteFile(filepath.Join("/proc/sys", key), []byte(val), 0o644)
	})
	if err != nil && !os.IsNotExist(err) {
		p.t.Logf("sysctl %s=%s in %s: %v", key, val, ns, err)
	}
}

// warm resolves neighbours in both directions so captures start with
// the traffic itself, not address resolution.
func (p *netPair) warm() {
	for _, dst := range []string{p.b4, p.b6} {
		if dst == "" {
			continue
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			c, err := p.dialUDP(dst, 9)
			if err == nil {
				c.Write([]byte("warm"))
				c.Close()
			}
			if p.neighbourKnown(dst) || time.Now().After(deadline) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

func (p *netPair) neighbourKnown(ip string) bool {
	out, _ := exec.Command("ip", "-n", p.cli, "neigh", "show", ip).Output()
	s := string(out)
	return strings.Contains(s, "lladdr") && !strings.Contains(s, "INCOMPLETE")
}

// listen opens a listener in the server namespace.
func (p *netPair) listen(network, addr string) net.Listener {
	var l net.Listener
	err := inNetns(p.srv, func() (err error) {
		l, err = net.Listen(network, addr)
		return err
	})
	if err != nil {
		p.t.Fatal(err)
	}
	p.t.Cleanup(func() { l.Close() })
	return l
}

// listenUDP opens a UDP socket in the server namespace.
func (p *netPair) listenUDP(addr string) net.PacketConn {
	var c net.PacketConn
	err := inNetns(p.srv, func() (err error) {
		c, err = net.ListenPacket("udp", addr)
		return err
	})
	if err != nil {
		p.t.Fatal(err)
	}
	p.t.Cleanup(func() { c.Close() })
	return c
}

// dialUDP opens a connected UDP socket in the client namespace.
func (p *netPair) dialUDP(ip string, port int) (net.Conn, error) {
	var c net.Conn
	err := inNetns(p.cli, func() (err error) {
		c, err = net.Dial("udp", net.JoinHostPort(ip, fmt.Sprint(port)))
		return err
	})
	return c, err
}

// httpClient dials from the client namespace; one connection per request.
func (p *netPair) httpClient() *http.Client {
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			DisableKeepAlives: true,
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				var c net.Conn
				err := inNetns(p.cli, func() (err error) {
					var d net.Dialer
					c, err = d.DialContext(ctx, network, addr)
					return err
				})
				return c, err
			},
		},
	}
}

// serveHTTP runs a real HTTP server in the server namespace on port 80
// (both address families); /N answers N bytes.
func (p *netPair) serveHTTP() {
	l := p.listen("tcp", ":80")
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var n int
		fmt.Sscanf(strings.TrimPrefix(r.URL.Path, "/"), "%d", &n)
		w.Write(bytes.Repeat([]byte("x"), n))
	})}
	go srv.Serve(l)
	p.t.Cleanup(func() { srv.Close() })
}

// get fetches http://host/size from the client namespace and checks the
// answer's length.
func (p *netPair) get(host string, size int) {
	p.t.Helper()
	resp, err := p.httpClient().Get(fmt.Sprintf("http://%s/%d", net.JoinHostPort(host, "80"), size))
	if err != nil {
		p.t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || len(body) != size {
		p.t.Fatalf("GET %s/%d: %d bytes, %v", host, size, len(body), err)
	}
}

// echoUDP answers every datagram on port with the same bytes.
func (p *netPair) echoUDP(port int) {
	c := p.listenUDP(fmt.Sprintf(":%d", port))
	go func() {
		buf := make([]byte, 65536)
		for {
			n, from, err := c.ReadFrom(buf)
			if err != nil {
				return
			}
			c.WriteTo(buf[:n], from)
		}
	}()
}

// udpExchange sends count datagrams of size bytes to ip:port and waits
// for each echo.
func (p *netPair) udpExchange(ip string, port, count, size int) {
	p.t.Helper()
	c, err := p.dialUDP(ip, port)
	if err != nil {
		p.t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 65536)
	msg := bytes.Repeat([]byte("u"), size)
	for i := 0; i < count; i++ {
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write(msg); err != nil {
			p.t.Fatal(err)
		}
		if _, err := c.Read(buf); err != nil {
			p.t.Fatalf("udp echo from %s:%d: %v", ip, port, err)
		}
	}
}

// ping sends count ICMP echo requests from the client namespace with
// the ping command of the system, when there is one.
func (p *netPair) ping(ip string, count int) bool {
	p.t.Helper()
	if _, err := exec.LookPath("ping"); err != nil {
		return false
	}
	args := []string{"netns", "exec", p.cli, "ping", "-q", "-n", "-c", fmt.Sprint(count), "-i", "0.05", "-W", "2"}
	if strings.Contains(ip, ":") {
		args = append(args, "-6")
	}
	out, err := exec.Command("ip", append(args, ip)...).CombinedOutput()
	if err != nil {
		p.t.Fatalf("ping %s: %v\n%s", ip, err, out)
	}
	return true
}

// tcpdumpRun is tcpdump recording in a namespace.
type tcpdumpRun struct {
	cmd    *exec.Cmd
	file   string
	stderr *pipetest.SyncBuffer
}

// startTcpdump records iface in ns to a pcap file, with an optional
// filter, and returns once tcpdump is listening.
func startTcpdump(t *testing.T, ns, iface, filter string) *tcpdumpRun {
	t.Helper()
	bin := needTcpdump(t)
	file := filepath.Join(t.TempDir(), "tcpdump.pcap")
	args := []string{"netns", "exec", ns, bin, "-i", iface, "-n", "-U", "--immediate-mode", "-s", "262144", "-w", file}
	if filter != "" {
		args = append(args, filter)
	}
	td := &tcpdumpRun{cmd: exec.Command("ip", args...), file: file, stderr: &pipetest.SyncBuffer{}}
	pr, pw := io.Pipe()
	td.cmd.Stderr = io.MultiWriter(td.stderr, pw)
	if err := td.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { td.cmd.Process.Kill(); td.cmd.Wait() })
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "listening on") {
				close(ready)
				io.Copy(io.Discard, pr)
				return
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(15 * time.Second):
		t.Fatalf("tcpdump did not start: %s", td.stderr.String())
	}
	return td
}

// stop ends tcpdump cleanly (it writes out what it has) and returns its
// file.
func (td *tcpdumpRun) stop(t *testing.T) string {
	t.Helper()
	td.cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- td.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		td.cmd.Process.Kill()
		t.Fatalf("tcpdump did not stop: %s", td.stderr.String())
	}
	return td.file
}

// findPing finds the system's ping command.
func findPing() (string, error) { return exec.LookPath("ping") }

// injectVLAN sends count UDP datagrams and count TCP SYNs from the server
// side to the client side, tagged with VLAN 100, through a packet socket
// on the server's veth end. The client's kernel takes the tag out of the
// frame, as a NIC with VLAN offload does, so a capture sees it out of
// band, the case libpcap's vlan keyword has to handle.
func (p *netPair) injectVLAN(udpPort, tcpPort, count int) {
	p.t.Helper()
	var cliMAC, srvMAC net.HardwareAddr
	inNetns(p.cli, func() error {
		ifi, err := net.InterfaceByName(p.vc)
		if err == nil {
			cliMAC = ifi.HardwareAddr
		}
		return err
	})
	err := inNetns(p.srv, func() error {
		ifi, err := net.InterfaceByName(p.vs)
		if err != nil {
			return err
		}
		srvMAC = ifi.HardwareAddr
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		to := &unix.SockaddrLinklayer{Ifindex: ifi.Index, Halen: 6}
		copy(to.Addr[:], cliMAC)
		for i := 0; i < count; i++ {
			for _, tcp := range []bool{false, true} {
				frame := vlanFrame(srvMAC, cliMAC, net.ParseIP(p.vb4), net.ParseIP(p.va4), tcp, udpPort, tcpPort, 40000+i)
				if err := unix.Sendto(fd, frame, 0, to); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		p.t.Fatalf("inject VLAN frames: %v", err)
	}
}

// vlanFrame builds an Ethernet frame tagged with VLAN 100 carrying a UDP
// datagram (to udpPort) or a TCP SYN (to tcpPort) from srcPort.
func vlanFrame(src, dst net.HardwareAddr, sip, dip net.IP, tcp bool, udpPort, tcpPort, srcPort int) []byte {
	eth := &layers.Ethernet{SrcMAC: src, DstMAC: dst, EthernetType: layers.EthernetTypeDot1Q}
	tag := &layers.Dot1Q{VLANIdentifier: 100, Type: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 64, SrcIP: sip.To4(), DstIP: dip.To4(), Protocol: layers.IPProtocolUDP}
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	buf := gopacket.NewSerializeBuffer()
	if tcp {
		ip.Protocol = layers.IPProtocolTCP
		t := &layers.TCP{SrcPort: layers.TCPPort(srcPort), DstPort: layers.TCPPort(tcpPort), SYN: true, Seq: 1, Window: 1000}
		t.SetNetworkLayerForChecksum(ip)
		gopacket.SerializeLayers(buf, opts, eth, tag, ip, t)
	} else {
		u := &layers.UDP{SrcPort: layers.UDPPort(srcPort), DstPort: layers.UDPPort(udpPort)}
		u.SetNetworkLayerForChecksum(ip)
		gopacket.SerializeLayers(buf, opts, eth, tag, ip, u, gopacket.Payload([]byte("tagged")))
	}
	return buf.Bytes()
}
