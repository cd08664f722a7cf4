//go:build !amd64 || purego

package prefetch

import "unsafe"

// sink keeps the loads of Lines from being optimised away.
var sink byte

// Lines loads a byte at each address. Unlike a prefetch instruction the
// loads wait for their lines, but they are independent, so their misses
// still overlap. Unlike the amd64 version, every address must be valid.
func Lines(addrs []unsafe.Pointer) {
	var acc byte
	for _, p := range addrs {
		acc += *(*byte)(p)
	}
	sink += acc
}
