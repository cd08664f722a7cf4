package sdk

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// Counters are a plugin's own counters: one per metric its Spec declares.
// Process increments them through CountersFrom(ctx); the SDK sends the
// increments with each batch's answer, and nfpipe adds them to the
// stage's counters in its status and metrics, named "plugin.NAME".
//
// Only declared names count. Adding to a name the Spec does not declare
// is a mistake in the plugin: the increment is ignored and the name is
// logged once, at error level, through the plugin's logger (which nfpipe
// shows with the stage's name). It does not fail the batch, because a
// typo in a counter name must not drop or hold back the records of every
// batch (the stage's on_error would apply to all of them).
//
// All methods are safe for concurrent use and take no lock. A nil
// *Counters ignores every call, so a processor called directly, as in a
// plain Go test without WithCounters, needs no counters.
type Counters struct {
	// byName is built once and only read afterwards: lookups need no lock.
	byName map[string]*counter
	names  []string // declared, sorted, for the undeclared-name message
	log    *slog.Logger

	mu     sync.Mutex // guards warned, on the undeclared-name path only
	warned map[string]bool
}

// counter is one declared counter. total only grows; sent is the part
// of it already handed to an answer. Increments are claimed by moving
// sent forward with compare-and-swap, so each increment travels in
// exactly one answer even when several answers are built at once.
type counter struct {
	total, sent atomic.Uint64
}

// maxWarned bounds the undeclared names remembered for logging once: a
// plugin building names at run time must not grow memory without limit.
const maxWarned = 32

// NewCounters returns counters for the given metrics, for testing a
// processor as plain Go: pass WithCounters(ctx, c) to Process, then read
// c.Value. Undeclared names are logged to slog.Default. Serve makes the
// plugin's own set from Spec.Metrics.
func NewCounters(metrics ...Metric) *Counters {
	return newCounters(metrics, slog.Default())
}

func newCounters(metrics []Metric, log *slog.Logger) *Counters {
	c := &Counters{byName: make(map[string]*counter, len(metrics)), log: log}
	for _, m := range metrics {
		if c.byName[m.Name] == nil {
			c.byName[m.Name] = new(counter)
			c.names = append(c.names, m.Name)
		}
	}
	slices.Sort(c.names)
	return c
}

// Add adds n to the counter name, one of the Spec's Metrics.
func (c *Counters) Add(name string, n uint64) {
	if c == nil {
		return
	}
	if k := c.byName[name]; k != nil {
		k.total.Add(n)
		return
	}
	c.undeclared(name)
}

// Value is the total added to the counter name by this process (0 for an
// undeclared name). nfpipe's figure can be larger: it keeps counting
// across restarts of the plugin.
func (c *Counters) Value(name string) uint64 {
	if c == nil {
		return 0
	}
	if k := c.byName[name]; k != nil {
		return k.total.Load()
	}
	return 0
}

func (c *Counters) undeclared(name string) {
	c.mu.Lock()
	if c.warned == nil {
		c.warned = map[string]bool{}
	}
	first := !c.warned[name] && len(c.warned) < maxWarned
	if first {
		c.warned[name] = true
	}
	c.mu.Unlock()
	if !first {
		return
	}
	declared := "none"
	if len(c.names) > 0 {
		declared = strings.Join(c.names, ", ")
	}
	c.log.Error("counter not declared; its increments are ignored: add it to the spec's Metrics or fix the name",
		"counter", name, "declared", declared)
}

// take claims what was added since the last take, by name; nil when
// nothing was.
func (c *Counters) take() map[string]uint64 {
	var out map[string]uint64
	for name, k := range c.byName {
		for {
			// sent first: it never passes a total already read, so
			// total >= sent below and the difference cannot wrap.
			sent := k.sent.Load()
			total := k.total.Load()
			if total == sent {
				break
			}
			if k.sent.CompareAndSwap(sent, total) {
				if out == nil {
					out = make(map[string]uint64, len(c.byName))
				}
				out[name] = total - sent
				break
			}
		}
	}
	return out
}

type countersKey struct{}

// WithCounters returns a context carrying c, for CountersFrom. The SDK
// calls Process with such a context; tests of a processor make their own.
func WithCounters(ctx context.Context, c *Counters) context.Context {
	return context.WithValue(ctx, countersKey{}, c)
}

// CountersFrom returns the plugin's counters from the context Process was
// called with; nil (which ignores every call) for a context without them.
// The result may be kept and used outside Process: increments made
// between batches travel with the next answer.
func CountersFrom(ctx context.Context) *Counters {
	c, _ := ctx.Value(countersKey{}).(*Counters)
	return c
}
