package sessionize

import (
	"github.com/nfpipe/nfpipe/pipeline/event"
)

// isSYN reports a connection request: SYN without ACK.
func isSYN(flags uint8) bool {
	return flags&(event.FlagSYN|event.FlagACK) == event.FlagSYN
}

// initialTCPState is the state of a flow whose first packet has the
// given flags. A connection whose start was not seen is taken to be
// established, as a firewall picking up a connection does.
func initialTCPState(flags uint8) event.TCPState {
	switch {
	case isSYN(flags):
		return event.TCPSynSent
	case flags&(event.FlagSYN|event.FlagACK) == event.FlagSYN|event.FlagACK:
		return event.TCPSynReceived
	}
	return event.TCPEstablished
}

// ended reports whether no packet can belong to the connection any more
// except stragglers: a SYN seen now starts a new connection.
func ended(s event.TCPState) bool {
	return s >= event.TCPFinWait
}

// lingers reports whether a flow in state s waits out close_linger
// instead of idle_timeout: both sides sent a FIN, or one sent a RST.
func lingers(s event.TCPState) bool {
	return s >= event.TCPClosing
}

// closeReason is the end reason of a flow that closed itself.
func closeReason(s event.TCPState) event.EndReason {
	if s == event.TCPReset {
		return event.ReasonRST
	}
	return event.ReasonFIN
}

// trackTCP advances the connection state with one packet sent in
// direction dir (c2s or s2c).
func trackTCP(e *entry, dir int, p *event.PacketRec) {
	f := p.TCPFlags
	e.flags[dir] |= f
	if f&event.FlagRST != 0 {
		e.state = event.TCPReset
		return
	}
	if e.state == event.TCPReset {
		return // stragglers after a reset do not reopen the connection
	}
	syn, ack := f&event.FlagSYN != 0, f&event.FlagACK != 0
	switch e.state {
	case event.TCPSynSent:
		switch {
		case syn && !ack && dir == c2s:
			// A retransmitted SYN restarts the RTT clock, so the RTT is
			// the network's and not the retransmission timeout.
			e.syn = p.TS
		case syn && ack && dir == s2c:
			e.state = event.TCPSynReceived
		case ack && !syn:
			e.state = event.TCPEstablished // the SYN-ACK was not seen
		}
	case event.TCPSynReceived:
		if ack && !syn && dir == c2s {
			e.state = event.TCPEstablished
			// Only a SYN seen before the SYN-ACK starts the clock: a flow
			// first seen at its SYN-ACK has no SYN time (e.syn == 0), even
			// if a late copy of the SYN shows up afterwards.
			if e.syn != 0 && p.TS > e.syn {
				e.rtt = p.TS - e.syn
			}
		} else if ack && !syn {
			e.state = event.TCPEstablished // the client's ACK was not seen
		}
	}
	trackFIN(e, dir, p)
}

// trackFIN records FINs and their acknowledgements and derives the
// closing states from them.
func trackFIN(e *entry, dir int, p *event.PacketRec) {
	fin := finBit(dir)
	peerFin, peerAcked := finBit(1-dir), ackBit(1-dir)
	if p.TCPFlags&event.FlagFIN != 0 && !e.has(fin) {
		e.bits |= fin
		e.finSeq[dir] = p.Seq
	}
	// The peer's FIN is acknowledged once our ACK covers its sequence
	// number (a FIN occupies one; data in the FIN segment only makes the
	// acknowledgement larger). Serial-number arithmetic handles wrap.
	if p.TCPFlags&event.FlagACK != 0 && e.has(peerFin) && !e.has(peerAcked) &&
		int32(p.Ack-e.finSeq[1-dir]) > 0 {
		e.bits |= peerAcked
	}
	switch {
	case e.has(bitFinC2S) && e.has(bitFinS2C):
		if e.has(bitAckC2S) && e.has(bitAckS2C) {
			e.state = event.TCPClosed
		} else {
			e.state = event.TCPClosing
		}
	case e.has(bitFinC2S) || e.has(bitFinS2C):
		e.state = event.TCPFinWait
	}
}

func finBit(dir int) uint8 {
	if dir == c2s {
		return bitFinC2S
	}
	return bitFinS2C
}

// ackBit is the bit saying direction dir's FIN was acknowledged.
func ackBit(dir int) uint8 {
	if dir == c2s {
		return bitAckC2S
	}
	return bitAckS2C
}
