package decode

import "github.com/nfpipe/nfpipe/pipeline/event"

// EtherTypes the decoder follows or recognises.
const (
	etherIPv4     = 0x0800
	etherARP      = 0x0806
	etherWoL      = 0x0842
	etherRARP     = 0x8035
	etherAppleTlk = 0x809b
	etherAARP     = 0x80f3
	etherVLAN     = 0x8100 // 802.1Q
	etherIPX      = 0x8137
	etherIPv6     = 0x86dd
	etherFlowCtl  = 0x8808 // Ethernet PAUSE frames
	etherSlow     = 0x8809 // LACP, marker protocols
	etherMPLS     = 0x8847
	etherMPLSMcst = 0x8848
	etherPPPoED   = 0x8863 // PPPoE discovery
	etherPPPoES   = 0x8864 // PPPoE session
	etherEAPOL    = 0x888e // 802.1X
	etherQinQ     = 0x88a8 // 802.1ad service tag
	etherLLDP     = 0x88cc
	etherPTP      = 0x88f7
	etherCFM      = 0x8902 // 802.1ag connectivity fault management
	etherQinQOld  = 0x9100 // pre-standard QinQ
	etherVNTag    = 0x8926 // Cisco VN-Tag (802.1Qbh)
	etherLoopback = 0x9000 // Ethernet configuration testing protocol
)

// ether follows an EtherType chain starting at b[off:]: VLAN and VN-Tag
// tags, LLC/SNAP, MPLS and PPPoE sessions, down to IPv4 or IPv6.
func (d *Decoder) ether(b []byte, off int, etype uint16, slack int, p *event.PacketRec) Reason {
	tags := 0
	for hop := 0; hop < maxEtherHops; hop++ {
		switch etype {
		case etherIPv4:
			return d.ipv4(b[off:], slack, p)
		case etherIPv6:
			return d.ipv6(b[off:], slack, p)
		case etherVLAN, etherQinQ, etherQinQOld:
			if len(b) < off+4 {
				return Truncated
			}
			if tags == maxVLANTags {
				return TooManyHeaders
			}
			id := be16(b[off:]) & 0x0fff
			switch tags {
			case 0:
				p.VLAN = id
			case 1:
				p.InnerVLN = id
			}
			tags++
			etype = be16(b[off+2:])
			off += 4
		case etherVNTag:
			// Four bytes of port-extender fields, then the EtherType.
			if len(b) < off+6 {
				return Truncated
			}
			etype = be16(b[off+4:])
			off += 6
		case etherMPLS, etherMPLSMcst:
			return d.mpls(b[off:], slack, p)
		case etherPPPoES:
			// version/type 0x11, code 0, session id, length, PPP protocol
			if len(b) < off+8 {
				return Truncated
			}
			if b[off] != 0x11 || b[off+1] != 0 {
				return BadHeader
			}
			return d.pppPayload(b[off+8:], be16(b[off+6:]), slack, p)
		default:
			if etype > 1500 && etype < 1536 {
				return BadHeader // neither an 802.3 length nor an EtherType
			}
			if etype >= 1536 {
				if notIPEtherType(etype) {
					return NotIP
				}
				return UnsupportedEtherType
			}
			// An 802.3 length (or, in cooked captures, an LLC marker):
			// an 802.2 LLC header follows. Only SNAP with a zero OUI
			// carries an EtherType; anything else (spanning tree,
			// NetBIOS, CDP, ...) is not IP.
			if len(b) < off+3 {
				return Truncated
			}
			if b[off] != 0xaa || b[off+1] != 0xaa || b[off+2] != 0x03 {
				return NotIP
			}
			if len(b) < off+8 {
				return Truncated
			}
			if b[off+3]|b[off+4]|b[off+5] != 0 {
				return NotIP
			}
			etype = be16(b[off+6:])
			off += 8
			if etype <= 1500 {
				return BadHeader
			}
		}
	}
	return TooManyHeaders
}

// notIPEtherType lists common EtherTypes that carry no IP, so that they
// are counted as "not IP" rather than as something nfpipe fails to read.
func notIPEtherType(t uint16) bool {
	switch t {
	case etherARP, etherRARP, etherWoL, etherAppleTlk, etherAARP, etherIPX,
		etherFlowCtl, etherSlow, etherPPPoED, etherEAPOL, etherLLDP,
		etherPTP, etherCFM, etherLoopback:
		return true
	}
	return false
}

// mpls skips an MPLS label stack and decodes the IP packet under the
// bottom-of-stack label. MPLS does not say what it carries; like every
// label-switching router's fast path, the first nibble decides.
func (d *Decoder) mpls(b []byte, slack int, p *event.PacketRec) Reason {
	off := 0
	for n := 0; ; n++ {
		if n == maxMPLS {
			return TooManyHeaders
		}
		if len(b) < off+4 {
			return Truncated
		}
		bottom := b[off+2]&1 == 1
		off += 4
		if bottom {
			break
		}
	}
	if len(b) <= off {
		return Truncated
	}
	switch b[off] >> 4 {
	case 4:
		return d.ipv4(b[off:], slack, p)
	case 6:
		return d.ipv6(b[off:], slack, p)
	}
	return UnsupportedEtherType
}
