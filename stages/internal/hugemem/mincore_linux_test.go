package hugemem

import (
	"syscall"
	"unsafe"
)

// mincore reports in vec which pages of b are resident (bit 0 of each).
func mincore(b []byte, vec []byte) error {
	_, _, e := syscall.Syscall(syscall.SYS_MINCORE, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), uintptr(unsafe.Pointer(&vec[0])))
	if e != 0 {
		return e
	}
	return nil
}
