package filter

import (
	"fmt"
	"reflect"
	"strings"
)

// description is the stage's documentation, with the expression
// environment listed from the Env struct so the two cannot drift.
func description() string {
	return `
Each record (flow, ipstat or alert) goes through the rules in order. A rule
whose when expression is true acts: tag adds tags to a flow, route sends the
record to the matched output as well, alert raises an alert, and drop or
keep decides the record's fate and ends the evaluation (later rules do not
see the record). A record no drop or keep rule decided follows default.
Kept records go to the default output, dropped ones to rejected.

Windowed rules. With for: D, a rule counts the records its when matches per
key (key: an expression, e.g. flow.client_ip) over a sliding window of D in
packet time, cut into 12 slices (a 60s window slides in 5s steps). aggregate
says what is measured: count (records), sum (of value) or distinct (distinct
values of value). The rule acts on a record, and its alert fires, while the
key's aggregate is above threshold. Port scan: when: flow.proto == "tcp",
key: flow.client_ip, aggregate: distinct, value: flow.server_port, for: 60s,
threshold: 100. Time is packet time: a record's time is a flow's last_seen,
an ipstat's end or an alert's time, so a replay raises the same alerts as
the live capture did. Each kind of record keeps its own clock (the latest
time seen), because flows and ipstats come from different stages whose
batches interleave in any order; windows never mix kinds. A record older
than its window when it arrives (typically a flow ended by the idle timeout,
reported long after its last packet) is counted in the window's oldest
slice, and in late_records.

Alerts. An alert is about one key of one rule; its dedupe key is rule/subject,
where the subject is the key as text (the rule's name for a rule without key;
for a rule without for and without key, the flow's 5-tuple, the ipstat's
address or the alert's dedupe key). A firing event is sent when the
condition starts to hold, again every repeat_interval while it holds, and a
resolved event when it stops: for a windowed rule when the aggregate is no
longer above threshold, checked every slice of packet time; for a rule
without for when no record matched its key for resolve_after. Each event has
its own id (stable across replays of the same input), the message rendered
from its template, labels with the window's aggregate, value, threshold,
window and since, and (when firing) a copy of the record that fired it.
Alerts are emitted after the records of the batch that raised them, on the
default output and on the alerts output. Nothing is resolved when the input
ends; state is not kept across restarts.

Outputs. The default output carries kept records and every alert; alerts
carries only alerts (kept alert records included); matched carries records
of rules with route: true; rejected carries dropped records. Read a named
output as inputs: [stage.alerts].

Expressions are expr-lang (github.com/expr-lang/expr): comparison, boolean and
arithmetic operators, in, matches, contains, startsWith, len, ... They are
compiled when the pipeline is checked; an error names the line and column
inside the expression. Helpers: cidr("10.0.0.0/8"), ip("192.0.2.1"),
in_cidr(addr, "10.0.0.0/8", "fd00::/8"), addr in cidr("10.0.0.0/8"),
addr in ["192.0.2.1", "10.0.0.0/8"], addr == "192.0.2.1",
port_in(port, 22, "8000-8999", "80,443"). Constant arguments are parsed once
at compile time. Message templates put expressions in {{ }}: besides the
record they see rule, severity, subject, key, value, threshold and window.
An expression that fails at run time (an index out of range, say) counts in
eval_errors and does not match.

The environment (fields are zero when the record is of another kind):

` + envDoc() + `
Memory is bounded: each rule tracks at most max_keys keys (keys_dropped
counts the rest) and each window at most max_values distinct values. Keys
whose window emptied and whose alert is not firing are forgotten. The stage
runs on one goroutine. In steady state evaluating rules, windows included,
allocates nothing; tagging a flow and raising an alert do.`
}

// envDoc lists the expression environment, one field per line.
func envDoc() string {
	var b strings.Builder
	var walk func(prefix string, t reflect.Type)
	walk = func(prefix string, t reflect.Type) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if f.Anonymous {
				continue // the helpers, documented above
			}
			name := prefix + f.Tag.Get("expr")
			if f.Type.Kind() == reflect.Struct && f.Type.PkgPath() == t.PkgPath() {
				walk(name+".", f.Type)
				continue
			}
			fmt.Fprintf(&b, "    %-22s %-8s %s\n", name, typeName(f.Type), f.Tag.Get("doc"))
		}
	}
	walk("", reflect.TypeOf(Env{}))
	return b.String()
}

func typeName(t reflect.Type) string {
	switch t.String() {
	case "netip.Addr":
		return "address"
	case "time.Time":
		return "time"
	case "[]string":
		return "list"
	case "map[string]string":
		return "map"
	case "float64":
		return "float"
	}
	return t.String()
}
