package geoip

import (
	"net/netip"

	"github.com/nfpipe/nfpipe/pipeline/event"
)

// Labels of addresses that no database can place. The values are shared
// and must never be modified.
var (
	geoPrivate     = &event.Geo{Label: "private"}
	geoLoopback    = &event.Geo{Label: "loopback"}
	geoLinkLocal   = &event.Geo{Label: "link-local"}
	geoCGNAT       = &event.Geo{Label: "cgnat"}
	geoMulticast   = &event.Geo{Label: "multicast"}
	geoULA         = &event.Geo{Label: "ula"}
	geoUnspecified = &event.Geo{Label: "unspecified"}
	geoBroadcast   = &event.Geo{Label: "broadcast"}
)

var (
	cgnat = netip.MustParsePrefix("100.64.0.0/10")
	ula   = netip.MustParsePrefix("fc00::/7")
)

// specialGeo returns the label of an address in a special-purpose range,
// or nil for an address a database should be asked about. ip must be
// unmapped (an IPv4-mapped IPv6 address is labelled as its IPv4 form).
func specialGeo(ip netip.Addr) *event.Geo {
	switch {
	case !ip.IsValid():
		return nil
	case ip.IsUnspecified():
		return geoUnspecified
	case ip.IsLoopback():
		return geoLoopback
	case ip.IsLinkLocalUnicast():
		return geoLinkLocal
	case ip.IsMulticast(), ip.IsLinkLocalMulticast(), ip.IsInterfaceLocalMulticast():
		return geoMulticast
	}
	if ip.Is4() {
		switch {
		case ip.IsPrivate():
			return geoPrivate
		case cgnat.Contains(ip):
			return geoCGNAT
		case ip == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
			return geoBroadcast
		}
		return nil
	}
	if ula.Contains(ip) {
		return geoULA
	}
	return nil
}
