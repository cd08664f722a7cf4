package filter

import (
	"context"
	"sync/atomic"

	"github.com/nfpipe/nfpipe/pipeline"
	"github.com/nfpipe/nfpipe/pipeline/event"
)

// counters are the stage's published metrics.
type counters struct {
	dropped, routed, tagged                    *atomic.Uint64
	firing, repeated, resolved                 *atomic.Uint64
	keysDropped, valuesDropped, late, evalErrs *atomic.Uint64
	keys                                       *atomic.Int64
}

// outputs collects one input batch's results.
type outputs struct {
	kept, matched, rejected *event.Batch
}

// Run applies the rules to every batch until the input ends. Alerts are
// emitted after the records of the batch that raised them.
func (f *filter) Run(ctx context.Context, env *pipeline.Env) error {
	st := env.Stats()
	c := counters{
		dropped: st.Counter("dropped"), routed: st.Counter("routed"), tagged: st.Counter("tagged"),
		firing: st.Counter("alerts_firing"), repeated: st.Counter("alerts_repeated"), resolved: st.Counter("alerts_resolved"),
		keysDropped: st.Counter("keys_dropped"), valuesDropped: st.Counter("values_dropped"),
		late: st.Counter("late_records"), evalErrs: st.Counter("eval_errors"), keys: st.Gauge("keys"),
	}
	for _, rs := range f.rules {
		rs.matched = st.Counter("matched." + rs.name)
	}
	for b := range env.Batches() {
		f.process(env, b)
		f.emitAlerts(env)
		f.publish(&c)
	}
	return nil
}

// process evaluates one batch and emits its records. The input batch is
// shared and read-only: records are copied into new batches.
func (f *filter) process(env *pipeline.Env, b *event.Batch) {
	o := outputs{kept: env.NewBatch(b.Kind)}
	if env.HasOutput("matched") {
		o.matched = env.NewBatch(b.Kind)
	}
	if env.HasOutput("rejected") {
		o.rejected = env.NewBatch(b.Kind)
	}
	switch b.Kind {
	case event.Flow:
		for i := range b.Flows {
			rec := &b.Flows[i]
			f.advance(event.Flow, rec.LastSeen)
			f.box.env.setFlow(rec)
			v := f.evaluate(&recRef{kind: event.Flow, t: rec.LastSeen, flow: rec})
			c := *rec
			if tags := f.box.env.Flow.Tags; len(tags) != len(rec.Tags) {
				c.Tags = tags
				f.n.tagged++
			}
			to, also := f.targets(v, &o)
			if to != nil {
				to.Flows = append(to.Flows, c)
			}
			if also != nil {
				also.Flows = append(also.Flows, c)
			}
		}
	case event.IPStat:
		for i := range b.IPStats {
			rec := &b.IPStats[i]
			f.advance(event.IPStat, rec.End)
			f.box.env.setIPStat(rec)
			v := f.evaluate(&recRef{kind: event.IPStat, t: rec.End, ipstat: rec})
			to, also := f.targets(v, &o)
			if to != nil {
				to.IPStats = append(to.IPStats, *rec)
			}
			if also != nil {
				also.IPStats = append(also.IPStats, *rec)
			}
		}
	case event.Alert:
		for i := range b.Alerts {
			rec := &b.Alerts[i]
			f.advance(event.Alert, rec.Time)
			f.box.env.setAlert(rec)
			v := f.evaluate(&recRef{kind: event.Alert, t: rec.Time, alert: rec})
			to, also := f.targets(v, &o)
			if to != nil {
				to.Alerts = append(to.Alerts, *rec)
			}
			if also != nil {
				also.Alerts = append(also.Alerts, *rec)
			}
		}
	}
	if o.kept.Kind == event.Alert && o.kept.Len() > 0 {
		o.kept.Retain(1)
		env.EmitTo("alerts", o.kept)
	}
	env.Emit(o.kept)
	if o.matched != nil {
		env.EmitTo("matched", o.matched)
	}
	if o.rejected != nil {
		env.EmitTo("rejected", o.rejected)
	}
}

// targets returns the batches a record goes to: kept or rejected (nil
// when nothing reads rejected), and matched when routed (nil if not, or
// when nothing reads matched).
func (f *filter) targets(v verdict, o *outputs) (to, also *event.Batch) {
	to = o.kept
	if v.drop {
		f.n.dropped++
		to = o.rejected
	}
	if v.route {
		f.n.routed++
		also = o.matched
	}
	return to, also
}

// emitAlerts sends the alerts raised while processing a batch to the
// default output and the alerts output.
func (f *filter) emitAlerts(env *pipeline.Env) {
	if len(f.pending) == 0 {
		return
	}
	b := env.NewBatch(event.Alert)
	b.Alerts = append(b.Alerts, f.pending...)
	clear(f.pending)
	f.pending = f.pending[:0]
	b.Retain(1)
	env.EmitTo("alerts", b)
	env.Emit(b)
}

// publish moves the tally into the atomic counters, once per batch.
func (f *filter) publish(c *counters) {
	n := &f.n
	c.dropped.Add(n.dropped)
	c.routed.Add(n.routed)
	c.tagged.Add(n.tagged)
	c.firing.Add(n.firing)
	c.repeated.Add(n.repeated)
	c.resolved.Add(n.resolved)
	c.keysDropped.Add(n.keysDropped)
	c.valuesDropped.Add(n.valuesDropped)
	c.late.Add(n.late)
	c.evalErrs.Add(n.evalErrs)
	*n = tally{}
	keys := 0
	for _, rs := range f.rules {
		rs.matched.Add(rs.hits)
		rs.hits = 0
		keys += len(rs.keys)
	}
	c.keys.Store(int64(keys))
}

var _ pipeline.Component = (*filter)(nil)
