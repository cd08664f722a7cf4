// Package prefetch starts loading cache lines without waiting for them.
//
// The flow and address tables of the packet path are larger than the
// processor's caches, so a packet's cost is mostly waiting for its table
// entries to come from memory. A stage that computes the addresses a
// group of packets will touch and prefetches them all before it works on
// the group has those waits overlap, instead of following one another.
// Go has no prefetch intrinsic, so amd64 uses a few lines of assembly
// (PREFETCHT0); elsewhere independent plain loads stand in, whose misses
// also overlap but which hold up the instructions after them.
package prefetch
