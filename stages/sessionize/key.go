package sessionize

import (
	"net/netip"

	"github.com/nfpipe/nfpipe/pipeline/event"
)

// flowKey identifies a bidirectional flow. Both directions of a
// conversation map to the same key: the endpoint that sorts lower
// (address, then port) is always A. Addresses are stored as 16 bytes with
// IPv4 mapped into IPv6, so the key is a flat 40-byte value with no
// pointers (a netip.Addr carries a zone pointer and takes 24 bytes).
type flowKey struct {
	A, B         [16]byte
	PortA, PortB uint16
	VLAN         uint16 // outer 802.1Q id
	Proto        uint8  // IP protocol number
	Family       uint8  // 4 or 6, so an IPv4-mapped IPv6 address stays IPv6
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
// path of every packet, and a returned copy costs.
func (k *flowKey) set(p *event.PacketRec) (fromB bool) {
	sp, dp := p.SrcPort, p.DstPort
	if !hasPorts(p.Proto) {
		sp, dp = 0, 0
	}
	k.VLAN, k.Proto, k.Family = p.VLAN, p.Proto, 6
	if p.Src.Is4() {
		k.Family = 4
	}
	c := p.Src.Compare(p.Dst)
	if c > 0 || c == 0 && sp > dp {
		k.A, k.PortA, k.B, k.PortB = p.Dst.As16(), dp, p.Src.As16(), sp
		return true
	}
	k.A, k.PortA, k.B, k.PortB = p.Src.As16(), sp, p.Dst.As16(), dp
	return false
}

// addr converts a stored address back to a netip.Addr.
func (k *flowKey) addr(a *[16]byte) netip.Addr {
	ip := netip.AddrFrom16(*a)
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
