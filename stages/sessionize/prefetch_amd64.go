//go:build !purego

package sessionize

import "unsafe"

// prefetch asks the processor to start loading the cache line of each
// address and returns at once. Go has no prefetch; a plain load would
// hold up the instructions after it until its line arrived.
//
//go:noescape
func prefetch(addrs []unsafe.Pointer)
