package decode

import (
	"fmt"
	"math/bits"
	"strings"

	"github.com/nfpipe/nfpipe/pipeline/event"
)

// Tunnels is a set of tunnel kinds the decoder opens.
type Tunnels uint8

// Tunnel kinds.
const (
	// TunnelGRE: GRE (IP protocol 47) carrying IPv4, IPv6, Ethernet
	// (transparent bridging), MPLS or ERSPAN types I-III, and the
	// enhanced GRE of PPTP carrying PPP.
	TunnelGRE Tunnels = 1 << iota
	// TunnelVXLAN: VXLAN, UDP to the configured port (4789 by default).
	TunnelVXLAN
	// TunnelGeneve: Geneve, UDP to port 6081.
	TunnelGeneve
	// TunnelIPinIP: IPv4 or IPv6 directly in IPv4 or IPv6 (IP protocols
	// 4 and 41: IPIP, 6in4/SIT, 4in6, 6in6).
	TunnelIPinIP

	numTunnels = iota
)

// tunnelNames are the names the configuration and the counters use.
var tunnelNames = [numTunnels]string{"gre", "vxlan", "geneve", "ip-in-ip"}

// ParseTunnel returns the tunnel kind of a configuration name.
func ParseTunnel(name string) (Tunnels, error) {
	for i, n := range tunnelNames {
		if n == name {
			return 1 << i, nil
		}
	}
	return 0, fmt.Errorf("unknown tunnel %q; use one of %s", name, strings.Join(tunnelNames[:], ", "))
}

// String names a single kind.
func (k Tunnels) String() string {
	if bits.OnesCount8(uint8(k)) == 1 {
		return tunnelNames[bits.TrailingZeros8(uint8(k))]
	}
	return fmt.Sprintf("Tunnels(%#x)", uint8(k))
}

// Protocol numbers and ports of the tunnels.
const (
	ipIPv4Encap = 4  // IPv4 in IP
	ipIPv6Encap = 41 // IPv6 in IP
	ipGRE       = 47

	DefaultVXLANPort = 4789
	genevePort       = 6081

	greTEB     = 0x6558 // transparent Ethernet bridging
	greERSPAN2 = 0x88be // ERSPAN type II, or type I without a sequence number
	greERSPAN3 = 0x22eb
	grePPP     = 0x880b // PPP, in PPTP's enhanced GRE
)

// maxTunnelDepth bounds nesting (Geneve in VXLAN in GRE ...): real
// networks nest two or three deep.
const maxTunnelDepth = 4

// decap opens the tunnel p is a packet of, when its kind is enabled: p
// then describes the inner packet, which is decoded from payload, the
// captured bytes after p's transport header (for GRE and IP in IP, after
// the IP header). Frame metadata stays, and so do the VLAN ids of the
// outer frame when it had tags. If the inner packet cannot be decoded, p
// is left as it was, accounted by its outer header, and the outcome is
// counted: nothing is lost.
func (d *Decoder) decap(payload []byte, slack int, p *event.PacketRec) {
	var kind Tunnels
	switch p.Proto {
	case ipIPv4Encap, ipIPv6Encap:
		kind = TunnelIPinIP
	case ipGRE:
		kind = TunnelGRE
	case ipUDP:
		switch p.DstPort {
		case d.vxlanPort:
			kind = TunnelVXLAN
		case genevePort:
			kind = TunnelGeneve
		default:
			return
		}
	default:
		return
	}
	if d.tunnels&kind == 0 || d.depth == maxTunnelDepth {
		return
	}
	outer := *p
	*p = event.PacketRec{TS: outer.TS, WireLen: outer.WireLen, CapLen: outer.CapLen, Iface: outer.Iface}
	d.depth++
	var r Reason
	switch kind {
	case TunnelIPinIP:
		if outer.Proto == ipIPv4Encap {
			r = d.ipv4(payload, slack, p)
		} else {
			r = d.ipv6(payload, slack, p)
		}
	case TunnelGRE:
		r = d.gre(payload, slack, p)
	case TunnelVXLAN:
		r = d.vxlan(payload[8:], slack, p) // the UDP header was checked
	case TunnelGeneve:
		r = d.geneve(payload[8:], slack, p)
	}
	d.depth--
	switch {
	case r == OK:
		d.stats.Tunneled[bits.TrailingZeros8(uint8(kind))]++
		if outer.VLAN != 0 || outer.InnerVLN != 0 {
			p.VLAN, p.InnerVLN = outer.VLAN, outer.InnerVLN
		}
		return
	case r.IsError():
		d.stats.TunnelErrors++
	default:
		d.stats.TunnelNotIP++
	}
	*p = outer
}

// gre decodes a GRE packet (RFC 2784 with the key and sequence number of
// RFC 2890, and PPTP's version 1 of RFC 2637) and what it carries.
func (d *Decoder) gre(b []byte, slack int, p *event.PacketRec) Reason {
	if len(b) < 4 {
		return Truncated
	}
	flags, proto := be16(b), be16(b[2:])
	off := 4
	switch flags & 7 {
	case 0:
		if flags&0x4000 != 0 {
			// RFC 1701 source routing, deprecated and unused.
			return UnsupportedEtherType
		}
		if flags&0x8000 != 0 {
			off += 4 // checksum and reserved
		}
		if flags&0x2000 != 0 {
			off += 4 // key
		}
		if flags&0x1000 != 0 {
			off += 4 // sequence number
		}
	case 1:
		// PPTP: a key (payload length and call id) always, sequence and
		// acknowledgement numbers when flagged.
		if proto != grePPP || flags&0x2000 == 0 {
			return BadHeader
		}
		off += 4
		if flags&0x1000 != 0 {
			off += 4
		}
		if flags&0x0080 != 0 {
			off += 4
		}
	default:
		return BadHeader
	}
	if len(b) < off {
		return Truncated
	}
	b = b[off:]
	if len(b) == 0 && flags&7 == 1 {
		return NotIP // a PPTP acknowledgement without data
	}
	switch proto {
	case etherIPv4:
		return d.ipv4(b, slack, p)
	case etherIPv6:
		return d.ipv6(b, slack, p)
	case etherMPLS, etherMPLSMcst:
		return d.mpls(b, slack, p)
	case greTEB:
		return d.innerEther(b, slack, p)
	case grePPP:
		return d.ppp(b, slack, p)
	case greERSPAN2:
		if flags&0x1000 == 0 {
			return d.innerEther(b, slack, p) // type I: no header of its own
		}
		if len(b) < 8 {
			return Truncated
		}
		if b[0]>>4 != 1 {
			return BadHeader
		}
		return d.innerEther(b[8:], slack, p)
	case greERSPAN3:
		if len(b) < 12 {
			return Truncated
		}
		if b[0]>>4 != 2 {
			return BadHeader
		}
		if ft := b[10] >> 2 & 0x1f; ft != 0 {
			return UnsupportedEtherType // not an Ethernet frame
		}
		off := 12
		if b[11]&1 != 0 {
			off += 8 // platform specific subheader
		}
		if len(b) < off {
			return Truncated
		}
		return d.innerEther(b[off:], slack, p)
	}
	return UnsupportedEtherType
}

// vxlan decodes a VXLAN header (RFC 7348) and the Ethernet frame in it.
func (d *Decoder) vxlan(b []byte, slack int, p *event.PacketRec) Reason {
	if len(b) < 8 {
		return Truncated
	}
	if b[0]&0x08 == 0 {
		return BadHeader // the I flag: a valid VNI; it must be set
	}
	return d.innerEther(b[8:], slack, p)
}

// geneve decodes a Geneve header (RFC 8926), its options, and the
// Ethernet frame or IP packet in it.
func (d *Decoder) geneve(b []byte, slack int, p *event.PacketRec) Reason {
	if len(b) < 8 {
		return Truncated
	}
	if b[0]>>6 != 0 {
		return BadHeader // version 0 is the only one
	}
	off := 8 + int(b[0]&0x3f)<<2
	if len(b) < off {
		return Truncated
	}
	switch be16(b[2:]) {
	case greTEB:
		return d.innerEther(b[off:], slack, p)
	case etherIPv4:
		return d.ipv4(b[off:], slack, p)
	case etherIPv6:
		return d.ipv6(b[off:], slack, p)
	}
	return UnsupportedEtherType
}

// innerEther decodes an Ethernet frame carried in a tunnel.
func (d *Decoder) innerEther(b []byte, slack int, p *event.PacketRec) Reason {
	if len(b) < 14 {
		return Truncated
	}
	return d.ether(b, 14, be16(b[12:]), slack, p)
}
