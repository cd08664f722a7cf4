package decode

import (
	"context"
	"slices"
	"sync/atomic"

	"github.com/nfpipe/nfpipe/pipeline"
	"github.com/nfpipe/nfpipe/pipeline/event"
)

// Stage is the decode pipeline component.
type Stage struct {
	opts Options
}

var _ pipeline.Component = (*Stage)(nil)

// Run decodes every input batch into one output batch until the input
// ends. Each run has its own Decoder (and fragment table).
func (s *Stage) Run(ctx context.Context, env *pipeline.Env) error {
	bd := batchDecoder{d: NewDecoder(s.opts)}
	c := newCounters(env.Stats())
	logged := map[uint16]bool{}
	for in := range env.Batches() {
		out := env.NewBatch(event.Packet)
		bd.decode(in.Frames, out)
		c.add(&bd, env.Stats())
		if bd.badLink && !logged[bd.badLinkType] && len(logged) < 16 {
			logged[bd.badLinkType] = true
			env.Logger().Warn("frames of an unsupported link type are counted and skipped",
				"link_type", bd.badLinkType, "counter", counterName(UnsupportedLinkType))
		}
		env.Emit(out)
	}
	return nil
}

// batchDecoder decodes batches and tallies outcomes locally, so the
// shared atomic counters are touched once per batch, not per packet.
type batchDecoder struct {
	d           *Decoder
	tally       [numReasons]uint64
	badLink     bool   // an unsupported link type was seen in the last batch
	badLinkType uint16 // the last one seen
}

// decode appends one packet per decodable frame to out.Packets.
func (bd *batchDecoder) decode(frames []event.Frame, out *event.Batch) {
	bd.badLink = false
	// One capacity check per batch; pooled batches keep their capacity,
	// so this allocates only while the pool warms up.
	pk := slices.Grow(out.Packets, len(frames))
	n := len(pk)
	pk = pk[:n+len(frames)]
	for i := range frames {
		r := bd.d.Decode(&frames[i], &pk[n])
		if r == OK {
			n++
			continue
		}
		bd.tally[r]++
		if r == UnsupportedLinkType {
			bd.badLink, bd.badLinkType = true, frames[i].LinkType
		}
	}
	out.Packets = pk[:n]
}

// counters are the stage's named counters, fetched once.
type counters struct {
	reasons   [numReasons]*atomic.Uint64
	fragments *atomic.Uint64
	unmatched *atomic.Uint64
	evictions *atomic.Uint64
	mismatch  *atomic.Uint64
	tunneled  [numTunnels]*atomic.Uint64
	tunErrors *atomic.Uint64
	tunNotIP  *atomic.Uint64
	last      Stats // decoder stats already added
}

func newCounters(st *pipeline.Stats) *counters {
	c := &counters{
		fragments: st.Counter("fragments"),
		unmatched: st.Counter("fragments_unmatched"),
		evictions: st.Counter("fragment_evictions"),
		mismatch:  st.Counter("length_mismatch"),
		tunErrors: st.Counter("tunnel_errors"),
		tunNotIP:  st.Counter("tunnel_not_ip"),
	}
	for k := range numTunnels {
		c.tunneled[k] = st.Counter(tunneledCounter(k))
	}
	for r := OK + 1; r < numReasons; r++ {
		c.reasons[r] = st.Counter(counterName(r))
	}
	return c
}

// add moves the batch decoder's tallies into the shared counters.
func (c *counters) add(bd *batchDecoder, st *pipeline.Stats) {
	var errs uint64
	for r := OK + 1; r < numReasons; r++ {
		n := bd.tally[r]
		if n == 0 {
			continue
		}
		bd.tally[r] = 0
		c.reasons[r].Add(n)
		if r.IsError() {
			errs += n
		}
	}
	if errs > 0 {
		st.Errors.Add(errs)
	}
	s := bd.d.Stats()
	addDelta(c.fragments, s.Fragments, c.last.Fragments)
	addDelta(c.unmatched, s.FragmentsUnmatched, c.last.FragmentsUnmatched)
	addDelta(c.evictions, s.FragmentEvictions, c.last.FragmentEvictions)
	addDelta(c.mismatch, s.LengthMismatch, c.last.LengthMismatch)
	for k := range numTunnels {
		addDelta(c.tunneled[k], s.Tunneled[k], c.last.Tunneled[k])
	}
	addDelta(c.tunErrors, s.TunnelErrors, c.last.TunnelErrors)
	addDelta(c.tunNotIP, s.TunnelNotIP, c.last.TunnelNotIP)
	c.last = s
}

// addDelta adds what a cumulative count gained since it was last seen.
func addDelta(c *atomic.Uint64, now, before uint64) {
	if now > before {
		c.Add(now - before)
	}
}
