//go:build !linux

package ipstats

// makeTable returns n zeroed elements; huge pages are used on Linux only
// (see hugemem_linux.go).
func makeTable[T any](n int) []T { return make([]T, n) }

// freeTable releases a table from makeTable.
func freeTable[T any](s []T) {}
