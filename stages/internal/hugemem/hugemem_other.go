//go:build !linux

package hugemem

// Make returns n zeroed elements; tables are mapped apart from the heap
// on Linux only (see hugemem_linux.go).
func Make[T any](n int) []T { return make([]T, n) }

// Free releases a table from Make.
func Free[T any](s []T) {}

// Populated returns the bytes Make holds apart from the Go heap: none
// outside Linux.
func Populated() uint64 { return 0 }
