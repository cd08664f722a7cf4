package decode

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/nfpipe/nfpipe/pipeline/event"
)

// The tests in this file take real packets from the corpus and change
// their framing or one header field, for encapsulations and faults the
// corpus has no capture of. Where gopacket reads the changed frame, the
// result is also held against it.

// frameAt returns a copy of one frame of a capture.
func frameAt(t *testing.T, file string, i int) event.Frame {
	t.Helper()
	frames := mustRead(t, file)
	f := frames[i]
	f.Data = bytes.Clone(f.Data)
	return f
}

// reframe builds a frame of link type lt from a header and a payload.
func reframe(f event.Frame, lt uint16, hdr []byte, payload []byte) event.Frame {
	data := append(bytes.Clone(hdr), payload...)
	f.LinkType = lt
	f.WireLen = uint32(len(data))
	f.Data = data
	return f
}

// splice inserts ins into data at offset at.
func splice(data []byte, at int, ins []byte) []byte {
	out := append(bytes.Clone(data[:at]), ins...)
	return append(out, data[at:]...)
}

func decodeOne(f *event.Frame) (event.PacketRec, Reason) {
	var p event.PacketRec
	r := NewDecoder(Options{}).Decode(f, &p)
	return p, r
}

// agreeWithGopacket checks the decode of a derived frame against the
// oracle when gopacket reads the frame.
func agreeWithGopacket(t *testing.T, f *event.Frame, got *event.PacketRec) {
	t.Helper()
	v := gopacketView(f)
	if testing.Verbose() {
		t.Logf("gopacket clean=%v %s", v.clean, v.why)
	}
	if v.clean && v.rec != *got {
		t.Errorf("gopacket disagrees:\n got %+v\nwant %+v", *got, v.rec)
	}
}

// Real packets the derived frames are built from, with their decode.
var (
	synV4  = pkt{ver: 4, src: "141.142.228.5", dst: "192.150.187.43", proto: 6, sport: 59856, dport: 80, flags: "......S.", seq: 4263588410}
	synV6  = pkt{ver: 6, src: "2001:470:1f11:81f:c999:d94:aa7c:2e3e", dst: "2001:470:4867:99::21", proto: 6, sport: 49185, dport: 21, flags: "......S.", seq: 646610527}
	dnsV4  = pkt{ver: 4, src: "192.168.1.100", dst: "9.9.9.9", proto: 17, sport: 12345, dport: 53}
	popV4  = pkt{ver: 4, src: "192.168.4.149", dst: "192.168.4.149", proto: 6, sport: 54775, dport: 110, flags: "......S.", seq: 3477461263}
	quicV6 = pkt{ver: 6, src: "::1", dst: "::1", proto: 17, sport: 50606, dport: 443}
	qinq   = pkt{ver: 4, src: "192.168.1.100", dst: "192.168.1.200", proto: 6, sport: 12345, dport: 80, vlan: 10, inner: 20, flags: "......S.", seq: 1000}
)

const (
	fileSynV4 = "valid/zeek_http_get.pcap"              // frame 0: Ethernet/IPv4/TCP SYN, IHL 5
	fileSynV6 = "valid/zeek_ftp_ipv6.pcap"              // frame 0: Ethernet/IPv6/TCP SYN
	fileDNSV4 = "exotic/tcpdump_LINKTYPE_RAW_ipv4.pcap" // frame 0: raw IPv4/UDP
	filePOP   = "exotic/zeek_tls_pop3-starttls.pcap"    // frame 0: NULL (LE 2)/IPv4/TCP
	fileQUIC  = "exotic/tcpdump_quic_handshake.pcap"    // frame 0: NULL (LE 30)/IPv6/UDP
	fileQinQ  = "valid/zeek_vlan-pcp-dei.pcapng"        // frame 0: 0x8100/0x8100/IPv4/TCP
)

func TestDecodeDerivedFraming(t *testing.T) {
	syn := frameAt(t, fileSynV4, 0)
	syn6 := frameAt(t, fileSynV6, 0)
	dns := frameAt(t, fileDNSV4, 0)
	pop := frameAt(t, filePOP, 0)
	quic := frameAt(t, fileQUIC, 0)
	qq := frameAt(t, fileQinQ, 0)
	ip4, ip6 := syn.Data[14:], syn6.Data[14:]

	be := func(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
	le := func(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
	retag := func(tpid uint16) event.Frame {
		f := qq
		f.Data = bytes.Clone(qq.Data)
		binary.BigEndian.PutUint16(f.Data[12:], tpid)
		return f
	}
	// 802.3 length field, then LLC/SNAP with a zero OUI and EtherType.
	snap := func(payload []byte, etype uint16) event.Frame {
		hdr := append(bytes.Clone(syn.Data[:12]), 0, 0, 0xaa, 0xaa, 0x03, 0, 0, 0)
		hdr = binary.BigEndian.AppendUint16(hdr, etype)
		binary.BigEndian.PutUint16(hdr[12:], uint16(8+len(payload)))
		return reframe(syn, linkEthernet, hdr, payload)
	}
	// An authentication header (RFC 4302) with a 4-byte ICV.
	ah := func(next byte) []byte {
		return []byte{next, 2, 0, 0, 0, 0, 0x10, 0x01, 0, 0, 0, 1, 0xde, 0xad, 0xbe, 0xef}
	}
	ah4 := func(n int) event.Frame {
		f := syn
		ihl := int(syn.Data[14]&0x0f) * 4
		var hs []byte
		for i := 0; i < n; i++ {
			next := byte(ipAH)
			if i == n-1 {
				next = ipTCP
			}
			hs = append(hs, ah(next)...)
		}
		f.Data = splice(syn.Data, 14+ihl, hs)
		f.WireLen = uint32(len(f.Data))
		f.Data[14+9] = ipAH
		binary.BigEndian.PutUint16(f.Data[14+2:], binary.BigEndian.Uint16(syn.Data[14+2:])+uint16(len(hs)))
		return f
	}
	ah6 := func() event.Frame {
		f := syn6
		f.Data = splice(syn6.Data, 14+40, ah(ipTCP))
		f.WireLen = uint32(len(f.Data))
		f.Data[14+6] = ipAH
		binary.BigEndian.PutUint16(f.Data[14+4:], binary.BigEndian.Uint16(syn6.Data[14+4:])+16)
		return f
	}
	mplsLabel := func(bottom bool) []byte {
		l := []byte{0x00, 0x01, 0x00, 0x40} // label 16, TTL 64
		if bottom {
			l[2] |= 1
		}
		return l
	}

	cases := []struct {
		name string
		f    event.Frame
		want pkt
	}{
		{"loop ipv4 (network order family)", reframe(pop, linkLoop, be(afInet), pop.Data[4:]), popV4},
		{"loop ipv6 family 24", reframe(quic, linkLoop, be(afInet6BSD), quic.Data[4:]), quicV6},
		{"null big-endian ipv4", reframe(pop, linkNull, be(afInet), pop.Data[4:]), popV4},
		{"null big-endian ipv6 family 30", reframe(quic, linkNull, be(afInet6Darwin), quic.Data[4:]), quicV6},
		{"null ipv6 family 28", reframe(quic, linkNull, le(afInet6FreeBSD), quic.Data[4:]), quicV6},
		{"null ipv6 family 10", reframe(quic, linkNull, le(afInet6Linux), quic.Data[4:]), quicV6},
		{"null ipv6 family 23", reframe(quic, linkNull, le(afInet6Windows), quic.Data[4:]), quicV6},
		{"loop ipv4 little-endian family", reframe(pop, linkLoop, le(afInet), pop.Data[4:]), popV4},
		{"raw link type 12", reframe(dns, linkRawBSD, nil, dns.Data), dnsV4},
		{"raw link type 14", reframe(dns, linkRawOpen, nil, dns.Data), dnsV4},
		{"ppp hdlc framing", reframe(dns, linkPPPHDLC, []byte{0xff, 0x03, 0x00, 0x21}, dns.Data), dnsV4},
		{"ppp compressed protocol", reframe(dns, linkPPP, []byte{0x21}, dns.Data), dnsV4},
		{"802.1ad outer tag", retag(etherQinQ), qinq},
		{"0x9100 outer tag", retag(etherQinQOld), qinq},
		{"llc snap ipv4", snap(ip4, etherIPv4), synV4},
		{"llc snap ipv6", snap(ip6, etherIPv6), synV6},
		{"mpls ipv6", reframe(syn6, linkEthernet, append(append(bytes.Clone(syn6.Data[:12]), 0x88, 0x47), mplsLabel(true)...), ip6), synV6},
		{"mpls three labels", reframe(syn, linkEthernet, append(append(append(append(bytes.Clone(syn.Data[:12]), 0x88, 0x47), mplsLabel(false)...), mplsLabel(false)...), mplsLabel(true)...), ip4), synV4},
		{"pppoe ipv6", reframe(syn6, linkEthernet, binary.BigEndian.AppendUint16(append(bytes.Clone(syn6.Data[:12]), 0x88, 0x64, 0x11, 0, 0x12, 0x34), uint16(2+len(ip6)))[:20:20], append([]byte{0x00, 0x57}, ip6...)), synV6},
		{"ipv4 authentication header", ah4(1), synV4},
		{"ipv4 two authentication headers", ah4(2), synV4},
		{"ipv6 authentication header", ah6(), synV6},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, r := decodeOne(&tc.f)
			if r != OK {
				t.Fatalf("got %v", r)
			}
			checkInvariants(t, &tc.f, &got)
			tc.want.check(t, &got)
			agreeWithGopacket(t, &tc.f, &got)
		})
	}
}

func TestDecodeDerivedFaults(t *testing.T) {
	syn := frameAt(t, fileSynV4, 0)
	syn6 := frameAt(t, fileSynV6, 0)
	dns := frameAt(t, fileDNSV4, 0)
	pop := frameAt(t, filePOP, 0)
	const ip = 14 // IP header offset in the Ethernet frames
	ihl := int(syn.Data[ip]&0x0f) * 4
	edit := func(f event.Frame, fn func(b []byte)) event.Frame {
		f.Data = bytes.Clone(f.Data)
		fn(f.Data)
		return f
	}
	tags := func(n int) event.Frame {
		var hdr []byte
		hdr = append(hdr, syn.Data[:12]...)
		for i := 0; i < n; i++ {
			hdr = append(hdr, 0x81, 0x00, 0x00, byte(i+1))
		}
		hdr = append(hdr, 0x08, 0x00)
		return reframe(syn, linkEthernet, hdr, syn.Data[ip:])
	}
	labels := func(n int, bottom bool) event.Frame {
		hdr := append(bytes.Clone(syn.Data[:12]), 0x88, 0x47)
		for i := 0; i < n; i++ {
			s := byte(0)
			if bottom && i == n-1 {
				s = 1
			}
			hdr = append(hdr, 0, 0x01, s, 0x40)
		}
		return reframe(syn, linkEthernet, hdr, syn.Data[ip:])
	}
	dstOpts := func(n int) event.Frame {
		var hs []byte
		for i := 0; i < n; i++ {
			next := byte(ipDstOpts)
			if i == n-1 {
				next = ipTCP
			}
			hs = append(hs, next, 0, 1, 4, 0, 0, 0, 0) // PadN over 6 bytes
		}
		f := syn6
		f.Data = splice(syn6.Data, ip+40, hs)
		f.WireLen = uint32(len(f.Data))
		f.Data[ip+6] = ipDstOpts
		binary.BigEndian.PutUint16(f.Data[ip+4:], binary.BigEndian.Uint16(syn6.Data[ip+4:])+uint16(len(hs)))
		return f
	}
	threeAH := func() event.Frame {
		hs := []byte{}
		for i := 0; i < 3; i++ {
			next := byte(ipAH)
			if i == 2 {
				next = ipTCP
			}
			hs = append(hs, next, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1)
		}
		f := syn
		f.Data = splice(syn.Data, ip+ihl, hs)
		f.WireLen = uint32(len(f.Data))
		f.Data[ip+9] = ipAH
		binary.BigEndian.PutUint16(f.Data[ip+2:], binary.BigEndian.Uint16(syn.Data[ip+2:])+uint16(len(hs)))
		return f
	}

	cases := []struct {
		name string
		f    event.Frame
		want Reason
	}{
		{"ipv4 ihl 4", edit(syn, func(b []byte) { b[ip] = 0x44 }), BadHeader},
		{"ipv6 version in an ipv4 frame", edit(syn, func(b []byte) { b[ip] = 0x65 }), BadHeader},
		{"ipv4 total length below ihl", edit(syn, func(b []byte) { binary.BigEndian.PutUint16(b[ip+2:], 19) }), BadLength},
		{"ipv4 total length cuts tcp header", edit(syn, func(b []byte) { binary.BigEndian.PutUint16(b[ip+2:], uint16(ihl+19)) }), BadLength},
		{"tcp data offset 4", edit(syn, func(b []byte) { b[ip+ihl+12] = 0x40 }), BadHeader},
		{"tcp data offset beyond ip length", edit(syn, func(b []byte) { b[ip+ihl+12] = 0xf0 }), BadLength},
		{"udp length 7", edit(dns, func(b []byte) { binary.BigEndian.PutUint16(b[20+4:], 7) }), BadHeader},
		{"ipv6 payload length cuts tcp header", edit(syn6, func(b []byte) { binary.BigEndian.PutUint16(b[ip+4:], 19) }), BadLength},
		{"ipv6 version in raw ipv4", edit(dns, func(b []byte) { b[0] = 0x75 }), BadHeader},
		{"8 vlan tags", tags(8), OK},
		{"9 vlan tags", tags(9), TooManyHeaders},
		{"16 mpls labels", labels(16, true), OK},
		{"17 mpls labels", labels(17, true), TooManyHeaders},
		{"mpls without bottom of stack", labels(3, false), UnsupportedEtherType}, // the IP header is read as labels
		{"12 ipv6 destination options headers", dstOpts(12), OK},
		{"13 ipv6 destination options headers", dstOpts(13), TooManyHeaders},
		{"3 ipv4 authentication headers", threeAH(), TooManyHeaders},
		{"unknown ethertype", edit(syn, func(b []byte) { b[12], b[13] = 0x88, 0xb5 }), UnsupportedEtherType},
		{"ethertype 1501", edit(syn, func(b []byte) { b[12], b[13] = 0x05, 0xdd }), BadHeader},
		{"spanning tree llc", edit(syn, func(b []byte) { b[12], b[13], b[14], b[15], b[16] = 0, 0x26, 0x42, 0x42, 0x03 }), NotIP},
		{"mpls payload not ip", reframe(syn, linkEthernet, append(bytes.Clone(syn.Data[:12]), 0x88, 0x47, 0, 0x01, 0x01, 0x40), append([]byte{0, 0, 0, 0}, syn.Data...)), UnsupportedEtherType},
		{"pppoe version 2", reframe(syn, linkEthernet, append(bytes.Clone(syn.Data[:12]), 0x88, 0x64, 0x21, 0, 0, 1, 0, 42, 0x00, 0x21), syn.Data[ip:]), BadHeader},
		{"pppoe lcp", reframe(syn, linkEthernet, append(bytes.Clone(syn.Data[:12]), 0x88, 0x64, 0x11, 0, 0, 1, 0, 42, 0xc0, 0x21), syn.Data[ip:]), NotIP},
		{"pppoe discovery", edit(syn, func(b []byte) { b[12], b[13] = 0x88, 0x63 }), NotIP},
		{"ppp even protocol", reframe(dns, linkPPP, []byte{0xff, 0x03, 0x00, 0x20}, dns.Data), BadHeader},
		{"null family 7", reframe(pop, linkNull, []byte{7, 0, 0, 0}, pop.Data[4:]), NotIP},
		{"linux netlink capture", reframe(syn, linkSLL, []byte{0, 4, 0x03, 0x38, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, syn.Data[ip:]), NotIP},
		{"sll2 address length 9", reframe(syn, linkSLL2, []byte{0x08, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0}, syn.Data[ip:]), BadHeader},
		{"link type 147", reframe(syn, 147, nil, syn.Data), UnsupportedLinkType},
		{"raw link type with nibble 5", reframe(dns, linkRaw, nil, edit(dns, func(b []byte) { b[0] = 0x55 }).Data), BadHeader},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, r := decodeOne(&tc.f)
			if r != tc.want {
				t.Fatalf("got %v, want %v", r, tc.want)
			}
			if r == OK {
				checkInvariants(t, &tc.f, &got)
			}
		})
	}

	t.Run("empty frame", func(t *testing.T) {
		for _, lt := range []uint16{linkNull, linkEthernet, linkPPP, linkRawBSD, linkRawOpen, linkPPPHDLC, linkRaw, linkLoop, linkSLL, linkIPv4, linkIPv6, linkSLL2} {
			f := event.Frame{LinkType: lt}
			if _, r := decodeOne(&f); r != Truncated {
				t.Errorf("link type %d: got %v, want truncated", lt, r)
			}
		}
	})
}

// TestDecodeLengthAnomaliesKept checks the frames whose lengths claim more
// than the frame holds, which are decoded and counted, not dropped.
func TestDecodeLengthAnomaliesKept(t *testing.T) {
	syn := frameAt(t, fileSynV4, 0)
	syn6 := frameAt(t, fileSynV6, 0)
	dns := frameAt(t, fileDNSV4, 0)
	set16 := func(f event.Frame, at int, v uint16) event.Frame {
		f.Data = bytes.Clone(f.Data)
		binary.BigEndian.PutUint16(f.Data[at:], v)
		return f
	}
	cases := []struct {
		name     string
		f        event.Frame
		want     pkt
		mismatch uint64
	}{
		// Segmentation offload: total length 0 on a long packet.
		{"ipv4 total length 0", set16(syn, 14+2, 0), synV4, 0},
		{"ipv6 payload length 0", set16(syn6, 14+4, 0), synV6, 0},
		// valid/zeek_tcp_reassembly.pcap has such frames: total length
		// 1500 in a 1506-byte Ethernet frame.
		{"ipv4 total length beyond the frame", set16(syn, 14+2, 1500), synV4, 1},
		{"ipv6 payload length beyond the frame", set16(syn6, 14+4, 1500), synV6, 1},
		{"udp length beyond the ip payload", set16(dns, 20+4, 1000), dnsV4, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := NewDecoder(Options{})
			var got event.PacketRec
			if r := d.Decode(&tc.f, &got); r != OK {
				t.Fatalf("got %v", r)
			}
			tc.want.check(t, &got)
			if n := d.Stats().LengthMismatch; n != tc.mismatch {
				t.Errorf("length mismatches %d, want %d", n, tc.mismatch)
			}
		})
	}
}
