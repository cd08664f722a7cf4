// Package gen generates deterministic synthetic packet captures for
// benchmarks and tests: a classic pcap file of Ethernet frames whose
// traffic model (flow mix, sizes, timing, concurrency) is fixed by a seed,
// together with the ground truth (flows, packets and bytes by protocol) a
// test or benchmark can assert.
//
// The traffic model: IMIX-like frame sizes (64, 594 and 1518 bytes in a
// roughly 7:4:1 mix), TCP flows with a three-way handshake, data both ways
// and a FIN/FIN or RST close (some refused with an RST), UDP flows (short
// DNS-like exchanges and longer streams), ICMP echo, about 20% IPv6 and
// about 10% 802.1Q-tagged flows. A fixed number of flows is open at once;
// a few flows pause for longer than typical idle timeouts. Timestamps are
// monotonic, about one microsecond apart on average, with bursts.
//
// Every flow has a distinct key (protocol, both endpoints, VLAN), so the
// number of flows in the truth is exactly what a sessionizer without
// timeouts reports. Generation allocates nothing per packet.
package gen
