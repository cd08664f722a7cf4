//go:build !amd64 || purego

package sessionize

import "unsafe"

// prefetchSink keeps prefetch's loads from being optimised away.
var prefetchSink byte

// prefetch loads a byte at each address. Unlike a prefetch instruction
// the loads wait for their lines, but they are independent, so their
// misses still overlap.
func prefetch(addrs []unsafe.Pointer) {
	var acc byte
	for _, p := range addrs {
		acc += *(*byte)(p)
	}
	prefetchSink += acc
}
