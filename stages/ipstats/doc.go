// Package ipstats is the ipstats stage: it folds decoded packets into
// per-IP counters over fixed intervals of packet time (bytes and packets
// in and out, flows started, distinct peers, distinct destination ports)
// and emits one ipstat record per address and interval.
//
// The per-packet path allocates nothing in steady state. Per-interval
// state lives in a slab of records indexed by a map keyed by a 16-byte
// address; the distinct sets are maps cleared (not reallocated) at every
// interval; and a small direct-mapped cache keyed by the packet's 5-tuple
// lets most packets of a known flow update both records without any map
// lookup.
package ipstats
