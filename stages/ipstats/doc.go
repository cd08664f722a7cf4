// Package ipstats is the ipstats stage: it folds decoded packets into
// per-IP counters over fixed intervals of packet time (bytes and packets
// in and out, flows started, distinct peers, distinct destination ports)
// and emits one ipstat record per address and interval.
//
// The per-packet path allocates nothing in steady state. Per-interval
// state lives in a slab of records found through an open-addressing
// index keyed by a 16-byte address, and a flow table of 16-byte entries
// keyed by the packet's 5-tuple without direction: an entry holds the
// slab indexes of both addresses and what the tuple has counted, so a
// packet of a tuple already seen in the interval costs one lookup and
// two record updates. The distinct peer and port sets are open-addressing
// sets of 64-bit keys. Every table keeps its memory from one interval to
// the next (the flow table by a generation stamp, the others cleared).
package ipstats
