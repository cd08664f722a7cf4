package decode

import (
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/nfpipe/nfpipe/pipeline/event"
)

// allTunnels opens every kind.
const allTunnels = TunnelGRE | TunnelVXLAN | TunnelGeneve | TunnelIPinIP

// tunnelFiles are the captures of tunnelled traffic: from the corpus
// (see INDEX.csv) GRE carrying IPv4 (TCP, UDP, ICMP), VXLAN carrying
// Ethernet/IPv4/TCP, IPv6 in IPv4, IPv4 in IPv6, ERSPAN type II, and
// PPTP (enhanced GRE carrying PPP); and the recording of real traffic
// through GRE with a key, Ethernet over GRE, GRE over IPv6, VXLAN,
// Geneve, IPIP, SIT and IPv4 over IPv6 (testdata/real/README.md).
var tunnelFiles = []string{
	"../real/tunnels.pcap",
	"valid/zeek_tunnels_gre-sample.pcap",
	"valid/zeek_tunnels_vxlan-encapsulated-http.pcap",
	"valid/zeek_tunnels_6in4.pcap",
	"valid/zeek_tunnels_4in6.pcap",
	"valid/zeek_erspanII.pcap",
	"exotic/tcpdump_pptp.pcap",
	"malformed/zeek_tunnels_geneve-vxlan-dns-truncated.pcap",
	"malformed/zeek_tunnels_vxlan-inner-tcp-bad-checksum.pcap",
}

// innermostView is gopacket's reading of the innermost IP packet of a
// frame: the frame is decoded by gopacket's own tunnel decoders (GRE,
// ERSPAN, VXLAN, Geneve, IP in IP), and the last IP layer found is read
// again on its own by gopacketView. depth is the number of IP layers
// before it.
func innermostView(f *event.Frame) (v view, depth int) {
	var dec gopacket.Decoder = layers.LinkType(f.LinkType)
	pk := gopacket.NewPacket(f.Data, dec, gopacketOpts)
	off := -1
	for _, l := range pk.Layers() {
		switch l.(type) {
		case *layers.IPv4, *layers.IPv6:
			if off >= 0 {
				depth++
			}
			off = cap(f.Data) - cap(l.LayerContents())
		}
	}
	if off < 0 {
		return view{why: "no IP layer"}, 0
	}
	inner := *f
	inner.LinkType, inner.Data = linkRaw, f.Data[off:]
	inner.WireLen = f.WireLen - uint32(off)
	v = gopacketView(&inner)
	v.rec.WireLen, v.rec.CapLen = f.WireLen, uint32(len(f.Data))
	return v, depth
}

// TestTunnelsAgainstGopacket decodes every frame of the tunnel captures
// with every kind of tunnel open, and requires the packet gopacket finds
// innermost, with its addresses, protocol, ports, TCP and ICMP fields.
func TestTunnelsAgainstGopacket(t *testing.T) {
	compared, opened := 0, 0
	for _, name := range tunnelFiles {
		frames := mustRead(t, name)
		d := NewDecoder(Options{Tunnels: allTunnels})
		for i := range frames {
			f := &frames[i]
			var got event.PacketRec
			if r := d.Decode(f, &got); r != OK {
				t.Errorf("%s #%d: %v", name, i, r)
				continue
			}
			checkInvariants(t, f, &got)
			v, depth := innermostView(f)
			if !v.clean {
				t.Errorf("%s #%d: gopacket does not read the inner packet: %s", name, i, v.why)
				continue
			}
			if got != v.rec {
				t.Errorf("%s #%d (%d tunnels deep):\n got %+v\nwant %+v (gopacket)", name, i, depth, got, v.rec)
			}
			compared++
			if depth > 0 {
				opened++
			}
		}
	}
	t.Logf("%d frames agree with gopacket, %d of them tunnelled", compared, opened)
	// In the corpus captures 40 GRE, 12 VXLAN, 1 + 1 IP in IP, 4 ERSPAN,
	// 2 Geneve-in-VXLAN and 1 VXLAN frame are tunnelled; in the recording
	// all but the underlay's neighbour discovery and the tunnels' ARP.
	if opened < 290 {
		t.Errorf("only %d tunnelled frames compared", opened)
	}
}

// TestTunnelsOffByDefault: without the option every tunnel packet is
// accounted by its outer header, exactly as gopacket's outer view.
func TestTunnelsOffByDefault(t *testing.T) {
	for _, name := range tunnelFiles {
		frames := mustRead(t, name)
		d := NewDecoder(Options{})
		for i := range frames {
			var got event.PacketRec
			if r := d.Decode(&frames[i], &got); r != OK {
				t.Errorf("%s #%d: %v", name, i, r)
				continue
			}
			if v := gopacketView(&frames[i]); v.clean && got != v.rec {
				t.Errorf("%s #%d:\n got %+v\nwant %+v (gopacket, outer)", name, i, got, v.rec)
			}
		}
		var zero [numTunnels]uint64
		if s := d.Stats(); s.Tunneled != zero || s.TunnelErrors+s.TunnelNotIP != 0 {
			t.Errorf("%s: tunnel counters without tunnels: %+v", name, s)
		}
	}
}

// TestTunnelKindsOpenedSeparately opens one kind at a time: a kind not
// listed stays closed, and nested tunnels open only as far as the kinds
// listed allow.
func TestTunnelKindsOpenedSeparately(t *testing.T) {
	cases := []struct {
		file  string
		kinds Tunnels
		want  string // the packet's source address
		proto uint8
	}{
		{"valid/zeek_tunnels_gre-sample.pcap", TunnelVXLAN | TunnelGeneve | TunnelIPinIP, "172.27.1.66", ipGRE},
		{"valid/zeek_tunnels_gre-sample.pcap", TunnelGRE, "66.59.111.190", ipICMP},
		{"valid/zeek_tunnels_vxlan-encapsulated-http.pcap", TunnelGRE, "10.1.200.131", ipUDP},
		{"valid/zeek_tunnels_vxlan-encapsulated-http.pcap", TunnelVXLAN, "172.16.11.201", ipTCP},
		{"valid/zeek_tunnels_6in4.pcap", TunnelGRE | TunnelVXLAN, "1.2.3.4", ipIPv6Encap},
		{"valid/zeek_tunnels_6in4.pcap", TunnelIPinIP, "dead::beef", ipUDP},
		// VXLAN outside, Geneve inside: closing Geneve stops at the
		// Geneve packet (UDP to 6081) inside the VXLAN one.
		{"malformed/zeek_tunnels_geneve-vxlan-dns-truncated.pcap", TunnelVXLAN, "", ipUDP},
		{"malformed/zeek_tunnels_geneve-vxlan-dns-truncated.pcap", TunnelVXLAN | TunnelGeneve, "172.16.11.201", ipUDP},
	}
	for _, tc := range cases {
		frames := mustRead(t, tc.file)
		d := NewDecoder(Options{Tunnels: tc.kinds})
		var p event.PacketRec
		if r := d.Decode(&frames[0], &p); r != OK {
			t.Fatalf("%s with %b: %v", tc.file, tc.kinds, r)
		}
		if tc.want == "" {
			if p.DstPort != genevePort {
				t.Errorf("%s with %b: %v > %v port %d, want the Geneve packet", tc.file, tc.kinds, p.Src, p.Dst, p.DstPort)
			}
			continue
		}
		if p.Src.String() != tc.want || p.Proto != tc.proto {
			t.Errorf("%s with %b: %v protocol %d, want %s protocol %d", tc.file, tc.kinds, p.Src, p.Proto, tc.want, tc.proto)
		}
	}
}

// TestTunnelFallback: a tunnel packet whose inner packet is cut short or
// not IP keeps its outer header and is counted; nothing is dropped.
func TestTunnelFallback(t *testing.T) {
	cases := []struct {
		name      string
		file      string
		frame     int
		port      uint16 // the outer packet's destination port (0: protocol 47)
		errs, non uint64
	}{
		// Geneve whose header claims options past the frame's end.
		{"geneve truncated", "malformed/zeek_tunnels_geneve-truncated.pcapng", 0, genevePort, 1, 0},
		// A PPTP GRE packet carrying a PPP control protocol.
		{"pptp ppp control", "exotic/tcpdump_pptp.pcap", -1, 0, 0, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			frames := mustRead(t, tc.file)
			d := NewDecoder(Options{Tunnels: allTunnels})
			found := false
			for i := range frames {
				var p, outer event.PacketRec
				r := d.Decode(&frames[i], &p)
				NewDecoder(Options{}).Decode(&frames[i], &outer)
				if r != OK {
					t.Fatalf("#%d: %v", i, r)
				}
				isTunnel := outer.Proto == ipGRE || outer.Proto == ipUDP && outer.DstPort == tc.port && tc.port != 0
				if i != tc.frame && (tc.frame >= 0 || !isTunnel) {
					continue
				}
				found = true
				if p != outer {
					t.Errorf("#%d:\n got %+v\nwant the outer packet %+v", i, p, outer)
				}
			}
			if !found {
				t.Fatal("no tunnel packet in the file")
			}
			if s := d.Stats(); s.TunnelErrors != tc.errs || s.TunnelNotIP != tc.non {
				t.Errorf("tunnel_errors %d, tunnel_not_ip %d; want %d, %d", s.TunnelErrors, s.TunnelNotIP, tc.errs, tc.non)
			}
		})
	}
}

// TestTunnelDepthBounded nests IP in IP deeper than maxTunnelDepth: the
// decoder stops opening there and reports the packet it reached.
func TestTunnelDepthBounded(t *testing.T) {
	inner := mustRead(t, "valid/zeek_tunnels_6in4.pcap")[0] // Ethernet/IPv4/IPv6/UDP
	ip4 := inner.Data[14:34]
	payload := inner.Data[34:] // the IPv6 packet
	// Wrap the payload in six more IPv4 headers, each protocol 41 then 4.
	pkt := payload
	proto := byte(ipIPv6Encap)
	for range 6 {
		h := append([]byte(nil), ip4...)
		h[9] = proto
		total := 20 + len(pkt)
		h[2], h[3] = byte(total>>8), byte(total)
		pkt = append(h, pkt...)
		proto = ipIPv4Encap
	}
	frame := inner
	frame.Data = append(append([]byte(nil), inner.Data[:14]...), pkt...)
	frame.WireLen = uint32(len(frame.Data))
	d := NewDecoder(Options{Tunnels: TunnelIPinIP})
	var p event.PacketRec
	if r := d.Decode(&frame, &p); r != OK {
		t.Fatal(r)
	}
	// Seven IP headers in all: the outer one and four opened leaves the
	// fifth IPv4 header, whose protocol says 4 again.
	if p.IPVer != 4 || p.Proto != ipIPv4Encap {
		t.Errorf("stopped at IPv%d protocol %d; want IPv4 protocol 4, %d tunnels in", p.IPVer, p.Proto, maxTunnelDepth)
	}
	if got := d.Stats().Tunneled[3]; got != maxTunnelDepth {
		t.Errorf("%d ip-in-ip layers opened, want %d", got, maxTunnelDepth)
	}
	// Fewer layers open to the end.
	frame.Data = append(append([]byte(nil), inner.Data[:14]...), pkt[3*20:]...)
	if r := d.Decode(&frame, &p); r != OK || p.IPVer != 6 || p.Proto != ipUDP {
		t.Errorf("three IPv4 headers deep: %v, IPv%d protocol %d; want the inner IPv6 UDP", r, p.IPVer, p.Proto)
	}
}

// TestParseTunnel checks the names of the tunnels field.
func TestParseTunnel(t *testing.T) {
	for k := range numTunnels {
		got, err := ParseTunnel(tunnelNames[k])
		if err != nil || got != 1<<k || got.String() != tunnelNames[k] {
			t.Errorf("%s: %v %v", tunnelNames[k], got, err)
		}
	}
	if _, err := ParseTunnel("teredo"); err == nil || err.Error() != `unknown tunnel "teredo"; use one of gre, vxlan, geneve, ip-in-ip` {
		t.Errorf("teredo: %v", err)
	}
}

// TestTunnelDecodeAllocatesNothing decodes the tunnel captures' frames
// with every kind open.
func TestTunnelDecodeAllocatesNothing(t *testing.T) {
	var frames []event.Frame
	for _, name := range tunnelFiles {
		frames = append(frames, mustRead(t, name)...)
	}
	d := NewDecoder(Options{Tunnels: allTunnels})
	var p event.PacketRec
	run := func() {
		for i := range frames {
			d.Decode(&frames[i], &p)
		}
	}
	run()
	if n := testing.AllocsPerRun(200, run); n != 0 {
		t.Errorf("%v allocations per run of %d frames", n, len(frames))
	}
}

// insertInTunnel returns a copy of frame f (Ethernet/IPv4, no tags) with
// ins inserted at offset at, the outer IPv4 total length and, if udp, the
// outer UDP length grown to match.
func insertInTunnel(f event.Frame, at int, ins []byte, udp bool) event.Frame {
	b := splice(f.Data, at, ins)
	grow := func(off int) {
		n := int(b[off])<<8 | int(b[off+1]) + len(ins)
		b[off], b[off+1] = byte(n>>8), byte(n)
	}
	grow(14 + 2)
	if udp {
		grow(14 + 20 + 4)
	}
	f.Data, f.WireLen = b, f.WireLen+uint32(len(ins))
	return f
}

// TestTunnelHeaderVariants rewrites corpus frames into the header
// variants the corpus lacks (GRE with checksum, key and sequence number,
// Ethernet over GRE, ERSPAN type III, Geneve with options and with IP
// inside, an outer VLAN tag) and requires the inner packet of the
// original frame from each.
func TestTunnelHeaderVariants(t *testing.T) {
	gre := mustRead(t, "valid/zeek_tunnels_gre-sample.pcap")[0]             // Ethernet/IPv4/GRE(4 bytes, IPv4)/IPv4/ICMP
	vx := mustRead(t, "valid/zeek_tunnels_vxlan-encapsulated-http.pcap")[0] // Ethernet/IPv4/UDP/VXLAN/Ethernet/IPv4/TCP
	span := mustRead(t, "valid/zeek_erspanII.pcap")[0]                      // Ethernet/IPv4/GRE(8 bytes)/ERSPAN II/Ethernet/IPv4/ICMP
	const greAt = 14 + 20                                                   // GRE header in gre and span
	const vxAt = 14 + 20 + 8

	variant := func(f event.Frame, edit func(b []byte)) event.Frame {
		f.Data = append([]byte(nil), f.Data...)
		edit(f.Data)
		return f
	}
	// GRE with checksum, key and sequence number (RFC 2784, 2890).
	greCKS := variant(insertInTunnel(gre, greAt+4, make([]byte, 12), false), func(b []byte) { b[greAt] = 0xb0 })
	// Ethernet over GRE (gretap): an Ethernet header before the inner IPv4.
	eth := append(append([]byte(nil), gre.Data[:12]...), 0x08, 0x00)
	gretap := variant(insertInTunnel(gre, greAt+4, eth, false), func(b []byte) { b[greAt+2], b[greAt+3] = 0x65, 0x58 })
	// ERSPAN type III, with and without the platform specific subheader;
	// version 2, frame type 0 (Ethernet).
	span3 := func(sub bool) event.Frame {
		h := make([]byte, 12)
		h[0] = 0x20
		if sub {
			h[11] = 1
			h = append(h, make([]byte, 8)...)
		}
		f := insertInTunnel(span, greAt+8, h[:len(h)-8], false) // replaces the 8-byte type II header
		copy(f.Data[greAt+8:], h)
		f.Data = append(f.Data[:greAt+8+len(h)], span.Data[greAt+16:]...)
		f.WireLen = uint32(len(f.Data))
		f.Data[greAt+2], f.Data[greAt+3] = 0x22, 0xeb
		return f
	}
	// Geneve with 8 bytes of options carrying Ethernet, in place of VXLAN.
	geneve := variant(insertInTunnel(vx, vxAt+8, make([]byte, 8), true), func(b []byte) {
		b[14+20+2], b[14+20+3] = genevePort>>8, genevePort&0xff
		copy(b[vxAt:vxAt+8], []byte{2, 0, 0x65, 0x58, 0, 0, 200, 0})
	})
	// Geneve carrying IPv4 directly: the inner Ethernet header removed.
	genevIP := variant(geneve, func([]byte) {})
	genevIP.Data = append(append([]byte(nil), geneve.Data[:vxAt+16]...), geneve.Data[vxAt+16+14:]...)
	genevIP.WireLen -= 14
	genevIP.Data[vxAt+2], genevIP.Data[vxAt+3] = 0x08, 0x00
	for _, off := range []int{14 + 2, 14 + 20 + 4} {
		n := int(genevIP.Data[off])<<8 | int(genevIP.Data[off+1]) - 14
		genevIP.Data[off], genevIP.Data[off+1] = byte(n>>8), byte(n)
	}
	// An 802.1Q tag (VLAN 300) on the outer frame: the packet keeps it.
	tagged := vx
	tagged.Data = append(append(append([]byte(nil), vx.Data[:12]...), 0x81, 0x00, 0x01, 0x2c), vx.Data[12:]...)
	tagged.WireLen += 4

	innerOf := func(f event.Frame) event.PacketRec {
		var p event.PacketRec
		if r := NewDecoder(Options{Tunnels: allTunnels}).Decode(&f, &p); r != OK {
			t.Fatalf("original frame: %v", r)
		}
		return p
	}
	cases := []struct {
		name     string
		f        event.Frame
		original event.Frame
		vlan     uint16
	}{
		{"gre checksum key sequence", greCKS, gre, 0},
		{"ethernet over gre", gretap, gre, 0},
		{"erspan type III", span3(false), span, 0},
		{"erspan type III with subheader", span3(true), span, 0},
		{"geneve with options, ethernet", geneve, vx, 0},
		{"geneve with options, ipv4", genevIP, vx, 0},
		{"vxlan under a vlan tag", tagged, vx, 300},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want := innerOf(tc.original)
			want.WireLen, want.CapLen, want.VLAN = tc.f.WireLen, uint32(len(tc.f.Data)), tc.vlan
			d := NewDecoder(Options{Tunnels: allTunnels})
			var got event.PacketRec
			if r := d.Decode(&tc.f, &got); r != OK {
				t.Fatalf("%v", r)
			}
			if got != want {
				t.Errorf("\n got %+v\nwant %+v", got, want)
			}
			if s := d.Stats(); s.TunnelErrors+s.TunnelNotIP != 0 {
				t.Errorf("counted as not opened: %+v", s)
			}
		})
	}
}
