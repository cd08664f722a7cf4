package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/nfpipe/nfpipe/stages/capture"
)

// doctorOptions are what the checks look at.
type doctorOptions struct {
	iface   string
	dataDir string
	listen  string
	geoip   string
}

// checkResult is one line of the doctor's report.
type checkResult struct {
	name   string
	status string // ok, warn, fail
	detail string
	fix    string // the exact command or change that fixes a failure
}

func newDoctorCmd() *cobra.Command {
	o := &doctorOptions{}
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check this machine for live capture: kernel, capabilities, interface, libpcap, data directory, port, geo database",
		Long: `Check what live capture and the default sinks need, and print the exact fix
for each failed check. Exits 1 when a check fails (warnings do not).`,
		Aliases: []string{"check-deps"},
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDoctor(cmd.OutOrStdout(), o)
		},
	}
	cmd.Flags().StringVarP(&o.iface, "interface", "i", capture.DefaultInterface, "interface to check")
	cmd.Flags().StringVar(&o.dataDir, "data-dir", "data", "data directory that must be writable")
	cmd.Flags().StringVar(&o.listen, "listen", "127.0.0.1:8080", "address the dashboard listens on, which must be free")
	cmd.Flags().StringVar(&o.geoip, "geoip", "data/GeoLite2-City.mmdb", "geo database (.mmdb) the geoip stage reads")
	return cmd
}

func runDoctor(w io.Writer, o *doctorOptions) error {
	checks := []checkResult{
		checkKernel(),
		checkCap("CAP_NET_RAW", unix.CAP_NET_RAW, "fail", "capture needs it"),
		checkCap("CAP_NET_ADMIN", unix.CAP_NET_ADMIN, "warn", "promiscuous mode and interface settings may need it"),
		checkInterface(o.iface),
		checkFilters(),
		checkDataDir(o.dataDir),
		checkListen(o.listen),
		checkGeo(o.geoip),
	}
	failed := 0
	for _, c := range checks {
		fmt.Fprintf(w, "%-4s  %-14s %s\n", strings.ToUpper(c.status), c.name, c.detail)
		if c.status != "ok" && c.fix != "" {
			fmt.Fprintf(w, "      %-14s fix: %s\n", "", c.fix)
		}
		if c.status == "fail" {
			failed++
		}
	}
	if failed > 0 {
		return &exitError{code: 1, err: fmt.Errorf("%d of %d checks failed", failed, len(checks))}
	}
	fmt.Fprintln(w, "all checks passed")
	return nil
}

func checkKernel() checkResult {
	c := checkResult{name: "kernel", status: "ok"}
	if runtime.GOOS != "linux" {
		c.status, c.detail, c.fix = "fail", runtime.GOOS+": live capture needs Linux", "run nfpipe on Linux, or read capture files with file:"
		return c
	}
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		c.status, c.detail = "warn", err.Error()
		return c
	}
	rel := unix.ByteSliceToString(u.Release[:])
	c.detail = "Linux " + rel
	var major, minor int
	parts := strings.SplitN(rel, ".", 3)
	if len(parts) >= 2 {
		major, _ = strconv.Atoi(parts[0])
		minor, _ = strconv.Atoi(strings.TrimFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' }))
	}
	if major < 3 || (major == 3 && minor < 19) {
		c.status = "fail"
		c.detail += ": AF_PACKET TPACKET_V3 with fanout needs Linux 3.19 or later"
		c.fix = "upgrade the kernel, or use backend: pcap (a build with -tags pcap)"
	}
	return c
}

func checkCap(name string, capability int, missing, why string) checkResult {
	c := checkResult{name: name, status: "ok", detail: "effective"}
	if capture.HasCapability(capability) {
		if os.Geteuid() == 0 {
			c.detail = "effective (running as root)"
		}
		return c
	}
	c.status = missing
	c.detail = "missing: " + why
	c.fix = "run as root, or once: " + capture.SetcapFix()
	return c
}

func checkInterface(name string) checkResult {
	c := checkResult{name: "interface", status: "ok"}
	dev, err := capture.LookupInterface(name)
	if err != nil {
		c.status, c.detail, c.fix = "fail", err.Error(), "pick one from nfpipe interfaces and pass it with -i NAME (or interface: in the pipeline)"
		return c
	}
	ifs, _ := capture.ListInterfaces("")
	for _, i := range ifs {
		if i.Name != dev {
			continue
		}
		c.detail = fmt.Sprintf("%s (index %d, %s, MTU %d, %s)", i.Name, i.Index, i.State(), i.MTU, i.LinkType)
		if name == capture.DefaultInterface {
			c.detail = "default route: " + c.detail
		}
		switch {
		case !i.Up:
			c.status, c.fix = "fail", "sudo ip link set "+i.Name+" up"
		case !i.Supported:
			c.status, c.fix = "warn", "afpacket cannot capture this link type; use backend: pcap (a build with -tags pcap)"
		}
	}
	return c
}

func checkFilters() checkResult {
	c := checkResult{name: "libpcap", status: "ok"}
	comp := capture.FilterCompiler()
	switch {
	case capture.LibpcapBuild():
		c.detail = "linked in: backend: pcap available; bpf: compiled by libpcap"
	case comp != "":
		c.detail = "not linked (backend: afpacket only); bpf: compiled by " + comp
	default:
		c.status = "warn"
		c.detail = "no libpcap and no tcpdump: capture works, bpf: filters cannot be compiled"
		c.fix = "sudo apt-get install tcpdump (or build nfpipe with -tags pcap and libpcap-dev)"
	}
	return c
}

func checkDataDir(dir string) checkResult {
	c := checkResult{name: "data dir", status: "ok", detail: dir + " is writable"}
	fail := func(err error) checkResult {
		c.status, c.detail = "fail", fmt.Sprintf("%s: %v", dir, err)
		c.fix = fmt.Sprintf("mkdir -p %s && chown %d %s", dir, os.Getuid(), dir)
		return c
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fail(err)
	}
	f, err := os.CreateTemp(dir, ".nfpipe-doctor-*")
	if err != nil {
		return fail(err)
	}
	f.Close()
	os.Remove(f.Name())
	if abs, err := filepath.Abs(dir); err == nil {
		c.detail = abs + " is writable"
	}
	return c
}

func checkListen(addr string) checkResult {
	c := checkResult{name: "listen port", status: "ok", detail: addr + " is free"}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		c.status, c.detail = "fail", fmt.Sprintf("%s: %v", addr, err)
		_, port, _ := net.SplitHostPort(addr)
		c.fix = fmt.Sprintf("stop what listens there (sudo ss -ltnp 'sport = :%s'), or set listen: on the dashboard sink to a free address", port)
		return c
	}
	l.Close()
	return c
}

func checkGeo(path string) checkResult {
	c := checkResult{name: "geo database", status: "ok", detail: path}
	st, err := os.Stat(path)
	if err != nil || st.Size() == 0 {
		c.status = "warn"
		c.detail = path + " not found: flows get no country, city or ASN"
		c.fix = "make geoip (or put a GeoLite2-City.mmdb there and set database: on the geoip stage)"
		return c
	}
	c.detail = fmt.Sprintf("%s (%d MB)", path, st.Size()>>20)
	return c
}
