package decode

import (
	"net/netip"
	"testing"

	"github.com/nfpipe/nfpipe/pipeline/event"
)

// pkt is the expected decode of one frame, written compactly.
type pkt struct {
	ver          uint8
	src, dst     string
	proto        uint8
	sport, dport uint16
	vlan, inner  uint16
	flags        string // event.FlagString form, "" for none
	seq, ack     uint32
	icmp         [2]uint8
	frag         uint8
	fragID       uint32
}

// check compares a decoded packet with the expectation.
func (w pkt) check(t *testing.T, got *event.PacketRec) {
	t.Helper()
	want := event.PacketRec{
		TS: got.TS, WireLen: got.WireLen, CapLen: got.CapLen, Iface: got.Iface,
		IPVer: w.ver, Src: netip.MustParseAddr(w.src), Dst: netip.MustParseAddr(w.dst),
		Proto: w.proto, SrcPort: w.sport, DstPort: w.dport, VLAN: w.vlan, InnerVLN: w.inner,
		Seq: w.seq, Ack: w.ack, ICMPType: w.icmp[0], ICMPCode: w.icmp[1], Frag: w.frag, FragID: w.fragID,
	}
	if w.flags != "" {
		for i, c := range w.flags {
			if c != '.' {
				want.TCPFlags |= 1 << (7 - i)
			}
		}
	}
	if *got != want {
		t.Errorf("\n got %+v\nwant %+v", *got, want)
	}
}

// decodeFile decodes every frame of a capture in order with one Decoder,
// as the stage would, so fragments see the table their file builds.
func decodeFile(t *testing.T, name string) ([]event.Frame, []event.PacketRec, []Reason) {
	t.Helper()
	frames := mustRead(t, name)
	d := NewDecoder(Options{})
	recs := make([]event.PacketRec, len(frames))
	rs := make([]Reason, len(frames))
	for i := range frames {
		rs[i] = d.Decode(&frames[i], &recs[i])
		if rs[i] == OK {
			checkInvariants(t, &frames[i], &recs[i])
		}
	}
	return frames, recs, rs
}

// The expectations below were read off the captures with gopacket's layer
// decoders (Ethernet, Dot1Q, MPLS, PPPoE, LinuxSLL/SLL2, Loopback, PPP,
// IPv4, IPv6 and its extension headers, TCP, UDP, SCTP, ICMPv4/6) and
// written down by hand; the layer stack gopacket sees is in each comment.
var corpusCases = []struct {
	name  string
	file  string
	frame int
	want  pkt
}{
	// Ethernet/IPv4/TCP: the SYN, SYN-ACK and a FIN-ACK of one connection.
	{"ethernet tcp syn", "valid/zeek_http_get.pcap", 0, pkt{ver: 4, src: "141.142.228.5", dst: "192.150.187.43", proto: 6, sport: 59856, dport: 80, flags: "......S.", seq: 4263588410}},
	{"ethernet tcp syn-ack", "valid/zeek_http_get.pcap", 1, pkt{ver: 4, src: "192.150.187.43", dst: "141.142.228.5", proto: 6, sport: 80, dport: 59856, flags: "...A..S.", seq: 2779762238, ack: 4263588411}},
	{"ethernet tcp fin", "valid/zeek_http_get.pcap", 12, pkt{ver: 4, src: "192.150.187.43", dst: "141.142.228.5", proto: 6, sport: 80, dport: 59856, flags: "...A...F", seq: 2779767246, ack: 4263588548}},
	// Ethernet/IPv6/TCP
	{"ethernet ipv6 tcp", "valid/zeek_ftp_ipv6.pcap", 0, pkt{ver: 6, src: "2001:470:1f11:81f:c999:d94:aa7c:2e3e", dst: "2001:470:4867:99::21", proto: 6, sport: 49185, dport: 21, flags: "......S.", seq: 646610527}},
	// Ethernet/Dot1Q/Dot1Q/IPv4/TCP: stacked 802.1Q tags 10 (outer) and 20.
	{"qinq", "valid/zeek_vlan-pcp-dei.pcapng", 0, pkt{ver: 4, src: "192.168.1.100", dst: "192.168.1.200", proto: 6, sport: 12345, dport: 80, vlan: 10, inner: 20, flags: "......S.", seq: 1000}},
	{"qinq syn-ack", "valid/zeek_vlan-pcp-dei.pcapng", 3, pkt{ver: 4, src: "192.168.1.200", dst: "192.168.1.100", proto: 6, sport: 80, dport: 12345, vlan: 10, inner: 20, flags: "...A..S.", seq: 2000, ack: 1001}},
	// Ethernet/Dot1Q/IPv6/TCP: single tag 81.
	{"vlan ipv6", "exotic/zeek_ldap_gap-data-missing.pcapng", 0, pkt{ver: 6, src: "2a00:6020:ad0b:8381:fd70:e2f9:f031:9dc4", dst: "2a00:6020:ad0b:8380::10", proto: 6, sport: 49980, dport: 389, vlan: 81, flags: "......S.", seq: 3763538959}},
	// Ethernet/Dot1Q/Dot1Q/PPPoE/PPP/IPv4/TCP
	{"pppoe over qinq", "valid/zeek_pppoe-over-qinq.pcap", 0, pkt{ver: 4, src: "1.1.1.1", dst: "2.2.2.2", proto: 6, sport: 20394, dport: 443, vlan: 3704, inner: 2474, flags: "......S.", seq: 3618128213}},
	// Ethernet/Dot1Q/IPv4/TCP, then Ethernet/Dot1Q/MPLS/IPv4/TCP (tag 0),
	// then Ethernet/Dot1Q/MPLS/MPLS/IPv4/TCP (two labels).
	{"vlan no mpls", "valid/zeek_mpls-in-vlan.pcap", 0, pkt{ver: 4, src: "65.65.65.65", dst: "65.65.65.65", proto: 6, sport: 19244, dport: 80, vlan: 3199, flags: "...AP...", seq: 2191944293, ack: 4144883607}},
	{"mpls one label", "valid/zeek_mpls-in-vlan.pcap", 1, pkt{ver: 4, src: "65.65.65.65", dst: "65.65.65.65", proto: 6, sport: 80, dport: 32828, flags: "...A....", seq: 408724638, ack: 2687550607}},
	{"mpls two labels", "valid/zeek_mpls-in-vlan.pcap", 2, pkt{ver: 4, src: "65.65.65.65", dst: "65.65.65.65", proto: 6, sport: 61193, dport: 80, vlan: 3399, flags: "...AP...", seq: 2629953142, ack: 1594306258}},
	// Ethernet/MPLS/IPv4/TCP
	{"mpls untagged", "valid/zeek_mixed-vlan-mpls.pcap", 0, pkt{ver: 4, src: "10.1.2.1", dst: "10.34.0.1", proto: 6, sport: 11001, dport: 23, flags: "......S.", seq: 2553417723}},
	// Ethernet/IPv4 with a 4-byte option (IHL 6) carrying RSVP.
	{"ipv4 options", "malformed/tcpdump_rsvp-inf-loop-2.pcapng", 0, pkt{ver: 4, src: "10.31.0.1", dst: "10.33.0.1", proto: 46}},
	// Ethernet/IPv4/Fragment: first fragment (UDP ports), a later one
	// (ports from the table), and the first fragment repeated.
	{"ipv4 first fragment", "valid/zeek_ipv4_fragmented-1.pcap", 0, pkt{ver: 4, src: "164.1.123.163", dst: "164.1.123.61", proto: 17, sport: 123, dport: 137, frag: event.FragFirst, fragID: 242}},
	{"ipv4 later fragment", "valid/zeek_ipv4_fragmented-1.pcap", 1, pkt{ver: 4, src: "164.1.123.163", dst: "164.1.123.61", proto: 17, sport: 123, dport: 137, frag: event.FragLater, fragID: 242}},
	{"ipv4 repeated first fragment", "valid/zeek_ipv4_fragmented-1.pcap", 2, pkt{ver: 4, src: "164.1.123.163", dst: "164.1.123.61", proto: 17, sport: 123, dport: 137, frag: event.FragFirst, fragID: 242}},
	// Ethernet/IPv6/IPv6Fragment: a later fragment of datagram 1, whose
	// first fragment is not in the capture (ports 0), then datagram 2's
	// first fragment and two later ones.
	{"ipv6 unmatched later fragment", "valid/zeek_ipv6-fragmented-dns.pcap", 3, pkt{ver: 6, src: "2607:f740:b::f93", dst: "2001:470:1f11:81f:d138:5f55:6d4:1fe2", proto: 17, frag: event.FragLater, fragID: 1}},
	{"ipv6 first fragment", "valid/zeek_ipv6-fragmented-dns.pcap", 5, pkt{ver: 6, src: "2607:f740:b::f93", dst: "2001:470:1f11:81f:d138:5f55:6d4:1fe2", proto: 17, sport: 53, dport: 51851, frag: event.FragFirst, fragID: 2}},
	{"ipv6 later fragment", "valid/zeek_ipv6-fragmented-dns.pcap", 6, pkt{ver: 6, src: "2607:f740:b::f93", dst: "2001:470:1f11:81f:d138:5f55:6d4:1fe2", proto: 17, sport: 53, dport: 51851, frag: event.FragLater, fragID: 2}},
	{"ipv6 last fragment", "valid/zeek_ipv6-fragmented-dns.pcap", 7, pkt{ver: 6, src: "2607:f740:b::f93", dst: "2001:470:1f11:81f:d138:5f55:6d4:1fe2", proto: 17, sport: 53, dport: 51851, frag: event.FragLater, fragID: 2}},
	// Ethernet/IPv6/IPv6HopByHop/IPv6Routing/UDP
	{"ipv6 hop-by-hop and routing", "valid/zeek_ipv6-hbh-routing0.pcap", 0, pkt{ver: 6, src: "2001:4f8:4:7:2e0:81ff:fe52:ffff", dst: "2001:4f8:4:7:2e0:81ff:fe52:9a6b", proto: 17, sport: 53, dport: 53}},
	// Ethernet/IPv6/IPv6Fragment(offset 0, no more fragments)/TCP: an
	// atomic fragment is a whole datagram.
	{"ipv6 atomic fragment", "valid/zeek_ipv6-http-atomic-frag.pcap", 12, pkt{ver: 6, src: "2001:db8:1::2", dst: "2001:db8:1::1", proto: 6, sport: 59694, dport: 80, flags: "......S.", seq: 1770092805}},
	// ICMP echo request, ICMPv6 neighbour advertisement and echo reply.
	{"icmp echo", "valid/zeek_icmp_5-pings.pcap", 0, pkt{ver: 4, src: "172.16.133.2", dst: "172.217.11.78", proto: 1, icmp: [2]uint8{8, 0}}},
	{"icmpv6 neighbour advertisement", "valid/zeek_ipv6-http-atomic-frag.pcap", 0, pkt{ver: 6, src: "2001:db8:1::1", dst: "2001:db8:1::2", proto: 58, icmp: [2]uint8{136, 0}}},
	{"icmpv6 echo reply", "valid/zeek_icmp_icmp6-ping.pcap", 1, pkt{ver: 6, src: "2001:4860:8006::63", dst: "2620:0:e00:400e:d1d:db37:beb:5aac", proto: 58, icmp: [2]uint8{129, 0}}},
	// Ethernet/IPv4/SCTP
	{"sctp", "exotic/tcpdump_isup.pcap", 0, pkt{ver: 4, src: "10.28.6.42", dst: "10.28.6.44", proto: 132, sport: 2905, dport: 2905}},
	// Linux SLL/IPv4/TCP
	{"sll", "exotic/tcpdump_tcp-handshake-nano.pcap", 0, pkt{ver: 4, src: "131.155.215.69", dst: "137.116.81.94", proto: 6, sport: 46656, dport: 80, flags: "......S.", seq: 797190859}},
	// Linux SLL2/IPv4/ICMPv4, SLL2/IPv6/ICMPv6, SLL2/IPv4/TCP
	{"sll2 icmp", "exotic/zeek_linux_dlt_sll2.pcap", 0, pkt{ver: 4, src: "192.0.2.1", dst: "192.0.2.1", proto: 1, icmp: [2]uint8{8, 0}}},
	{"sll2 icmpv6", "exotic/zeek_linux_dlt_sll2.pcap", 2, pkt{ver: 6, src: "fe80::8c36:6ff:fe44:acaf", dst: "fe80::8c36:6ff:fe44:acaf", proto: 58, icmp: [2]uint8{128, 0}}},
	{"sll2 tcp", "exotic/zeek_tls_openjdk-25.0.2-zeek.org.pcap", 0, pkt{ver: 4, src: "192.168.64.6", dst: "192.0.78.150", proto: 6, sport: 55058, dport: 443, flags: "......S.", seq: 974184494}},
	// LINKTYPE_RAW (101) with IPv4 and with IPv6, both UDP.
	{"raw ipv4", "exotic/tcpdump_LINKTYPE_RAW_ipv4.pcap", 0, pkt{ver: 4, src: "192.168.1.100", dst: "9.9.9.9", proto: 17, sport: 12345, dport: 53}},
	{"raw ipv6", "exotic/zeek_dns_ech.pcap", 0, pkt{ver: 6, src: "2a02:6bf:8080:165::1:12", dst: "2620:fe::fe", proto: 17, sport: 55941, dport: 53}},
	// LINKTYPE_IPV4 (228) and LINKTYPE_IPV6 (229), which gopacket does not
	// register: read with its IPv4 and IPv6 decoders directly.
	{"linktype ipv4", "exotic/zeek_tcp-syslog.pcap", 0, pkt{ver: 4, src: "192.168.1.1", dst: "192.168.1.2", proto: 6, sport: 12345, dport: 514, flags: "......S.", seq: 1000}},
	{"linktype ipv6", "exotic/tcpdump_LINKTYPE_IPV6.pcap", 0, pkt{ver: 6, src: "2001:db8::1", dst: "2620:fe::9", proto: 17, sport: 12345, dport: 53}},
	// Loopback (NULL, little-endian family 2 and 30)/IPv4/TCP, IPv6/UDP
	{"null ipv4", "exotic/zeek_tls_pop3-starttls.pcap", 0, pkt{ver: 4, src: "192.168.4.149", dst: "192.168.4.149", proto: 6, sport: 54775, dport: 110, flags: "......S.", seq: 3477461263}},
	{"null ipv6", "exotic/tcpdump_quic_handshake.pcap", 0, pkt{ver: 6, src: "::1", dst: "::1", proto: 17, sport: 50606, dport: 443}},
	// A pcapng file mixing Ethernet and NULL interfaces.
	{"pcapng null interface", "exotic/pcapngtg_le_basic_test006.pcapng", 1, pkt{ver: 4, src: "192.168.1.139", dst: "255.255.255.255", proto: 17, sport: 17500, dport: 17500}},
	// PPP/IPv6/ICMPv6 and PPP/IPv4/UDP
	{"ppp ipv6", "exotic/zeek_ppp_quic-interop-retry.pcap", 0, pkt{ver: 6, src: "::", dst: "ff02::1:ff00:3", proto: 58, icmp: [2]uint8{135, 0}}},
	{"ppp ipv4", "exotic/zeek_ppp_quic-interop-retry.pcap", 22, pkt{ver: 4, src: "193.167.100.100", dst: "193.167.0.100", proto: 17, sport: 443, dport: 42834}},
	// Ethernet/VN-Tag/Dot1Q/IPv4 (gopacket has no VN-Tag decoder; the
	// inner tag and addresses were read after stripping the VN-Tag).
	{"vn-tag", "exotic/zeek_vntag.pcap", 0, pkt{ver: 4, src: "1.1.1.1", dst: "1.1.2.1", proto: 253, vlan: 11}},
	// Tunnels are accounted by their outer header: GRE, VXLAN (UDP 4789),
	// 6in4 (protocol 41), 4in6 (protocol 4), Teredo (UDP).
	{"gre outer", "valid/zeek_tunnels_gre-sample.pcap", 0, pkt{ver: 4, src: "172.27.1.66", dst: "66.59.109.137", proto: 47}},
	{"vxlan outer", "valid/zeek_tunnels_vxlan-encapsulated-http.pcap", 0, pkt{ver: 4, src: "10.1.200.131", dst: "10.1.1.172", proto: 17, sport: 50000, dport: 4789}},
	{"6in4 outer", "valid/zeek_tunnels_6in4.pcap", 0, pkt{ver: 4, src: "1.2.3.4", dst: "5.6.7.8", proto: 41}},
	{"4in6 outer", "valid/zeek_tunnels_4in6.pcap", 0, pkt{ver: 6, src: "2002:4637:d5d3::4637:d5d3", dst: "2001:4860:0:2001::68", proto: 4}},
}

func TestDecodeCorpusPackets(t *testing.T) {
	for _, tc := range corpusCases {
		t.Run(tc.name, func(t *testing.T) {
			frames, recs, rs := decodeFile(t, tc.file)
			if tc.frame >= len(frames) {
				t.Fatalf("%s has %d frames", tc.file, len(frames))
			}
			if rs[tc.frame] != OK {
				t.Fatalf("%s #%d: %v", tc.file, tc.frame, rs[tc.frame])
			}
			tc.want.check(t, &recs[tc.frame])
		})
	}
}

// TestDecodeSkipReasons checks frames of the corpus that yield no packet.
func TestDecodeSkipReasons(t *testing.T) {
	cases := []struct {
		name  string
		file  string
		frame int
		want  Reason
	}{
		{"arp in sll2", "exotic/zeek_linux_dlt_sll2.pcap", 4, NotIP},
		{"rarp in sll2", "exotic/zeek_linux_dlt_sll2.pcap", 5, NotIP},
		{"lldp", "malformed/tcpdump_lldp-infinite-loop-1.pcap", 0, NotIP},
		{"nflog link type", "exotic/zeek_nflog-http.pcap", 0, UnsupportedLinkType},
		{"ipv4 header length 4", "malformed/tcpdump_ipv4_invalid_hdr_length.pcap", 0, BadHeader},
		{"version 5 in an ipv4 frame", "malformed/tcpdump_bad-ipv4-version-pgm-heapoverflow.pcap", 0, BadHeader},
		{"version 4 in linktype ipv6", "malformed/tcpdump_LINKTYPE_IPV6_invalid.pcap", 0, BadHeader},
		{"ipv6 ah length below 12", "malformed/zeek_ipv6_zero_len_ah.pcap", 4, BadHeader},
		{"ipv4 total length below header", "malformed/tcpdump_ipv4_invalid_total_length_2.pcap", 0, BadLength},
		{"ipv4 cut in header", "malformed/zeek_trunc_ip4-trunc.pcap", 0, Truncated},
		{"ipv6 cut in extension header", "malformed/zeek_trunc_ip6-ext-trunc.pcap", 0, Truncated},
		{"icmp cut in header", "malformed/zeek_trunc_icmp-header-trunc.pcap", 0, Truncated},
		{"tcp cut in header", "malformed/zeek_trunc_ip-discarder-truncated-tcp-oob.pcapng", 0, Truncated},
		{"sll address length 12336", "malformed/tcpdump_tftp-heapoverflow.pcap", 0, BadHeader},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			frames, err := readCapture(t, tc.file)
			if tc.frame >= len(frames) {
				t.Fatalf("%s: %d frames (%v)", tc.file, len(frames), err)
			}
			d := NewDecoder(Options{})
			var p event.PacketRec
			if r := d.Decode(&frames[tc.frame], &p); r != tc.want {
				t.Errorf("got %v, want %v", r, tc.want)
			}
		})
	}
}
