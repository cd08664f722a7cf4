//go:build !purego

package prefetch

import "unsafe"

// Lines asks the processor to start loading the cache line of each
// address and returns at once. The addresses need not be valid for a
// load: a prefetch never faults.
//
//go:noescape
func Lines(addrs []unsafe.Pointer)
