package gen

// TCP flag bits.
const (
	flagFIN = 0x01
	flagSYN = 0x02
	flagRST = 0x04
	flagPSH = 0x08
	flagACK = 0x10
)

// frameSpec is what the next frame of a flow carries; build turns it into
// bytes.
type frameSpec struct {
	fromClient bool
	frameLen   int // wire length
	hdrLen     int // L2–L4 header bytes
	payload    int // L4 payload bytes; what follows them is Ethernet padding
	flags      uint8
	seq, ack   uint32
	icmpType   uint8
	echoSeq    uint16
	answers    uint8 // DNS: answer records; a query has none
}

// headerLen is the length of the L2–L4 headers of a flow's frames.
func headerLen(f *flow, syn bool) int {
	n := 14 + 20
	if f.vlan != 0 {
		n += 4
	}
	if f.v6 {
		n += 20
	}
	switch f.kind {
	case kindTCP:
		n += 20
		if syn {
			n += 4 // MSS option
		}
	default:
		n += 8
	}
	return n
}

// size fills frameLen and payload for a frame of the given class; a
// control frame carries no payload and is padded to the minimum size.
func (s *frameSpec) size(f *flow, class int, control bool) {
	hdr := headerLen(f, s.flags&flagSYN != 0)
	s.hdrLen = hdr
	if control {
		s.frameLen, s.payload = max(classLen[0], hdr), 0
		return
	}
	minPayload := 2
	if f.kind == kindTCP {
		minPayload = 6
	}
	s.frameLen = max(classLen[class], hdr+minPayload)
	s.payload = s.frameLen - hdr
}

// dataClass draws the size class of a data frame: 5:4:1.
func (g *Generator) dataClass() int {
	switch n := g.r.intn(10); {
	case n < 5:
		return 0
	case n < 9:
		return 1
	}
	return 2
}

// handshakeGap is the time between the SYN-ACK and the client's ACK (and
// between the two FINs): the client's own turnaround, tens of µs.
func (g *Generator) handshakeGap() int64 { return g.r.between(10_000, 60_000) }

// script decides the next frame of f and the gap to the frame after it
// (meaningless for the last frame).
func (g *Generator) script(f *flow) (s frameSpec, gap int64) {
	i := f.sent
	rtt := int64(f.rtt)
	switch f.kind {
	case kindTCP:
		return g.scriptTCP(f, i)
	case kindDNS:
		// A real DNS message, sized by its content: a query for A (or
		// AAAA on IPv6) and a response with 1–8 answers.
		hdr := headerLen(f, false)
		s.hdrLen = hdr
		if i == 0 {
			s.fromClient = true
			s.payload = dnsQueryLen
			s.frameLen = hdr + s.payload
			return s, rtt
		}
		s.answers = uint8(1 + g.r.intn(8))
		s.payload = dnsQueryLen + int(s.answers)*dnsAnswerLen(f.v6)
		s.frameLen = hdr + s.payload
		return s, 0
	case kindUDP:
		s.fromClient = i == 0 || g.r.chance(0.5)
		class := 0
		if f.budget > 1 {
			class = g.dataClass()
		}
		s.size(f, class, false)
		return s, g.gap(f, i+1)
	default: // ICMP echo
		s.echoSeq = uint16(i/2 + 1)
		s.size(f, int(f.class), false)
		if i%2 == 0 {
			s.fromClient = true
			s.icmpType = 8
			if f.v6 {
				s.icmpType = 128
			}
			return s, rtt
		}
		if f.v6 {
			s.icmpType = 129
		}
		return s, g.gap(f, i+1)
	}
}

func (g *Generator) scriptTCP(f *flow, i uint32) (s frameSpec, gap int64) {
	rtt := int64(f.rtt)
	// fromClient sets direction and the sequence numbers of a frame that
	// carries n sequence-space bytes.
	send := func(client bool, flags uint8, n uint32) {
		s.fromClient, s.flags = client, flags
		if client {
			s.seq, s.ack = f.cseq, f.sseq
			f.cseq += n
		} else {
			s.seq, s.ack = f.sseq, f.cseq
			f.sseq += n
		}
	}
	switch {
	case i == 0:
		send(true, flagSYN, 1)
		s.ack = 0
		s.size(f, 0, true)
		return s, rtt
	case f.budget == 2: // refused
		send(false, flagRST|flagACK, 0)
		s.seq = 0
		s.size(f, 0, true)
		return s, 0
	case i == 1:
		send(false, flagSYN|flagACK, 1)
		s.size(f, 0, true)
		if f.budget == 3 {
			return s, g.gap(f, i+1)
		}
		return s, g.handshakeGap()
	case f.budget == 3: // aborted right after the SYN-ACK
		send(true, flagRST|flagACK, 0)
		s.size(f, 0, true)
		return s, 0
	case i == 2:
		send(true, flagACK, 0)
		s.size(f, 0, true)
		return s, g.gap(f, i+1)
	case i < f.dataEnd:
		client := i == 3 || !g.r.chance(float64(f.downPct)/100)
		s.fromClient = client
		s.flags = flagPSH | flagACK
		s.size(f, g.dataClass(), false)
		send(client, flagPSH|flagACK, uint32(s.payload))
		return s, g.gap(f, i+1)
	case f.close == closeRST:
		send(f.clientEnd, flagRST|flagACK, 0)
		s.size(f, 0, true)
		return s, 0
	}
	switch i - f.dataEnd {
	case 0:
		send(f.clientEnd, flagFIN|flagACK, 1)
		s.size(f, 0, true)
		return s, rtt
	case 1:
		send(!f.clientEnd, flagFIN|flagACK, 1)
		s.size(f, 0, true)
		return s, g.handshakeGap()
	}
	send(f.clientEnd, flagACK, 0)
	s.size(f, 0, true)
	return s, 0
}
