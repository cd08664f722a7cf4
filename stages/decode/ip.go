package decode

import (
	"net/netip"

	"github.com/nfpipe/nfpipe/pipeline/event"
)

// IP protocol numbers the decoder reads.
const (
	ipHopByHop = 0
	ipICMP     = 1
	ipTCP      = 6
	ipUDP      = 17
	ipRouting  = 43
	ipFragment = 44
	ipAH       = 51
	ipICMPv6   = 58
	ipDstOpts  = 60
	ipSCTP     = 132
)

// ipv4 decodes an IPv4 header and what follows it. slack is the number of
// frame bytes that were not captured.
func (d *Decoder) ipv4(b []byte, slack int, p *event.PacketRec) Reason {
	if len(b) < 20 {
		return Truncated
	}
	if b[0]>>4 != 4 {
		return BadHeader
	}
	ihl := int(b[0]&0x0f) << 2
	if ihl < 20 {
		return BadHeader
	}
	total := int(be16(b[2:]))
	if total == 0 {
		// Segmentation offload hands the capture a packet longer than
		// the 16-bit field can say, with total length 0.
		total = len(b) + slack
	}
	if total < ihl {
		return BadLength
	}
	if len(b) < ihl {
		return Truncated
	}
	segLen := total - ihl
	// A transport header that does not fit is cut by the capture when the
	// datagram was not fully captured, and is a length lie otherwise.
	short := BadLength
	if total > len(b) {
		short = Truncated
		if total > len(b)+slack {
			// Bytes the header announces were never on the wire. The
			// headers that are there still say whose traffic it is, and
			// Wireshark counts such packets too: keep it, but count it.
			d.stats.LengthMismatch++
		}
		total = len(b)
	}
	p.IPVer = 4
	p.Src = netip.AddrFrom4([4]byte(b[12:16]))
	p.Dst = netip.AddrFrom4([4]byte(b[16:20]))
	proto := b[9]
	p.Proto = proto
	seg := b[ihl:total]
	if frag := be16(b[6:]); frag&0x3fff != 0 {
		// More-fragments set or a non-zero offset.
		id := uint32(be16(b[4:]))
		p.FragID = id
		d.stats.Fragments++
		key := fragKey{ver: 4, proto: proto, id: id}
		copy(key.src[:], b[12:16])
		copy(key.dst[:], b[16:20])
		if frag&0x1fff != 0 {
			p.Frag = event.FragLater
			d.later(&key, p)
			return OK
		}
		p.Frag = event.FragFirst
		var r Reason
		if proto == ipAH {
			r = d.ipv4AH(seg, segLen, short, true, p)
		} else {
			r = d.transport(proto, seg, segLen, short, true, p)
		}
		if r == OK {
			d.frags.put(&key, p)
		}
		return r
	}
	if proto == ipAH {
		return d.ipv4AH(seg, segLen, short, false, p)
	}
	r := d.transport(proto, seg, segLen, short, false, p)
	if r == OK && d.tunnels != 0 {
		d.decap(seg, slack, p)
	}
	return r
}

// ipv4AH skips IPv4 authentication headers (RFC 4302) as in IPv6, so that
// protocol and ports describe the transport header under them.
func (d *Decoder) ipv4AH(seg []byte, segLen int, short Reason, frag bool, p *event.PacketRec) Reason {
	proto := uint8(ipAH)
	for n := 0; proto == ipAH; n++ {
		if n == maxIPv4AH {
			return TooManyHeaders
		}
		if len(seg) < 12 {
			return short
		}
		hl := (int(seg[1]) + 2) << 2
		if hl < 12 {
			return BadHeader
		}
		if hl > len(seg) {
			return short
		}
		proto, seg, segLen = seg[0], seg[hl:], segLen-hl
		p.Proto = proto
	}
	return d.transport(proto, seg, segLen, short, frag, p)
}

// ipv6 decodes an IPv6 header, skips extension headers and decodes the
// transport header.
func (d *Decoder) ipv6(b []byte, slack int, p *event.PacketRec) Reason {
	if len(b) < 40 {
		return Truncated
	}
	if b[0]>>4 != 6 {
		return BadHeader
	}
	plen := int(be16(b[4:]))
	if plen == 0 {
		// A jumbogram, or a large segment from receive offload: the
		// length is what the frame holds.
		plen = len(b) - 40 + slack
	} else if plen > len(b)-40+slack {
		d.stats.LengthMismatch++ // kept, as for IPv4
	}
	total := 40 + plen
	short := BadLength
	if total > len(b) {
		short = Truncated
	} else {
		b = b[:total]
	}
	p.IPVer = 6
	p.Src = netip.AddrFrom16([16]byte(b[8:24]))
	p.Dst = netip.AddrFrom16([16]byte(b[24:40]))
	next := b[6]
	off := 40
	var key fragKey
walk:
	for n := 0; ; n++ {
		switch next {
		case ipHopByHop, ipRouting, ipDstOpts:
			if n == maxIPv6Ext {
				return TooManyHeaders
			}
			if len(b) < off+8 {
				return short
			}
			next, off = b[off], off+(int(b[off+1])+1)<<3
		case ipAH:
			if n == maxIPv6Ext {
				return TooManyHeaders
			}
			// RFC 4302: the length is in 4-byte units minus 2, and the
			// fixed part (next, length, reserved, SPI, sequence) is 12.
			if len(b) < off+12 {
				return short
			}
			hl := (int(b[off+1]) + 2) << 2
			if hl < 12 {
				return BadHeader
			}
			next, off = b[off], off+hl
		case ipFragment:
			if n == maxIPv6Ext {
				return TooManyHeaders
			}
			if len(b) < off+8 {
				return short
			}
			fo := be16(b[off+2:])
			if fo&0xfff9 != 0 && p.Frag == 0 {
				// Offset or more-fragments set. An atomic fragment
				// (RFC 6946: neither set) is a whole datagram.
				id := be32(b[off+4:])
				p.FragID = id
				d.stats.Fragments++
				key = fragKey{ver: 6, proto: b[off], id: id, src: [16]byte(b[8:24]), dst: [16]byte(b[24:40])}
				if fo&0xfff8 != 0 {
					p.Frag = event.FragLater
					p.Proto = b[off]
					d.later(&key, p)
					return OK
				}
				p.Frag = event.FragFirst
			}
			next, off = b[off], off+8
		default:
			break walk
		}
		if off > len(b) {
			return short
		}
	}
	p.Proto = next
	segLen := total - off
	r := d.transport(next, b[off:], segLen, short, p.Frag != 0, p)
	if r == OK && p.Frag == event.FragFirst {
		d.frags.put(&key, p)
	} else if r == OK && p.Frag == 0 && d.tunnels != 0 {
		d.decap(b[off:], slack, p)
	}
	return r
}

// later fills the transport fields of a non-first fragment from the
// fragment table.
func (d *Decoder) later(key *fragKey, p *event.PacketRec) {
	e := d.frags.get(key, p.TS)
	if e == nil {
		d.stats.FragmentsUnmatched++
		return
	}
	p.Proto = e.proto
	p.SrcPort = e.sport
	p.DstPort = e.dport
	p.ICMPType = e.icmpType
	p.ICMPCode = e.icmpCode
}
