// Package filter is the filter stage: rules written in expr-lang over
// typed flow, ipstat and alert records keep, drop, tag and route records
// and raise alerts, optionally over windows of packet time (a port scan:
// distinct destination ports per source in 60s above 100) with dedupe,
// repeat intervals and resolved events.
//
// Expressions are compiled once, when the pipeline is checked, against the
// typed environment in env.go; errors point at the line and column inside
// the rule. Evaluation reuses one environment and one VM, and allocates
// nothing for a rule that does not fire.
package filter
