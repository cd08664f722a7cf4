package gen

// frameCap is the largest frame the model writes (1518) rounded up.
const frameCap = 1536

// frameBuf builds frames in place. Payload bytes are a fixed pseudo-random
// pattern at fixed frame offsets, so only the headers are written per
// frame, and L4 checksums take the payload's sum from a prefix table
// instead of reading it.
type frameBuf struct {
	buf     [frameCap]byte
	pattern [frameCap]byte
	prefix  [frameCap + 1]uint64 // prefix[i], i even: sum of the 16-bit words of pattern[:i]
	dirty   int                  // buf[dirty:] equals pattern[dirty:]
}

func (fb *frameBuf) init() {
	r := newRNG(0x7061796c6f6164)
	for i := range fb.pattern {
		fb.pattern[i] = byte(r.u64())
	}
	for i := 2; i <= frameCap; i += 2 {
		fb.prefix[i] = fb.prefix[i-2] + (uint64(fb.pattern[i-2])<<8 | uint64(fb.pattern[i-1]))
	}
	fb.buf = fb.pattern
}

// paySum is the word sum of pattern[from:to] for an even from, with an odd
// last byte padded by zero as the Internet checksum does.
func (fb *frameBuf) paySum(from, to int) uint64 {
	if to&1 == 0 {
		return fb.prefix[to] - fb.prefix[from]
	}
	return fb.prefix[to-1] - fb.prefix[from] + uint64(fb.pattern[to-1])<<8
}

// wordSum sums the 16-bit words of an even-length slice.
func wordSum(b []byte) uint64 {
	var s uint64
	for i := 0; i+1 < len(b); i += 2 {
		s += uint64(b[i])<<8 | uint64(b[i+1])
	}
	return s
}

// checksum folds a word sum into the one's-complement Internet checksum.
func checksum(s uint64) uint16 {
	for s > 0xffff {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}

// Locally administered MAC addresses: the gateway, and clients numbered
// by host.
var gatewayMAC = [6]byte{0x02, 0x6e, 0x66, 0xff, 0xff, 0xfe}

// build writes the frame s of flow f and returns it; the slice is valid
// until the next call.
func (fb *frameBuf) build(servers *serverPool, f *flow, s *frameSpec) []byte {
	b := fb.buf[:]
	proto, _ := f.proto()
	icmp := f.kind == kindICMP
	host := f.fid % clientHosts
	if icmp {
		host = f.fid
	}
	hdr := s.hdrLen
	ipEnd := hdr + s.payload // a control frame is padded past it
	if fb.dirty > hdr {
		copy(b[hdr:fb.dirty], fb.pattern[hdr:fb.dirty])
	}

	// Ethernet (and 802.1Q).
	cmac := [6]byte{0x02, 0x6e, 0x66, byte(host >> 16), byte(host >> 8), byte(host)}
	if s.fromClient {
		copy(b[0:6], gatewayMAC[:])
		copy(b[6:12], cmac[:])
	} else {
		copy(b[0:6], cmac[:])
		copy(b[6:12], gatewayMAC[:])
	}
	off := 12
	if f.vlan != 0 {
		putU16(b[12:], 0x8100)
		putU16(b[14:], f.vlan)
		off = 16
	}
	l3 := off + 2

	// IP.
	var l4 int
	var pseudo uint64
	if f.v6 {
		putU16(b[off:], 0x86dd)
		putU32(b[l3:], 6<<28|(f.fid*2654435761)&0xfffff)
		l4 = l3 + 40
		putU16(b[l3+4:], uint16(ipEnd-l4))
		b[l3+6] = proto
		b[l3+7] = 64
		var c [16]byte
		client6(&c, f.fid, icmp)
		srv := &servers.v6[f.server]
		if s.fromClient {
			copy(b[l3+8:], c[:])
			copy(b[l3+24:], srv[:])
		} else {
			b[l3+7] = 52
			copy(b[l3+8:], srv[:])
			copy(b[l3+24:], c[:])
		}
		pseudo = wordSum(b[l3+8:l3+40]) + uint64(ipEnd-l4) + uint64(proto)
	} else {
		putU16(b[off:], 0x0800)
		l4 = l3 + 20
		b[l3], b[l3+1] = 0x45, 0
		putU16(b[l3+2:], uint16(ipEnd-l3))
		putU16(b[l3+4:], uint16(f.fid*40503+f.sent))
		putU16(b[l3+6:], 0x4000) // DF
		b[l3+8], b[l3+9] = 64, proto
		putU16(b[l3+10:], 0)
		c, srv := client4(f.fid, icmp), servers.v4[f.server]
		if s.fromClient {
			putU32(b[l3+12:], c)
			putU32(b[l3+16:], srv)
		} else {
			b[l3+8] = 52
			putU32(b[l3+12:], srv)
			putU32(b[l3+16:], c)
		}
		putU16(b[l3+10:], checksum(wordSum(b[l3:l4])))
		if !icmp {
			pseudo = wordSum(b[l3+12:l3+20]) + uint64(ipEnd-l4) + uint64(proto)
		}
	}

	// L4.
	sport, dport := f.sport, f.dport
	if !s.fromClient {
		sport, dport = dport, sport
	}
	csumAt := 0
	switch f.kind {
	case kindTCP:
		putU16(b[l4:], sport)
		putU16(b[l4+2:], dport)
		putU32(b[l4+4:], s.seq)
		putU32(b[l4+8:], s.ack)
		b[l4+12] = byte((hdr-l4)/4) << 4
		b[l4+13] = s.flags
		putU16(b[l4+14:], 64240)
		putU32(b[l4+16:], 0) // checksum, urgent pointer
		if hdr-l4 > 20 {
			mss := uint16(1460)
			if f.v6 {
				mss = 1440
			}
			b[l4+20], b[l4+21] = 2, 4
			putU16(b[l4+22:], mss)
		}
		csumAt = l4 + 16
	case kindICMP:
		b[l4], b[l4+1] = s.icmpType, 0
		putU16(b[l4+2:], 0)
		putU16(b[l4+4:], f.sport) // identifier
		putU16(b[l4+6:], s.echoSeq)
		csumAt = l4 + 2
	default:
		putU16(b[l4:], sport)
		putU16(b[l4+2:], dport)
		putU16(b[l4+4:], uint16(ipEnd-l4))
		putU16(b[l4+6:], 0)
		csumAt = l4 + 6
	}
	appEnd := hdr // past the bytes written here; the pattern follows
	if f.kind == kindDNS {
		putDNS(b[hdr:ipEnd], servers, f, s)
		appEnd = ipEnd
	}
	sum := pseudo + wordSum(b[l4:appEnd])
	if ipEnd > appEnd {
		sum += fb.paySum(appEnd, ipEnd)
	}
	c := checksum(sum)
	if c == 0 && f.kind != kindTCP && f.kind != kindICMP {
		c = 0xffff // UDP: zero means "no checksum"
	}
	putU16(b[csumAt:], c)

	fb.dirty = appEnd
	if ipEnd < s.frameLen {
		clear(b[ipEnd:s.frameLen])
		fb.dirty = s.frameLen
	}
	return b[:s.frameLen]
}
