package gen

// Addressing. Each flow's client endpoint is derived from its flow number
// by an injective mapping, so no two flows share a key and the truth's
// flow count is exact whatever the sessionizer keys ICMP on.
//
//   - TCP/UDP clients: host = fid mod clientHosts, port from fid div
//     clientHosts through a bijection of the 64512 unprivileged ports.
//   - ICMP clients: one address per flow (10.64.0.0/10 for IPv4, with the
//     server also varying with the high bits; a /64 for IPv6).
//
// Servers are public-looking addresses drawn once per capture from the
// seed, with a skewed popularity so there are heavy hitters.

const (
	clientHosts = 8192
	numPorts    = 65536 - 1024
	// portMul is coprime with numPorts (2^10·3^2·7), so k -> k·portMul
	// mod numPorts is a bijection.
	portMul = 40499

	icmp4Bits = 22 // 10.64.0.0/10 holds 2^22 clients
	servers4  = 8192
	servers6  = 2048
)

// clientPort is the ephemeral port of a TCP/UDP flow's client.
func clientPort(fid uint32) uint16 {
	h := fid % clientHosts
	k := fid / clientHosts
	return uint16(1024 + (uint64(k)*portMul+uint64(h)*7919)%numPorts)
}

// client4 is the IPv4 client address of a flow.
func client4(fid uint32, icmp bool) uint32 {
	if icmp {
		return 0x0a400000 | fid&(1<<icmp4Bits-1) // 10.64.0.0/10
	}
	return 0x0a010001 + fid%clientHosts // 10.1.0.1 ...
}

// client6 writes the IPv6 client address of a flow.
func client6(dst *[16]byte, fid uint32, icmp bool) {
	*dst = [16]byte{0xfd, 0x6e, 0x66, 0x70, 0, 1}
	v := fid%clientHosts + 1
	if icmp {
		dst[5] = 2
		v = fid
	}
	putU32(dst[12:], v)
}

// icmp4Server is the server index of an IPv4 ICMP flow: it differs for
// flows that share a client address (same low bits, different high bits).
func icmp4Server(fid uint32) uint32 {
	lo := fid & (1<<icmp4Bits - 1)
	return (lo*2654435761>>8 + fid>>icmp4Bits) % servers4
}

// serverPool holds the capture's server addresses.
type serverPool struct {
	v4 [servers4]uint32
	v6 [servers6][16]byte
}

func newServerPool(seed uint64) *serverPool {
	r := newRNG(seed*0x9e3779b97f4a7c15 + 0x5e7e7)
	p := &serverPool{}
	for i := range p.v4 {
		for {
			a := uint32(r.u64())
			if public4(a) {
				p.v4[i] = a
				break
			}
		}
	}
	// Global unicast prefixes of the kind the regional registries hand
	// out; documentation, 6to4 and Teredo space are avoided.
	prefixes := [...]uint16{0x2400, 0x2403, 0x2404, 0x2600, 0x2604, 0x2607, 0x2800, 0x2a00, 0x2a01, 0x2a02, 0x2a03, 0x2c0f}
	for i := range p.v6 {
		var a [16]byte
		putU64(a[0:], r.u64())
		putU64(a[8:], r.u64())
		pfx := prefixes[r.intn(len(prefixes))]
		a[0], a[1] = byte(pfx>>8), byte(pfx)
		p.v6[i] = a
	}
	return p
}

// public4 reports whether a is outside the special-purpose IPv4 ranges.
func public4(a uint32) bool {
	switch b := a >> 24; {
	case b == 0, b == 10, b == 127, b >= 224:
		return false
	}
	switch {
	case a>>22 == 0x64<<2|1: // 100.64.0.0/10
	case a>>16 == 0xa9fe: // 169.254.0.0/16
	case a>>20 == 0xac1: // 172.16.0.0/12
	case a>>8 == 0xc00000, a>>8 == 0xc00002: // 192.0.0.0/24, 192.0.2.0/24
	case a>>16 == 0xc0a8: // 192.168.0.0/16
	case a>>17 == 0xc612>>1: // 198.18.0.0/15
	case a>>8 == 0xc63364, a>>8 == 0xcb0071: // 198.51.100.0/24, 203.0.113.0/24
	default:
		return true
	}
	return false
}

// popular picks an index in [0, n) skewed towards small indices, so a few
// servers get most flows.
func popular(r *rng, n int) uint32 {
	u := r.float()
	return uint32(float64(n) * u * u * u)
}

func putU16(b []byte, v uint16) { b[0], b[1] = byte(v>>8), byte(v) }

func putU32(b []byte, v uint32) {
	b[0], b[1], b[2], b[3] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
}

func putU64(b []byte, v uint64) {
	putU32(b, uint32(v>>32))
	putU32(b[4:], uint32(v))
}
