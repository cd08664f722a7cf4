package decode

import "github.com/nfpipe/nfpipe/pipeline/event"

// transport decodes the transport header in seg, the captured part of an
// IP payload whose header says it is segLen bytes long. short is the
// reason to give when a header does not fit in seg. A first fragment
// (frag) holds only part of the datagram, so lengths in the transport
// header are not checked against the IP length.
func (d *Decoder) transport(proto uint8, seg []byte, segLen int, short Reason, frag bool, p *event.PacketRec) Reason {
	switch proto {
	case ipTCP:
		if len(seg) < 20 {
			return short
		}
		doff := int(seg[12]>>4) << 2
		if doff < 20 {
			return BadHeader
		}
		if !frag && doff > segLen {
			return BadLength
		}
		p.SrcPort = be16(seg)
		p.DstPort = be16(seg[2:])
		p.Seq = be32(seg[4:])
		p.Ack = be32(seg[8:])
		p.TCPFlags = seg[13]
	case ipUDP:
		if len(seg) < 8 {
			return short
		}
		// Length 0 is legal only in IPv6 jumbograms (RFC 2675); it is
		// accepted everywhere, as checksum offload may leave it unset.
		ulen := int(be16(seg[4:]))
		if ulen != 0 && ulen < 8 {
			return BadHeader
		}
		if !frag && ulen > segLen {
			d.stats.LengthMismatch++ // the ports are there: kept
		}
		p.SrcPort = be16(seg)
		p.DstPort = be16(seg[2:])
	case ipICMP:
		if len(seg) < 8 {
			return short
		}
		p.ICMPType = seg[0]
		p.ICMPCode = seg[1]
	case ipICMPv6:
		if len(seg) < 4 {
			return short
		}
		p.ICMPType = seg[0]
		p.ICMPCode = seg[1]
	case ipSCTP:
		if len(seg) < 12 {
			return short
		}
		p.SrcPort = be16(seg)
		p.DstPort = be16(seg[2:])
	}
	return OK
}
