package filter

import (
	"errors"
	"fmt"
	"time"

	"github.com/expr-lang/expr/vm"

	"github.com/nfpipe/nfpipe/pipeline/event"
)

// rule is a compiled rule: immutable, shared by nothing that runs.
type rule struct {
	name      string
	when      *vm.Program
	key       *vm.Program // nil: the default key
	value     *vm.Program // sum or distinct
	window    time.Duration
	bucket    int64 // window / windowBuckets, in nanoseconds
	agg       aggregate
	threshold float64
	drop      bool
	keep      bool
	tags      []string
	route     bool
	alert     *alertRule
	maxKeys   int
	maxValues int
}

type alertRule struct {
	severity     event.Severity
	message      *template
	repeat       time.Duration
	resolveAfter time.Duration
}

func (r *rule) windowed() bool { return r.window > 0 }

// stateful rules keep per-key state: windows, or alerts to resolve.
func (r *rule) stateful() bool { return r.windowed() || r.alert != nil }

// sweepEvery is how much packet time passes between two checks of a
// rule's keys for resolved alerts and expired windows.
func (r *rule) sweepEvery() time.Duration {
	if r.windowed() {
		return time.Duration(r.bucket)
	}
	return max(r.alert.resolveAfter/windowBuckets, time.Millisecond)
}

// newRule compiles a rule and checks how its fields combine.
func newRule(rc *RuleConfig) (*rule, error) {
	r := &rule{name: rc.Name, drop: rc.Drop, keep: rc.Keep, tags: rc.Tag, route: rc.Route,
		window: rc.For, threshold: rc.Threshold, maxKeys: rc.MaxKeys, maxValues: rc.MaxValues}
	if r.maxKeys <= 0 {
		r.maxKeys = 100000
	}
	if r.maxValues <= 0 {
		r.maxValues = 100000
	}
	if rc.Drop && rc.Keep {
		return nil, errors.New("drop and keep both set; a record is either dropped or kept")
	}
	var err error
	if r.when, err = compile(rc.When, Env{}, asBool); err != nil {
		return nil, fmt.Errorf("when: %w", err)
	}
	if rc.Key != "" {
		if r.key, err = compile(rc.Key, Env{}, asAny); err != nil {
			return nil, fmt.Errorf("key: %w", err)
		}
	}
	switch rc.Aggregate {
	case "", "count":
		r.agg = aggCount
	case "sum":
		r.agg = aggSum
	case "distinct":
		r.agg = aggDistinct
	default:
		return nil, fmt.Errorf("aggregate %q; use count, sum or distinct", rc.Aggregate)
	}
	if rc.For > 0 {
		r.bucket = max(int64(rc.For)/windowBuckets, 1)
		if r.agg != aggCount {
			if rc.Value == "" {
				return nil, fmt.Errorf("aggregate: %s needs value: the expression to %s, e.g. value: flow.server_port", rc.Aggregate, map[aggregate]string{aggSum: "sum", aggDistinct: "count distinctly"}[r.agg])
			}
			want := asAny
			if r.agg == aggSum {
				want = asNumber
			}
			if r.value, err = compile(rc.Value, Env{}, want); err != nil {
				return nil, fmt.Errorf("value: %w", err)
			}
		} else if rc.Value != "" {
			return nil, errors.New("value is only used with aggregate: sum or distinct; remove it or set aggregate")
		}
	} else {
		switch {
		case rc.Aggregate != "" && rc.Aggregate != "count", rc.Value != "":
			return nil, errors.New("aggregate and value need a window; set for, e.g. for: 1m")
		case rc.Threshold != 0:
			return nil, errors.New("threshold needs a window; set for, e.g. for: 1m")
		}
	}
	a := rc.Alert
	switch {
	case a.Message != "":
		sev := a.Severity
		if sev == "" {
			sev = "warning"
		}
		r.alert = &alertRule{severity: event.Severity(sev), repeat: a.RepeatInterval, resolveAfter: a.ResolveAfter}
		if r.alert.message, err = parseTemplate(a.Message); err != nil {
			return nil, fmt.Errorf("alert.message: %w", err)
		}
		if r.alert.resolveAfter <= 0 {
			r.alert.resolveAfter = 5 * time.Minute
		}
	case a.Severity != "":
		return nil, errors.New("alert has a severity but no message; set alert.message, e.g. \"{{ rule }} on {{ subject }}\"")
	}
	if !r.drop && !r.keep && len(r.tags) == 0 && !r.route && r.alert == nil {
		return nil, errors.New("the rule does nothing; give it drop, keep, tag, route or alert")
	}
	return r, nil
}
