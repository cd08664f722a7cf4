package capture

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// libpcapCompile compiles a filter with libpcap for a live interface. It
// is set by builds with -tags pcap (libpcap_bpf_linux.go) and nil
// otherwise.
var libpcapCompile func(iface string, snaplen int, expr string) ([]unix.SockFilter, error)

// compileFilter compiles a tcpdump filter expression into a classic BPF
// program for an AF_PACKET socket on iface (which must exist and, like
// the capture, needs CAP_NET_RAW). It must run in the interface's
// network namespace.
//
// Only libpcap compiles tcpdump's language correctly (the pure-Go
// compilers get portrange, vlan and "ip6 and tcp" wrong). A live Linux
// handle also makes libpcap emit the kernel's out-of-band VLAN loads,
// which a program compiled for a file cannot match. So: libpcap itself
// when linked in, else tcpdump -ddd on the interface, which is libpcap
// behind a stable text format.
//
// An empty expression gives a program that accepts every packet, cut to
// snaplen.
func compileFilter(expr, iface string, snaplen int) ([]unix.SockFilter, error) {
	if strings.TrimSpace(expr) == "" {
		return []unix.SockFilter{{Code: unix.BPF_RET | unix.BPF_K, K: uint32(snaplen)}}, nil
	}
	if libpcapCompile != nil {
		prog, err := libpcapCompile(iface, snaplen, expr)
		if err != nil {
			return nil, fmt.Errorf("bpf %q: %w", expr, err)
		}
		return prog, nil
	}
	tcpdump, err := findTcpdump()
	if err != nil {
		return nil, fmt.Errorf("bpf %q: compiling a filter needs tcpdump (apt-get install tcpdump) or an nfpipe built with -tags pcap", expr)
	}
	cmd := exec.Command(tcpdump, "-i", iface, "-s", strconv.Itoa(snaplen), "-ddd", "--", expr)
	if caps := ambientCaps(); len(caps) > 0 {
		// A non-root nfpipe given CAP_NET_RAW hands it to tcpdump, which
		// opens the interface to learn how to compile for it.
		cmd.SysProcAttr = &syscall.SysProcAttr{AmbientCaps: caps}
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		msg = strings.TrimPrefix(msg, "tcpdump: ")
		if msg == "" {
			msg = err.Error()
		}
		return nil, fmt.Errorf("bpf %q: %s", expr, msg)
	}
	prog, err := parseDDD(out)
	if err != nil {
		return nil, fmt.Errorf("bpf %q: reading tcpdump -ddd output: %w", expr, err)
	}
	return prog, nil
}

// findTcpdump looks on PATH and in the sbin directories a user's PATH
// often lacks.
func findTcpdump() (string, error) {
	if p, err := exec.LookPath("tcpdump"); err == nil {
		return p, nil
	}
	for _, p := range []string{"/usr/sbin/tcpdump", "/usr/bin/tcpdump", "/sbin/tcpdump", "/usr/local/sbin/tcpdump"} {
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", errors.New("tcpdump not found")
}

// parseDDD reads tcpdump -ddd output: the instruction count, then one
// "code jt jf k" line per instruction, all decimal.
func parseDDD(out []byte) ([]unix.SockFilter, error) {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	n, err := strconv.Atoi(strings.TrimSpace(lines[0]))
	if err != nil || n <= 0 || n > 4096 || len(lines) != n+1 {
		return nil, fmt.Errorf("unexpected header %q for %d lines", lines[0], len(lines)-1)
	}
	prog := make([]unix.SockFilter, n)
	for i, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) != 4 {
			return nil, fmt.Errorf("line %d: %q", i+2, l)
		}
		var v [4]uint64
		for j, s := range f {
			if v[j], err = strconv.ParseUint(s, 10, 32); err != nil {
				return nil, fmt.Errorf("line %d: %q", i+2, l)
			}
		}
		if v[1] > 255 || v[2] > 255 || v[0] > 0xffff {
			return nil, fmt.Errorf("line %d: %q", i+2, l)
		}
		prog[i] = unix.SockFilter{Code: uint16(v[0]), Jt: uint8(v[1]), Jf: uint8(v[2]), K: uint32(v[3])}
	}
	return prog, nil
}
