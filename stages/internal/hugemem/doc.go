// Package hugemem allocates the large tables of the packet path apart
// from the Go heap, on transparent huge pages, populated up front.
//
// Flow and address tables are read at random, one cache line per
// lookup. In 4 KB pages every lookup also misses the TLB, and every page
// of a table that grows is a page fault at its first touch, which in a
// virtual machine costs a trip to the hypervisor: on the machines nfpipe
// is benchmarked on, touching fresh 4 KB pages cost 17-19 us each, on
// the Go heap as in a plain mapping, and a growing flow table faulted
// thousands of them while the packets waited. Mapped on 2 MB boundaries,
// advised to use huge pages and populated with one madvise call, the
// same memory took 0.3 us per 4 KB.
//
// The elements must hold no pointers: the collector does not scan the
// mappings.
package hugemem
