package gen

import "math"

// kind is a flow's application shape.
type kind uint8

const (
	kindTCP  kind = iota // handshake, data both ways, FIN/FIN or RST close
	kindDNS              // a DNS query, answered or not
	kindUDP              // a single datagram, or a longer stream both ways
	kindICMP             // echo request/reply pairs
)

// TCP close styles.
const (
	closeRST uint8 = iota // one RST|ACK from the closer
	closeFIN              // FIN|ACK, FIN|ACK, ACK
)

// IP protocol numbers.
const (
	protoICMP   = 1
	protoTCP    = 6
	protoUDP    = 17
	protoICMPv6 = 58
)

// Timing of the model. Round-trip times are log-uniform; frames of a flow
// come in bursts (back-to-back at line rate) separated by longer gaps.
const (
	rttMin       = 100e3  // ns
	rttMax       = 80e6   // ns
	burstProb    = 0.6    // share of gaps inside a burst
	burstMin     = 1_000  // ns
	burstMax     = 20_000 // ns
	maxActiveGap = 60e9   // ns; ordinary gaps stay well below IdleGapMin
	idleProb     = 0.01   // share of flows (of 5+ frames) with one idle gap
	// IdleGapMin and IdleGapMax bound the idle gaps: longer than the
	// usual flow idle timeouts (30s to 300s), so a sessionizer with such
	// a timeout splits those flows in two.
	IdleGapMin = 330e9 // ns
	IdleGapMax = 600e9 // ns
)

// Frame size classes (wire length including any VLAN tag): the simple
// IMIX of 64, 594 and 1518 bytes. Control frames (SYN, FIN, pure ACK,
// RST) are the small class; data frames draw 5:4:1, which with the
// control frames gives close to the 7:4:1 IMIX mix.
var classLen = [3]int{64, 594, 1518}

// flow is the state of one open flow: 72 bytes, so a million concurrent
// flows cost the generator little.
type flow struct {
	fid       uint32 // flow number: fixes the client endpoint
	server    uint32 // index into the server pool of the flow's family
	budget    uint32 // frames in the flow
	sent      uint32 // frames written so far
	dataEnd   uint32 // TCP: index of the first close frame
	closeAt   uint32 // the gap before this frame stretches to end; 0 = none
	end       int64  // when the flow has lived its lifetime, ns
	idleAt    uint32 // the gap before this frame index is an idle gap; 0 = none
	cseq      uint32 // TCP: next client sequence number
	sseq      uint32 // TCP: next server sequence number
	gapMean   float32
	rtt       int32 // ns
	sport     uint16
	dport     uint16
	vlan      uint16
	kind      kind
	v6        bool
	close     uint8
	clientEnd bool  // the client closes (FIN first or RST)
	downPct   uint8 // chance in percent that a data frame goes server to client
	class     uint8 // ICMP: the flow's fixed size class
}

// proto returns the IP protocol number and the truth index of the flow.
func (f *flow) proto() (uint8, int) {
	switch f.kind {
	case kindTCP:
		return protoTCP, pTCP
	case kindICMP:
		if f.v6 {
			return protoICMPv6, pICMPv6
		}
		return protoICMP, pICMP
	}
	return protoUDP, pUDP
}

var (
	tcpPorts  = weighted{{443, 55}, {80, 15}, {8080, 4}, {22, 5}, {25, 3}, {993, 3}, {8443, 3}, {9000, 3}, {3306, 2}, {5432, 2}, {8000, 2}, {5222, 2}, {853, 1}}
	udpLong   = weighted{{443, 50}, {5004, 15}, {51820, 15}, {9993, 10}, {3478, 10}}
	udpSingle = weighted{{514, 60}, {161, 40}} // syslog, SNMP
	vlanIDs   = [...]uint16{10, 20, 30, 100, 101, 200, 300, 1000, 2000, 4001}
)

// weighted is a list of (value, weight) pairs.
type weighted [][2]uint16

func (w weighted) pick(r *rng) uint16 {
	total := 0
	for _, e := range w {
		total += int(e[1])
	}
	n := r.intn(total)
	for _, e := range w {
		if n < int(e[1]) {
			return e[0]
		}
		n -= int(e[1])
	}
	return w[len(w)-1][0]
}

// sampleBudget draws a flow's frame count with mean m: about 30% tiny
// flows (1–2 frames) and a heavy (Lomax, α=1.6) tail for the rest.
func sampleBudget(r *rng, m float64) int64 {
	const tinyShare, tinyMean = 0.3, 1.7
	tiny := func() int64 {
		if r.chance(0.3) {
			return 1
		}
		return 2
	}
	switch {
	case m <= 1:
		return 1
	case m < tinyMean:
		if r.chance(2 - m) {
			return 1
		}
		return 2
	case m < 3:
		if r.chance((3 - m) / (3 - tinyMean)) {
			return tiny()
		}
		return 3
	}
	if r.chance(tinyShare) {
		return tiny()
	}
	const alpha = 1.6
	mean := (m-tinyShare*tinyMean)/(1-tinyShare) - 3
	x := mean * (alpha - 1) * (math.Pow(1-r.float(), -1/alpha) - 1)
	x = math.Min(x+r.float(), 1e12)
	return 3 + int64(x)
}

// startFlow makes f a new flow of budget frames whose first frame
// is at start.
func (g *Generator) startFlow(f *flow, fid uint32, budget int64, start int64) {
	r := &g.r
	*f = flow{fid: fid, budget: uint32(budget)}
	switch {
	case budget == 1:
		switch x := r.float(); {
		case x < 0.45:
			f.kind = kindDNS // unanswered
		case x < 0.75:
			f.kind = kindUDP
		default:
			f.kind = kindICMP
		}
	case budget == 2:
		switch x := r.float(); {
		case x < 0.65:
			f.kind = kindDNS
		case x < 0.80:
			f.kind = kindTCP
		default:
			f.kind = kindICMP
		}
	default:
		switch x := r.float(); {
		case x < 0.85:
			f.kind = kindTCP
		case x < 0.96:
			f.kind = kindUDP
		default:
			f.kind = kindICMP
		}
	}
	f.v6 = r.chance(0.2)
	if r.chance(0.1) {
		f.vlan = vlanIDs[r.intn(len(vlanIDs))]
	}
	switch {
	case f.kind == kindICMP && !f.v6:
		f.server = icmp4Server(fid)
	case f.v6:
		f.server = popular(r, servers6)
	default:
		f.server = popular(r, servers4)
	}
	f.sport = clientPort(fid)
	switch f.kind {
	case kindTCP:
		f.dport = tcpPorts.pick(r)
		f.cseq, f.sseq = uint32(r.u64()), uint32(r.u64())
		f.dataEnd = f.budget
		if budget >= 4 {
			f.close = closeRST
			if budget >= 6 && r.chance(0.85) {
				f.close = closeFIN
				f.dataEnd = f.budget - 3
			} else {
				f.dataEnd = f.budget - 1
			}
		}
		f.clientEnd = r.chance(0.7)
	case kindDNS:
		f.dport = 53
	case kindUDP:
		if budget == 1 {
			f.dport = udpSingle.pick(r)
		} else {
			f.dport = udpLong.pick(r)
		}
	case kindICMP:
		f.sport = uint16(fid * 2654435761 >> 16) // echo identifier
		switch x := r.float(); {
		case x < 0.85:
			f.class = 0
		case x < 0.95:
			f.class = 1
		default:
			f.class = 2
		}
	}
	f.downPct = 80
	if r.chance(0.2) {
		f.downPct = 25
	}
	f.closeAt = closeAt(f)
	rtt := r.logUniform(rttMin, rttMax)
	// The flow's lifetime: Little's law sets the mean so that Concurrent
	// open flows produce one frame per Spacing. The floor keeps flows open
	// through the start-up ramp. Gaps are drawn to fill about 70% of it,
	// and the gap before the close stretches to the end, so short flows
	// (where bursts make the sum of a few gaps erratic) live their time.
	life := math.Min(g.meanLife*(0.25+r.exp(0.75)), maxActiveGap)
	f.end = start + int64(life)
	rtt = math.Min(rtt, life/4)
	f.rtt = int32(rtt)
	gaps := math.Max(1, float64(budget-1))
	mean := (0.7*life - 2*rtt - gaps*burstProb*(burstMin+burstMax)/2) / ((1 - burstProb) * gaps)
	f.gapMean = float32(math.Max(mean, burstMax))
	if budget >= 5 && r.chance(idleProb) {
		f.idleAt = idleSlot(r, f)
	}
}

// closeAt returns the index of the frame that starts the flow's close,
// or 0 for flows that end with a request/response exchange.
func closeAt(f *flow) uint32 {
	switch {
	case f.kind == kindTCP && f.budget == 3:
		return 2
	case f.kind == kindTCP && f.budget >= 4:
		return f.dataEnd
	case f.kind == kindUDP && f.budget >= 2:
		return f.budget - 1
	case f.kind == kindICMP && f.budget >= 3:
		return (f.budget - 1) &^ 1 // the last request
	}
	return 0
}

// idleSlot picks the frame an idle gap precedes, among the gaps drawn by
// gap (not inside a handshake, a request/response or a close).
func idleSlot(r *rng, f *flow) uint32 {
	b := int64(f.budget)
	switch f.kind {
	case kindTCP: // after the handshake ACK or a data frame
		return uint32(r.between(3, int64(f.dataEnd)))
	case kindICMP: // after a reply, before the next request
		return uint32(2 * r.between(1, (b-1)/2))
	}
	return uint32(r.between(1, b-1))
}

// gap returns the time from frame i to frame i+1 for gaps that are not
// part of a request/response exchange.
func (g *Generator) gap(f *flow, next uint32) int64 {
	if next >= f.budget {
		return 0 // no frame follows
	}
	r := &g.r
	if next == f.idleAt {
		return r.between(IdleGapMin, IdleGapMax)
	}
	if r.chance(burstProb) {
		return r.between(burstMin, burstMax)
	}
	mean := float64(f.gapMean)
	return int64(math.Min(r.exp(mean), math.Min(10*mean, maxActiveGap)))
}
