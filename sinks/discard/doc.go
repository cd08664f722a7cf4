// Package discard is the discard sink: it counts the events it receives
// and drops them. It terminates pipelines in benchmarks and dry runs, where
// the cost of a real sink would hide the cost of the stages upstream.
package discard
