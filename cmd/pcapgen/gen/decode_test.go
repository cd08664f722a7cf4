package gen

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// decoder decodes L2–L4 (and DNS) with gopacket; other application
// payloads are opaque, as they are to nfpipe.
type decoder struct {
	eth     layers.Ethernet
	dot1q   layers.Dot1Q
	ip4     layers.IPv4
	ip6     layers.IPv6
	tcp     layers.TCP
	udp     layers.UDP
	icmp4   layers.ICMPv4
	icmp6   layers.ICMPv6
	echo6   layers.ICMPv6Echo
	dns     layers.DNS
	payload gopacket.Payload
	parser  *gopacket.DecodingLayerParser
	layers  []gopacket.LayerType
}

func newDecoder() *decoder {
	d := &decoder{}
	d.parser = gopacket.NewDecodingLayerParser(layers.LayerTypeEthernet,
		&d.eth, &d.dot1q, &d.ip4, &d.ip6, &d.tcp, &d.udp, &d.icmp4, &d.icmp6, &d.echo6, &d.dns, &d.payload)
	d.parser.IgnoreUnsupported = true // TLS, VXLAN...: opaque payload
	return d
}

func (d *decoder) has(lt gopacket.LayerType) bool { return slices.Contains(d.layers, lt) }

// decode checks one frame and returns its protocol name, flow key,
// source endpoint and whether it is a bare SYN.
func (d *decoder) decode(t *testing.T, n uint64, frame []byte) (string, flowKey, netip.AddrPort, bool) {
	t.Helper()
	if err := d.parser.DecodeLayers(frame, &d.layers); err != nil {
		t.Fatalf("frame %d: %v (layers %v)", n, err, d.layers)
	}
	var vid uint16
	if d.has(layers.LayerTypeDot1Q) {
		vid = d.dot1q.VLANIdentifier
	}
	var src, dst netip.Addr
	var proto uint8
	var net gopacket.NetworkLayer
	switch {
	case d.has(layers.LayerTypeIPv4):
		net = &d.ip4
		src, _ = netip.AddrFromSlice(d.ip4.SrcIP.To4())
		dst, _ = netip.AddrFromSlice(d.ip4.DstIP.To4())
		proto = uint8(d.ip4.Protocol)
		if int(d.ip4.Length) != len(d.ip4.Contents)+len(d.ip4.Payload) {
			t.Fatalf("frame %d: IPv4 length %d, got %d bytes", n, d.ip4.Length, len(d.ip4.Contents)+len(d.ip4.Payload))
		}
		check(t, n, "IPv4", d.ip4.VerifyChecksum)
	case d.has(layers.LayerTypeIPv6):
		net = &d.ip6
		src, _ = netip.AddrFromSlice(d.ip6.SrcIP)
		dst, _ = netip.AddrFromSlice(d.ip6.DstIP)
		proto = uint8(d.ip6.NextHeader)
		if int(d.ip6.Length) != len(d.ip6.Payload) {
			t.Fatalf("frame %d: IPv6 payload length %d, got %d bytes", n, d.ip6.Length, len(d.ip6.Payload))
		}
	default:
		t.Fatalf("frame %d: no IP layer (layers %v)", n, d.layers)
	}
	// The IP datagram fills the frame, or the frame is a minimum-size one
	// with zero padding after it.
	l2 := 14
	if d.has(layers.LayerTypeDot1Q) {
		l2 = 18
	}
	ipLen := len(d.ip4.Contents) + len(d.ip4.Payload)
	if d.has(layers.LayerTypeIPv6) {
		ipLen = 40 + int(d.ip6.Length)
	}
	if end := l2 + ipLen; end != len(frame) {
		if len(frame) != 64 || end > len(frame) || !allZero(frame[end:]) {
			t.Fatalf("frame %d: %d bytes, IP datagram ends at %d", n, len(frame), end)
		}
	}
	var sp, dp uint16
	var name string
	syn := false
	switch {
	case d.has(layers.LayerTypeTCP):
		name, sp, dp = "tcp", uint16(d.tcp.SrcPort), uint16(d.tcp.DstPort)
		syn = d.tcp.SYN && !d.tcp.ACK
		must(t, d.tcp.SetNetworkLayerForChecksum(net))
		check(t, n, "TCP", d.tcp.VerifyChecksum)
		// Only SYNs carry an option, the MSS.
		wantOpts := 0
		if d.tcp.SYN {
			wantOpts = 1
		}
		if len(d.tcp.Options) != wantOpts || wantOpts == 1 && d.tcp.Options[0].OptionType != layers.TCPOptionKindMSS {
			t.Fatalf("frame %d: TCP options %v (SYN %v)", n, d.tcp.Options, d.tcp.SYN)
		}
	case d.has(layers.LayerTypeUDP):
		name, sp, dp = "udp", uint16(d.udp.SrcPort), uint16(d.udp.DstPort)
		if int(d.udp.Length) != len(d.udp.Contents)+len(d.udp.Payload) {
			t.Fatalf("frame %d: UDP length %d", n, d.udp.Length)
		}
		must(t, d.udp.SetNetworkLayerForChecksum(net))
		check(t, n, "UDP", d.udp.VerifyChecksum)
		if sp == 53 || dp == 53 {
			if !d.has(layers.LayerTypeDNS) || len(d.dns.Questions) != 1 || int(d.dns.ANCount) != len(d.dns.Answers) {
				t.Fatalf("frame %d: bad DNS message (layers %v)", n, d.layers)
			}
			if d.dns.QR != (sp == 53) {
				t.Fatalf("frame %d: DNS response flag %v from port %d", n, d.dns.QR, sp)
			}
		}
	case d.has(layers.LayerTypeICMPv4):
		name = "icmp"
		check(t, n, "ICMPv4", d.icmp4.VerifyChecksum)
	case d.has(layers.LayerTypeICMPv6):
		name = "icmpv6"
		if !d.has(layers.LayerTypeICMPv6Echo) {
			t.Fatalf("frame %d: ICMPv6 but not echo", n)
		}
		must(t, d.icmp6.SetNetworkLayerForChecksum(net))
		check(t, n, "ICMPv6", d.icmp6.VerifyChecksum)
	default:
		t.Fatalf("frame %d: no transport layer (layers %v)", n, d.layers)
	}
	from := netip.AddrPortFrom(src, sp)
	return name, keyOf(proto, vid, from, netip.AddrPortFrom(dst, dp)), from, syn
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func check(t *testing.T, n uint64, what string, verify func() (error, gopacket.ChecksumVerificationResult)) {
	t.Helper()
	err, res := verify()
	if err != nil || !res.Valid {
		t.Fatalf("frame %d: %s checksum %#x, want %#x (%v)", n, what, res.Actual, res.Correct, err)
	}
}

// tcpTrack follows one TCP connection's sequence numbers.
type tcpTrack struct {
	client  netip.AddrPort
	next    [2]uint32 // next sequence number expected from client, server
	started [2]bool
}

// follow checks that a segment continues its sender's sequence space and
// acknowledges exactly what the other side sent.
func (tr *tcpTrack) follow(t *testing.T, n uint64, from netip.AddrPort, tcp *layers.TCP) {
	t.Helper()
	dir := 0
	if from != tr.client {
		dir = 1
	}
	if tr.started[dir] && tcp.Seq != tr.next[dir] {
		t.Fatalf("frame %d: seq %d, want %d", n, tcp.Seq, tr.next[dir])
	}
	if tcp.ACK && tr.started[1-dir] && tcp.Ack != tr.next[1-dir] {
		t.Fatalf("frame %d: ack %d, want %d", n, tcp.Ack, tr.next[1-dir])
	}
	if tcp.RST && !tr.started[dir] {
		return // a refusal: no sequence space of its own
	}
	next := tcp.Seq + uint32(len(tcp.Payload))
	if tcp.SYN {
		next++
	}
	if tcp.FIN {
		next++
	}
	tr.next[dir], tr.started[dir] = next, true
}
