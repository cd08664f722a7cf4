package filter

import (
	"fmt"
	"math"
	"net/netip"
	"strconv"

	"github.com/nfpipe/nfpipe/pipeline/event"
)

// keyType says which fields of a stateKey are set.
type keyType uint8

const (
	kNone keyType = iota
	kAddr
	kString
	kInt
	kFloat
	kBool
	kPrefix
	kFlow // the default key of a flow: its 5-tuple
	kOther
)

// stateKey is a comparable copy of an expression's value, used as a map
// key for windows, distinct sets and alert state. Converting the usual
// results (addresses, strings, numbers) allocates nothing, and the copy
// no longer points into the reused environment.
type stateKey struct {
	kind event.Kind // records of different kinds never share state
	t    keyType
	a, b netip.Addr
	n    uint64
	s    string
}

func keyOf(v any) stateKey {
	switch x := v.(type) {
	case nil:
		return stateKey{}
	case netip.Addr:
		return stateKey{t: kAddr, a: x.Unmap()}
	case string:
		return stateKey{t: kString, s: x}
	case int:
		return stateKey{t: kInt, n: uint64(x)}
	case int64:
		return stateKey{t: kInt, n: uint64(x)}
	case int32:
		return stateKey{t: kInt, n: uint64(x)}
	case uint64:
		return stateKey{t: kInt, n: x}
	case uint32:
		return stateKey{t: kInt, n: uint64(x)}
	case uint16:
		return stateKey{t: kInt, n: uint64(x)}
	case uint8:
		return stateKey{t: kInt, n: uint64(x)}
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<62 {
			return stateKey{t: kInt, n: uint64(int64(x))}
		}
		return stateKey{t: kFloat, n: math.Float64bits(x)}
	case bool:
		if x {
			return stateKey{t: kBool, n: 1}
		}
		return stateKey{t: kBool}
	case netip.Prefix:
		return stateKey{t: kPrefix, a: x.Addr(), n: uint64(x.Bits())}
	}
	// Lists and other composite keys: their text is the key.
	return stateKey{t: kOther, s: fmt.Sprint(v)}
}

// flowKey is the default key of a flow rule without key:.
func flowKey(f *event.FlowRec) stateKey {
	return stateKey{t: kFlow, a: f.Client.IP, b: f.Server.IP,
		n: uint64(f.Proto)<<32 | uint64(f.Client.Port)<<16 | uint64(f.Server.Port)}
}

// value returns the key as an expression value for message templates.
func (k stateKey) value() any {
	switch k.t {
	case kAddr:
		return k.a
	case kString, kOther:
		return k.s
	case kInt:
		return int(int64(k.n))
	case kFloat:
		return math.Float64frombits(k.n)
	case kBool:
		return k.n == 1
	case kPrefix:
		return netip.PrefixFrom(k.a, int(k.n))
	case kFlow:
		return k.String()
	}
	return nil
}

// String is the key as an alert's subject.
func (k stateKey) String() string {
	switch k.t {
	case kNone:
		return ""
	case kAddr:
		return k.a.String()
	case kString, kOther:
		return k.s
	case kInt:
		return strconv.FormatInt(int64(k.n), 10)
	case kFloat:
		return strconv.FormatFloat(math.Float64frombits(k.n), 'g', -1, 64)
	case kBool:
		return strconv.FormatBool(k.n == 1)
	case kPrefix:
		return netip.PrefixFrom(k.a, int(k.n)).String()
	case kFlow:
		proto := uint8(k.n >> 32)
		c := netip.AddrPortFrom(k.a, uint16(k.n>>16))
		s := netip.AddrPortFrom(k.b, uint16(k.n))
		return protoNames[proto] + " " + c.String() + " -> " + s.String()
	}
	return ""
}
