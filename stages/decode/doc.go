// Package decode is the decode stage: it turns captured frames (raw
// events) into packet summaries (packet events) by reading the link, IP
// and transport headers in place, without allocating.
//
// The Decoder type is usable on its own, for benchmarks and for capture
// workers that decode in the same goroutine as they read.
package decode
