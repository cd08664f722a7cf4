package capture

import (
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"

	"github.com/nfpipe/nfpipe/pipeline/spec"
)

// DefaultInterface is the interface name that means "the interface of the
// default route".
const DefaultInterface = "default"

// Link types (LINKTYPE_* values) a live capture can deliver.
const (
	linkTypeEthernet = 1
	linkTypeRaw      = 101
)

// ARPHRD_* hardware types of Linux interfaces (linux/if_arp.h).
const (
	arphrdEther    = 1
	arphrdLoopback = 772
	arphrdTunnel   = 768
	arphrdTunnel6  = 769
	arphrdSit      = 776
	arphrdIPGRE    = 778
	arphrdRawIP    = 519
	arphrdNone     = 0xfffe
)

// linkTypeOf maps an interface's hardware type to the link type its
// frames have on an AF_PACKET SOCK_RAW socket, as libpcap does.
func linkTypeOf(hatype uint16) (uint16, bool) {
	switch hatype {
	case arphrdEther, arphrdLoopback:
		// Loopback frames carry an all-zero Ethernet header.
		return linkTypeEthernet, true
	case arphrdNone, arphrdRawIP, arphrdTunnel, arphrdTunnel6, arphrdSit, arphrdIPGRE:
		// No link-layer header: the frame starts with the IP header.
		return linkTypeRaw, true
	}
	return 0, false
}

// linkTypeName describes a hardware type for people.
func linkTypeName(hatype uint16) string {
	switch hatype {
	case arphrdEther:
		return "ethernet"
	case arphrdLoopback:
		return "loopback (ethernet framing)"
	case arphrdNone, arphrdRawIP:
		return "raw ip"
	case arphrdTunnel, arphrdTunnel6, arphrdSit, arphrdIPGRE:
		return "ip tunnel (raw ip)"
	case 0xffff:
		return "void"
	case 801:
		return "802.11"
	case 512:
		return "ppp"
	case 280:
		return "can"
	}
	return fmt.Sprintf("arphrd %d", hatype)
}

// frameInfo is what a live reader knows of a frame besides its bytes.
type frameInfo struct {
	ts      int64 // kernel receive time, nanoseconds since the epoch
	wireLen uint32
}

// errNoInterface wraps every "no such interface" error, so callers can
// tell a missing interface (retry later) from other failures.
var errNoInterface = errors.New("no such interface")

// lookupInterface finds an interface by name in the calling thread's
// network namespace; "default" is the interface of the default route.
func lookupInterface(name string) (*net.Interface, error) {
	if name == DefaultInterface {
		dev, err := defaultRouteInterface()
		if err != nil {
			return nil, err
		}
		name = dev
	}
	ifi, err := net.InterfaceByName(name)
	if err == nil {
		return ifi, nil
	}
	all, lerr := net.Interfaces()
	if lerr != nil {
		return nil, fmt.Errorf("interface %q: %w", name, err)
	}
	names := make([]string, 0, len(all))
	for _, i := range all {
		names = append(names, i.Name)
	}
	sort.Strings(names)
	msg := fmt.Sprintf("%s %q", errNoInterface, name)
	if s := spec.Suggest(name, names); s != "" {
		msg += fmt.Sprintf("; did you mean %q?", s)
	}
	msg += "; interfaces here: " + strings.Join(names, ", ") + " (see nfpipe interfaces)"
	return nil, &ifaceError{msg: msg}
}

// ifaceError is a missing interface, with the names that do exist.
type ifaceError struct{ msg string }

func (e *ifaceError) Error() string { return e.msg }

func (e *ifaceError) Unwrap() error { return errNoInterface }
