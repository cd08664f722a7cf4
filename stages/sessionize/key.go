package sessionize

import (
	"encoding/binary"
	"net/netip"

	"github.com/nfpipe/nfpipe/pipeline/event"
)

// flowKey identifies a bidirectional flow. Both directions of a
// conversation map to the same key: the endpoint that sorts lower
// (address, then port) is always A. Addresses are stored as 16 bytes with
// IPv4 mapped into IPv6, as two big-endian halves, so the key is a flat
// 40-byte value with no pointers (a netip.Addr carries a zone pointer and
// takes 24 bytes) that compares and hashes as five words.
type flowKey struct {
	A, B         addr16
	PortA, PortB uint16
	VLAN         uint16 // outer 802.1Q id
	Proto        uint8  // IP protocol number
	Family       uint8  // 4 or 6, so an IPv4-mapped IPv6 address stays IPv6
}

// addr16 is a 16-byte address as its big-endian halves: bytes 0-7 in hi.
type addr16 struct{ hi, lo uint64 }

// addr16Of converts an address, IPv4 to its IPv4-mapped form, as As16
// does; the zero Addr gives zero.
func addr16Of(a netip.Addr) addr16 {
	if a.Is4() {
		b := a.As4()
		return addr16{0, 0xffff<<32 | uint64(binary.BigEndian.Uint32(b[:]))}
	}
	// AsSlice rather than As16: copying As16's array result reads 16
	// bytes just written as two 8-byte halves, a store forwarding stall.
	s := a.AsSlice()
	if len(s) != 16 {
		return addr16{}
	}
	return addr16{binary.BigEndian.Uint64(s[:8]), binary.BigEndian.Uint64(s[8:])}
}

// bytes returns the address as As16 would.
func (a addr16) bytes() [16]byte {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], a.hi)
	binary.BigEndian.PutUint64(b[8:], a.lo)
	return b
}

// hasPorts reports whether the protocol carries ports in its header.
// For every other protocol the ports of the key are zero.
func hasPorts(proto uint8) bool {
	switch proto {
	case 6, 17, 33, 132, 136: // TCP, UDP, DCCP, SCTP, UDP-Lite
		return true
	}
	return false
}

// set makes k the normalised key of packet p and reports whether the
// packet was sent by endpoint B. It fills k in place: the key is on the
// path of every packet, and a returned copy costs. The order is
// netip.Addr.Compare's (IPv4 before IPv6, then by value), then the port.
func (k *flowKey) set(p *event.PacketRec) (fromB bool) {
	sp, dp := p.SrcPort, p.DstPort
	if !hasPorts(p.Proto) {
		sp, dp = 0, 0
	}
	src4, dst4 := p.Src.Is4(), p.Dst.Is4()
	k.VLAN, k.Proto, k.Family = p.VLAN, p.Proto, 6
	if src4 {
		k.Family = 4
	}
	src, dst := addr16Of(p.Src), addr16Of(p.Dst)
	var srcHigher bool
	switch {
	case src4 != dst4:
		srcHigher = dst4
	case src.hi != dst.hi:
		srcHigher = src.hi > dst.hi
	case src.lo != dst.lo:
		srcHigher = src.lo > dst.lo
	default:
		srcHigher = sp > dp
	}
	if srcHigher {
		k.A, k.PortA, k.B, k.PortB = dst, dp, src, sp
		return true
	}
	k.A, k.PortA, k.B, k.PortB = src, sp, dst, dp
	return false
}

// addr converts a stored address back to a netip.Addr.
func (k *flowKey) addr(a addr16) netip.Addr {
	ip := netip.AddrFrom16(a.bytes())
	if k.Family == 4 {
		return ip.Unmap()
	}
	return ip
}

// isServicePort reports whether a port is well known (below 1024) or a
// common registered service port, i.e. a port a server listens on rather
// than one picked at random by a client.
func isServicePort(p uint16) bool {
	if p < 1024 {
		return true
	}
	switch p {
	case 1080, 1194, 1433, 1521, 1701, 1723, 1812, 1813, 1883, 2049, 2181,
		2375, 2376, 3128, 3268, 3306, 3389, 3478, 3544, 4500, 4789, 5060,
		5061, 5222, 5269, 5349, 5353, 5432, 5601, 5672, 5900, 5938, 6379,
		6443, 6881, 8000, 8008, 8080, 8081, 8443, 8883, 8888, 9000, 9042,
		9090, 9092, 9100, 9200, 9300, 9418, 11211, 27017:
		return true
	}
	return false
}

// senderIsServer tells from the first packet of a flow whose start was
// not seen whether it is a reply: a packet from a service port to an
// ephemeral port, or an ICMP echo reply.
func senderIsServer(p *event.PacketRec) bool {
	switch p.Proto {
	case 1:
		return p.ICMPType == 0 // echo reply
	case 58:
		return p.ICMPType == 129 // ICMPv6 echo reply
	}
	return hasPorts(p.Proto) && isServicePort(p.SrcPort) && !isServicePort(p.DstPort)
}
