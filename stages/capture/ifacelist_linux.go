package capture

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// InterfaceInfo describes a network interface for people choosing one.
type InterfaceInfo struct {
	Name      string   `json:"name"`
	Index     int      `json:"index"`
	Up        bool     `json:"up"`      // administratively up
	Running   bool     `json:"running"` // carrier present (operational)
	MTU       int      `json:"mtu"`
	Addresses []string `json:"addresses"`
	LinkType  string   `json:"link_type"`
	Supported bool     `json:"supported"` // afpacket can capture it
	Default   bool     `json:"default"`   // carries the default route
}

// State is "up", "down" or "up, no carrier".
func (i InterfaceInfo) State() string {
	switch {
	case !i.Up:
		return "down"
	case !i.Running:
		return "up, no carrier"
	}
	return "up"
}

// ListInterfaces returns the interfaces of a network namespace (""
// means nfpipe's own), sorted by index.
func ListInterfaces(netns string) ([]InterfaceInfo, error) {
	var out []InterfaceInfo
	err := inNetns(netns, func() error {
		ifs, err := net.Interfaces()
		if err != nil {
			return err
		}
		def, _ := defaultRouteInterface()
		for _, ifi := range ifs {
			info := InterfaceInfo{
				Name: ifi.Name, Index: ifi.Index, MTU: ifi.MTU,
				Up:      ifi.Flags&net.FlagUp != 0,
				Running: ifi.Flags&net.FlagRunning != 0,
				Default: ifi.Name == def,
			}
			if addrs, err := ifi.Addrs(); err == nil {
				for _, a := range addrs {
					info.Addresses = append(info.Addresses, a.String())
				}
			}
			info.LinkType = "unknown"
			if ht, ok := hardwareType(ifi.Name); ok {
				info.LinkType = linkTypeName(ht)
				_, info.Supported = linkTypeOf(ht)
			}
			out = append(out, info)
		}
		return nil
	})
	return out, err
}

// hardwareType reads an interface's ARPHRD type from sysfs.
func hardwareType(name string) (uint16, bool) {
	b, err := os.ReadFile(filepath.Join("/sys/class/net", name, "type"))
	if err != nil {
		return 0, false
	}
	v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 16)
	return uint16(v), err == nil
}

// DefaultRouteInterface returns the interface of the default route in
// nfpipe's own network namespace.
func DefaultRouteInterface() (string, error) { return defaultRouteInterface() }

// LookupInterface checks that an interface (or "default") exists and
// returns its name; the error lists the interfaces that do exist.
func LookupInterface(name string) (string, error) {
	ifi, err := lookupInterface(name)
	if err != nil {
		return "", err
	}
	return ifi.Name, nil
}

// FilterCompiler says what compiles bpf: filters in this build and on
// this machine: libpcap linked in, or the path of tcpdump. It returns ""
// when filters cannot be compiled.
func FilterCompiler() string {
	if libpcapCompile != nil {
		return "libpcap (linked in)"
	}
	if p, err := findTcpdump(); err == nil {
		return "tcpdump -ddd (" + p + ")"
	}
	return ""
}

// LibpcapBuild reports whether this build links libpcap (backend: pcap).
func LibpcapBuild() bool { return libpcapOpen != nil }
