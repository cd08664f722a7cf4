package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nfpipe/nfpipe/pipeline/config"
	"github.com/nfpipe/nfpipe/pipeline/event"
	"github.com/nfpipe/nfpipe/pipeline/spec"
)

// controller is the pause switch of sources.
type controller struct {
	mu     sync.Mutex
	paused bool
	resume chan struct{} // closed on resume
}

func newController() *controller { return &controller{resume: make(chan struct{})} }

func (c *controller) Paused() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.paused
}

func (c *controller) pause() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.paused {
		c.paused = true
		c.resume = make(chan struct{})
	}
}

func (c *controller) unpause() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.paused {
		c.paused = false
		close(c.resume)
	}
}

func (c *controller) waitResumed(ctx context.Context) error {
	c.mu.Lock()
	paused, ch := c.paused, c.resume
	c.mu.Unlock()
	if !paused {
		return nil
	}
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Pipeline is a built pipeline: components constructed, queues sized.
type Pipeline struct {
	plan    *Plan
	log     *slog.Logger
	ctl     *controller
	events  *eventLog
	pools   *pools
	started atomic.Int64 // unix nanoseconds; Status may read it while Run starts
	running atomic.Bool

	stopOnce  sync.Once
	closeOnce sync.Once
	stopSrc   context.CancelFunc // graceful: sources stop, the rest drains
	kill      context.CancelFunc // forced: everything stops now
	srcCtx    context.Context
	hardCtx   context.Context
}

// Load reads, checks and builds a pipeline file.
func Load(path string, opts ...Option) (*Pipeline, spec.Errors) {
	cfg, errs := config.Load(path)
	if len(errs.Fatal()) > 0 {
		return nil, errs
	}
	return FromConfig(cfg, opts...)
}

// FromConfig checks and builds a parsed config.
func FromConfig(cfg *config.Config, opts ...Option) (*Pipeline, spec.Errors) {
	plan, errs := Check(cfg, opts...)
	if plan == nil {
		return nil, errs
	}
	p, err := Build(plan, opts...)
	if err != nil {
		return nil, append(errs, err...)
	}
	return p, errs
}

// Build constructs every component of a checked plan. Constructor errors
// are reported at the component's type line.
func Build(plan *Plan, opts ...Option) (*Pipeline, spec.Errors) {
	o := makeOptions(opts)
	p := &Pipeline{plan: plan, log: o.logger, ctl: newController(), pools: newPools(), events: newEventLog()}
	p.hardCtx, p.kill = context.WithCancel(context.Background())
	p.srcCtx, p.stopSrc = context.WithCancel(p.hardCtx)
	var errs spec.Errors
	lookup := func(name string) (Component, bool) {
		n := plan.byName[name]
		if n == nil || n.comp == nil {
			return nil, false
		}
		return n.comp, true
	}
	for _, n := range plan.nodes {
		n.stats = newStats()
		bc := &BuildContext{
			Name:    n.name(),
			Dir:     plan.Config.Dir,
			Logger:  o.logger.With("component", n.name()),
			Lookup:  lookup,
			Control: p,
		}
		n.instances = nil
		for i := 0; i < n.shards; i++ {
			comp, err := n.reg.Build(n.cfg, bc)
			if err != nil {
				errs = append(errs, constructorErrors(plan.Config.File, n, err)...)
				break
			}
			n.instances = append(n.instances, comp)
		}
		if len(n.instances) > 0 {
			n.comp = n.instances[0]
		}
	}
	if len(errs) > 0 {
		p.closeAll()
		errs.Sort()
		return nil, errs
	}
	// Wire queues: each consumer owns one input channel; producers hold an
	// edge per consumer and output.
	for _, n := range plan.nodes {
		n.outs = map[string][]*edge{}
		n.ins = nil
		if !n.isSource() {
			for range n.instances {
				n.ins = append(n.ins, make(chan *event.Batch, n.buffer.MaxBatches))
			}
			n.pendingUps = int32(len(n.upstream))
		}
	}
	for _, n := range plan.nodes {
		for _, in := range n.inputs {
			up := plan.byName[in.Component]
			up.outs[in.Output] = append(up.outs[in.Output], &edge{
				to:       n,
				accepts:  n.reg.Spec.Accepts,
				dropNew:  n.buffer.WhenFull == "drop_newest",
				consumer: n.stats,
			})
		}
	}
	return p, nil
}

// constructorErrors positions a constructor's error: field errors at the
// field's value, anything else at the component's type.
func constructorErrors(file string, n *node, err error) spec.Errors {
	var fe *spec.FieldError
	var fes spec.FieldErrors
	if errors.As(err, &fe) || errors.As(err, &fes) {
		d := &spec.Decoder{File: file}
		d.Blame(err, n.decl.Node, n.decl.Path)
		return d.Errs
	}
	return spec.Errors{posErr(file, n.decl.TypeNode, n.decl.Path, err.Error())}
}

// Close releases what the components' constructors opened. Run calls it
// when it returns; call it yourself for a pipeline built but never run.
func (p *Pipeline) Close() { p.closeAll() }

func (p *Pipeline) closeAll() {
	p.closeOnce.Do(p.closeComponents)
}

func (p *Pipeline) closeComponents() {
	for _, n := range p.plan.nodes {
		for _, comp := range n.instances {
			if c, ok := comp.(io.Closer); ok {
				if err := c.Close(); err != nil {
					p.log.Warn("close failed", "component", n.name(), "err", err)
				}
			}
		}
	}
}

// Warnings are the non-fatal findings of the check.
func (p *Pipeline) Warnings() spec.Errors { return p.plan.Warnings }

// Component returns a built component by name.
func (p *Pipeline) Component(name string) (Component, bool) {
	n := p.plan.byName[name]
	if n == nil || n.comp == nil {
		return nil, false
	}
	return n.comp, true
}

// Run starts sinks, then stages, then sources, and returns when every
// component has finished: after sources end (their input is exhausted, or
// Stop was called) and everything downstream has drained. ctx ending is
// the same as Stop.
func (p *Pipeline) Run(ctx context.Context) error {
	p.started.Store(time.Now().UnixNano())
	p.running.Store(true)
	defer p.running.Store(false)
	p.RecordEvent(SystemEvent{Kind: "started", Message: fmt.Sprintf("pipeline %s started with %d components", p.plan.Config.File, len(p.plan.nodes))})
	stopWatch := context.AfterFunc(ctx, p.Stop)
	defer stopWatch()

	var wg sync.WaitGroup
	errs := make([]error, len(p.plan.nodes))
	// Reverse topological order: consumers are ready before producers.
	for i := len(p.plan.nodes) - 1; i >= 0; i-- {
		n := p.plan.nodes[i]
		runCtx := p.hardCtx
		if n.isSource() {
			runCtx = p.srcCtx
		}
		wg.Add(1)
		go func(i int, n *node) {
			defer wg.Done()
			errs[i] = p.runNode(runCtx, n)
		}(i, n)
	}
	wg.Wait()
	err := errors.Join(errs...)
	msg := "pipeline stopped"
	if err != nil {
		msg = "pipeline stopped with errors: " + err.Error()
	}
	p.RecordEvent(SystemEvent{Kind: "stopped", Message: msg})
	p.closeAll()
	return err
}

// runNode runs every instance of a component, then tells its consumers
// that it is done.
func (p *Pipeline) runNode(ctx context.Context, n *node) error {
	errs := make([]error, len(n.instances))
	var wg sync.WaitGroup
	for i, comp := range n.instances {
		env := &Env{
			name:  n.name(),
			log:   p.log.With("component", n.name()),
			stats: n.stats,
			outs:  n.outs,
			pools: p.pools,
			ctl:   p.ctl,
			hard:  p.hardCtx,
			shard: -1,
		}
		if n.ins != nil {
			env.in = n.ins[i]
		}
		if len(n.instances) > 1 {
			env.shard = i
			env.log = env.log.With("shard", i)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = p.runInstance(ctx, n, comp, env)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		n.stats.SetHealth(Unhealthy, err.Error())
	} else {
		n.stats.SetHealth(Stopped, "")
	}
	done := map[*node]bool{}
	for _, edges := range n.outs {
		for _, ed := range edges {
			if !done[ed.to] {
				done[ed.to] = true
				if atomic.AddInt32(&ed.to.pendingUps, -1) == 0 {
					for _, ch := range ed.to.ins {
						close(ch)
					}
				}
			}
		}
	}
	return errors.Join(errs...)
}

func (p *Pipeline) runInstance(ctx context.Context, n *node, comp Component, env *Env) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
			p.log.Error("component panicked", "component", n.name(), "panic", r)
		}
		if err != nil && !errors.Is(err, context.Canceled) {
			n.stats.Errors.Add(1)
			p.log.Error("component failed", "component", n.name(), "err", err)
			p.RecordEvent(SystemEvent{Kind: "error", Component: n.name(), Message: err.Error()})
			err = fmt.Errorf("%s: %w", n.name(), err)
		} else {
			err = nil
		}
		// Whatever happened, keep upstream from blocking on us.
		if env.in != nil {
			for b := range env.in {
				b.Release()
			}
		}
	}()
	return comp.Run(ctx, env)
}

// Stop asks sources to stop; everything in flight drains to the sinks and
// Run returns. Safe to call more than once.
func (p *Pipeline) Stop() {
	p.stopOnce.Do(func() {
		p.ctl.unpause() // a paused source must wake up to stop
		p.stopSrc()
	})
}

// Kill stops everything at once without draining.
func (p *Pipeline) Kill() {
	p.Stop()
	p.kill()
}

// Pause pauses the sources (stop-monitoring); counters are kept.
func (p *Pipeline) Pause() {
	if !p.ctl.Paused() {
		p.ctl.pause()
		p.RecordEvent(SystemEvent{Kind: "paused", Message: "monitoring paused"})
	}
}

// Resume resumes paused sources.
func (p *Pipeline) Resume() {
	if p.ctl.Paused() {
		p.ctl.unpause()
		p.RecordEvent(SystemEvent{Kind: "resumed", Message: "monitoring resumed"})
	}
}

// RecordEvent logs a system event and hands it to subscribers.
func (p *Pipeline) RecordEvent(e SystemEvent) { p.events.record(e) }

// Events returns the most recent system events, oldest first.
func (p *Pipeline) Events() []SystemEvent { return p.events.list() }

// SubscribeEvents calls f for every later system event.
func (p *Pipeline) SubscribeEvents(f func(SystemEvent)) func() { return p.events.subscribe(f) }

// Paused reports whether the sources are paused.
func (p *Pipeline) Paused() bool { return p.ctl.Paused() }

// Status returns a snapshot of every component.
func (p *Pipeline) Status() Status {
	st := Status{Running: p.running.Load(), Paused: p.ctl.Paused()}
	if ns := p.started.Load(); ns != 0 {
		st.Started = time.Unix(0, ns)
	}
	for _, n := range p.plan.nodes {
		cs := n.stats.snapshot()
		cs.Name, cs.Type, cs.Role = n.name(), n.reg.Spec.Name, string(n.decl.Role)
		if n.reg.Spec.Source {
			cs.Role = "source"
		}
		for _, in := range n.inputs {
			cs.Inputs = append(cs.Inputs, in.String())
		}
		for _, ch := range n.ins {
			cs.QueueDepth += len(ch)
			cs.QueueCap += cap(ch)
		}
		st.Components = append(st.Components, cs)
	}
	return st
}
