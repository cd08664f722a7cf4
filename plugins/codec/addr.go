package codec

import "net/netip"

// appendAddr appends the address's 4 or 16 bytes to arena and returns the
// grown arena and the bytes, so a batch of addresses costs one buffer
// instead of one allocation each. An invalid address is no bytes; the
// zone of an IPv6 address is not sent.
func appendAddr(arena []byte, a netip.Addr) ([]byte, []byte) {
	if !a.IsValid() {
		return arena, nil
	}
	start := len(arena)
	if a.Is4() {
		b := a.As4()
		arena = append(arena, b[:]...)
	} else {
		b := a.As16()
		arena = append(arena, b[:]...)
	}
	return arena, arena[start:len(arena):len(arena)]
}

// Addr converts 4 or 16 bytes to an address; any other length (including
// none) is the zero, invalid address.
func Addr(b []byte) netip.Addr {
	switch len(b) {
	case 4:
		return netip.AddrFrom4([4]byte(b))
	case 16:
		return netip.AddrFrom16([16]byte(b))
	}
	return netip.Addr{}
}

// AddrBytes returns the address as 4 or 16 bytes, or nil when invalid.
func AddrBytes(a netip.Addr) []byte {
	_, b := appendAddr(nil, a)
	return b
}

// addrMatches reports whether b is the wire form of a.
func addrMatches(a netip.Addr, b []byte) bool {
	return Addr(b) == a.WithZone("")
}
