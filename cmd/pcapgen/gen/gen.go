package gen

import (
	"fmt"
	"math"
)

// startEpoch is the capture's first instant (2025-01-01T00:00:00Z), fixed
// so that the bytes depend only on the Config.
const startEpoch = 1_735_689_600 * 1e9

// Generator produces the frames of a capture in timestamp order, one at a
// time, without allocating.
type Generator struct {
	cfg        Config
	r          rng
	servers    *serverPool
	flows      []flow   // one slot per concurrently open flow
	sched      schedule // slots by the time of their next frame
	started    int      // flows started so far
	unassigned int64    // frames not yet given to a started flow
	meanLife   float64  // mean flow lifetime, ns
	startDelay float64  // mean pause before a freed slot starts a new flow, ns
	t          truthCounters
	fb         frameBuf
}

// New returns a generator for cfg.
func New(cfg Config) (*Generator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid generator config: %w", err)
	}
	conc := min(cfg.Concurrent, cfg.Flows)
	g := &Generator{
		cfg:        cfg,
		r:          newRNG(cfg.Seed),
		servers:    newServerPool(cfg.Seed),
		flows:      make([]flow, conc),
		sched:      make(schedule, conc),
		unassigned: int64(cfg.Packets),
	}
	g.fb.init()
	g.t.init()
	spacing := float64(cfg.spacing())
	// Little's law: conc open flows of Packets/Flows frames each give one
	// frame per spacing when a flow lives conc·(Packets/Flows)·spacing.
	// Tiny flows live only a round trip, which lifeScale (measured) makes
	// up for.
	const lifeScale = 1.4
	g.meanLife = lifeScale * float64(conc) * float64(cfg.Packets) / float64(cfg.Flows) * spacing
	g.startDelay = g.meanLife / 100
	// Start-up ramp: the first flows open four times faster than the
	// steady frame rate, so all conc of them are open together early on.
	ramp := max(1, int64(spacing/4))
	for i := range g.flows {
		t := int64(i)*ramp + g.r.between(0, ramp-1)
		g.startNext(&g.flows[i], t)
		g.sched[i] = slotTime{t: t, slot: uint32(i)}
	}
	g.sched.init()
	return g, nil
}

// startNext puts the next flow into f, to start at t.
func (g *Generator) startNext(f *flow, t int64) {
	left := int64(g.cfg.Flows - g.started) // including this one
	b := g.unassigned
	if left > 1 {
		b = sampleBudget(&g.r, float64(g.unassigned)/float64(left))
		b = max(1, min(b, g.unassigned-(left-1), math.MaxUint32))
	}
	g.unassigned -= b
	g.startFlow(f, uint32(g.started), b, t)
	g.started++
	g.t.flowStarted(f)
}

// Next returns the next frame and its timestamp (ns since the Unix
// epoch); ok is false when the capture is complete. The frame is valid
// until the next call.
func (g *Generator) Next() (ts int64, frame []byte, ok bool) {
	if len(g.sched) == 0 {
		return 0, nil, false
	}
	top := &g.sched[0]
	t := top.t
	f := &g.flows[top.slot]
	s, gap := g.script(f)
	frame = g.fb.build(g.servers, f, &s)
	g.t.frame(f, t, len(frame))
	f.sent++
	if f.sent < f.budget {
		if f.sent == f.closeAt {
			gap = max(gap, f.end-t)
		}
		g.t.gap(gap, f.sent == f.idleAt)
	}
	switch {
	case f.sent < f.budget:
		top.t = t + gap
		g.sched.down(0)
	case g.started < g.cfg.Flows:
		g.t.flowDone(f, t)
		next := t + int64(g.r.exp(g.startDelay))
		g.startNext(f, next)
		top.t = next
		g.sched.down(0)
	default:
		g.t.flowDone(f, t)
		g.sched = g.sched.popRoot()
	}
	return startEpoch + t, frame, true
}

// Truth returns the ground truth of the frames generated so far; after
// Next has returned false it describes the whole capture.
func (g *Generator) Truth() *Truth { return g.t.truth(g.cfg) }
