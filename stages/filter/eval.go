package filter

import (
	"log/slog"
	"slices"

	"github.com/expr-lang/expr/vm"

	"github.com/nfpipe/nfpipe/pipeline/event"
)

// filter is the running stage's state. It is used by one goroutine.
type filter struct {
	rules       []*ruleState
	dropDefault bool
	log         *slog.Logger
	box         *envBox
	vm          vm.VM
	// now is the latest packet time seen, per record kind. Flows and
	// ipstats come from different stages whose batches interleave in any
	// order, so each kind keeps its own clock: an ipstat interval that
	// arrives first must not make the flows of the same minutes late.
	now     [8]event.Time
	pending []event.AlertRec
	n       tally
}

// tally counts what happened since the counters were last published.
type tally struct {
	dropped, routed, tagged                    uint64
	firing, repeated, resolved                 uint64
	keysDropped, valuesDropped, late, evalErrs uint64
}

// recRef is the record being evaluated.
type recRef struct {
	kind   event.Kind
	t      event.Time
	flow   *event.FlowRec
	ipstat *event.IPStatRec
	alert  *event.AlertRec
}

// verdict is what the rules decided for a record.
type verdict struct {
	drop, route bool
}

func newFilter(rules []*rule, dropDefault bool, log *slog.Logger) *filter {
	f := &filter{dropDefault: dropDefault, log: log, box: newEnvBox()}
	for _, r := range rules {
		f.rules = append(f.rules, newRuleState(r))
	}
	return f
}

// advance moves the packet time of a kind of records forward to t and
// runs the sweeps that are due, which resolve alerts whose condition
// cleared.
func (f *filter) advance(k event.Kind, t event.Time) {
	if t <= f.now[k] {
		return
	}
	f.now[k] = t
	for _, rs := range f.rules {
		if rs.sweepDue(k, t) {
			f.sweep(rs, k)
		}
	}
}

// evaluate applies the rules, in order, to the record in f.box.env.
func (f *filter) evaluate(rec *recRef) verdict {
	var v verdict
	env := &f.box.env
	for _, rs := range f.rules {
		if !f.test(rs) {
			continue
		}
		raised := len(f.pending)
		switch {
		case rs.windowed():
			if !f.observeWindow(rs, rec) {
				continue
			}
		case rs.alert != nil:
			f.observeMatch(rs, rec)
		}
		rs.hits++
		if len(rs.tags) > 0 && rec.kind == event.Flow {
			if t := mergeTags(env.Flow.Tags, rs.tags); len(t) != len(env.Flow.Tags) {
				env.Flow.Tags = t
				// The copy in an alert this rule just raised shows the
				// rule's own tags too.
				for i := raised; i < len(f.pending); i++ {
					if fl := f.pending[i].Flow; fl != nil {
						fl.Tags = t
					}
				}
			}
		}
		v.route = v.route || rs.route
		if rs.drop {
			v.drop = true
			return v
		}
		if rs.keep {
			return v
		}
	}
	v.drop = f.dropDefault
	return v
}

// test evaluates the rule's when; a run-time error counts as no match.
func (f *filter) test(rs *ruleState) bool {
	out, err := f.vm.Run(rs.when, f.box.val)
	if err != nil {
		f.evalError(rs, err)
		return false
	}
	b, _ := out.(bool)
	return b
}

func (f *filter) run(rs *ruleState, p *vm.Program) (any, bool) {
	out, err := f.vm.Run(p, f.box.val)
	if err != nil {
		f.evalError(rs, err)
		return nil, false
	}
	return out, true
}

func (f *filter) evalError(rs *ruleState, err error) {
	f.n.evalErrs++
	if !rs.errLogged {
		rs.errLogged = true
		f.log.Warn("rule failed to evaluate; it does not match such records (logged once per rule)", "rule", rs.name, "err", err)
	}
}

// keyFor returns the record's key for the rule.
func (f *filter) keyFor(rs *ruleState, rec *recRef) (stateKey, bool) {
	var k stateKey
	ok := true
	switch {
	case rs.key != nil:
		var out any
		out, ok = f.run(rs, rs.key)
		k = keyOf(out)
	case rs.windowed():
		// one window for the whole rule
	case rec.kind == event.Flow:
		k = flowKey(rec.flow)
	case rec.kind == event.IPStat:
		k = stateKey{t: kAddr, a: rec.ipstat.IP.Unmap()}
	default:
		k = stateKey{t: kString, s: rec.alert.DedupKey}
	}
	k.kind = rec.kind
	return k, ok
}

// observeWindow counts a matching record in its key's window and reports
// whether the window is above the threshold.
func (f *filter) observeWindow(rs *ruleState, rec *recRef) bool {
	k, ok := f.keyFor(rs, rec)
	if !ok {
		return false
	}
	var amount float64
	var val *stateKey
	var vk stateKey
	switch rs.agg {
	case aggSum:
		out, ok := f.run(rs, rs.value)
		if !ok {
			return false
		}
		amount = toFloat(out)
	case aggDistinct:
		out, ok := f.run(rs, rs.value)
		if !ok {
			return false
		}
		vk = keyOf(out)
		val = &vk
	}
	ks := rs.state(k)
	if ks == nil {
		f.n.keysDropped++
		return false
	}
	now, idx := rs.slice(f.now[rec.kind]), rs.slice(rec.t)
	ks.w.advance(now)
	if idx <= now-windowBuckets {
		// A record older than the window: typically a flow ended by the
		// idle timeout, reported long after its last packet (a SYN to a
		// port that never answers). It is counted in the oldest slice, so
		// such flows still add up, at the time they are reported.
		f.n.late++
		idx = now - windowBuckets + 1
	}
	if !ks.w.add(idx, amount, val, rs.maxValues) {
		f.n.valuesDropped++
	}
	agg := ks.w.value(now, rs.agg)
	over := agg > rs.threshold
	if rs.alert != nil {
		ks.alert.value = agg
		if over {
			f.fire(rs, ks, k, rec, agg)
		}
	}
	return over
}

// observeMatch keeps the alert of a rule without a window firing.
func (f *filter) observeMatch(rs *ruleState, rec *recRef) {
	k, ok := f.keyFor(rs, rec)
	if !ok {
		return
	}
	ks := rs.state(k)
	if ks == nil {
		f.n.keysDropped++
		return
	}
	ks.lastMatch = f.now[rec.kind]
	f.fire(rs, ks, k, rec, 0)
}

// sweep resolves the alerts of a kind's keys whose condition cleared and
// forgets keys with nothing left to remember.
func (f *filter) sweep(rs *ruleState, kind event.Kind) {
	start := len(f.pending)
	if rs.windowed() {
		now := rs.slice(f.now[kind])
		for k, ks := range rs.keys {
			if k.kind != kind {
				continue
			}
			v := ks.w.value(now, rs.agg)
			if ks.alert.firing && v <= rs.threshold {
				f.resolve(rs, ks, kind, v)
			}
			if !ks.alert.firing && !ks.w.live(now) {
				rs.forget(k, ks)
				continue
			}
			ks.w.prune(now)
		}
	} else {
		for k, ks := range rs.keys {
			if k.kind == kind && f.now[kind]-ks.lastMatch >= event.Time(rs.alert.resolveAfter) {
				if ks.alert.firing {
					f.resolve(rs, ks, kind, 0)
				}
				rs.forget(k, ks)
			}
		}
	}
	// Map order is random; sort what this sweep resolved so a replay
	// gives the same output every time.
	slices.SortFunc(f.pending[start:], func(a, b event.AlertRec) int {
		switch {
		case a.DedupKey < b.DedupKey:
			return -1
		case a.DedupKey > b.DedupKey:
			return 1
		}
		return 0
	})
	rs.scheduleSweep(kind, f.now[kind])
}

// mergeTags returns have plus the tags of add it lacks, as a new slice
// when anything is added: tag slices are shared read-only between
// records and are never appended to in place.
func mergeTags(have, add []string) []string {
	missing := 0
	for _, t := range add {
		if !slices.Contains(have, t) {
			missing++
		}
	}
	if missing == 0 {
		return have
	}
	out := make([]string, len(have), len(have)+missing)
	copy(out, have)
	for _, t := range add {
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

// toFloat converts a summed value; a value that is not a number counts 0.
func toFloat(v any) float64 {
	switch x := v.(type) {
	case float64:
		return x
	case int:
		return float64(x)
	case int64:
		return float64(x)
	case uint64:
		return float64(x)
	case int32:
		return float64(x)
	case uint32:
		return float64(x)
	case uint16:
		return float64(x)
	case uint8:
		return float64(x)
	case float32:
		return float64(x)
	}
	return 0
}
