//go:build pcap

package capture

import (
	"fmt"

	"golang.org/x/sys/unix"
)

func init() { libpcapCompile = compileLibpcap }

// compileLibpcap compiles a filter with libpcap, linked in, for an
// AF_PACKET ring on iface: the same program tcpdump -ddd prints, without
// running tcpdump. It runs in the interface's network namespace.
//
// The program is compiled on a handle activated on the interface (and
// closed at once, before it reads anything), not on a "dead" handle of
// the interface's link type: only a live Linux handle tells libpcap's
// compiler that the kernel moves VLAN tags out of the frame, and so
// makes "vlan" test the kernel's out-of-band tag. A program compiled for
// the link type alone looks for the tag in the frame, where the kernel
// never leaves it.
func compileLibpcap(iface string, snaplen int, expr string) ([]unix.SockFilter, error) {
	// A small buffer: the handle only lives to compile.
	h, err := activatePcap(iface, snaplen, false, 0, 1<<20)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	insns, err := h.CompileBPFFilter(expr)
	if err != nil {
		return nil, err
	}
	if len(insns) == 0 {
		return nil, fmt.Errorf("libpcap compiled an empty program")
	}
	prog := make([]unix.SockFilter, len(insns))
	for i, in := range insns {
		prog[i] = unix.SockFilter{Code: in.Code, Jt: in.Jt, Jf: in.Jf, K: in.K}
	}
	return prog, nil
}
