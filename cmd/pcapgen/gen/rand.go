package gen

import (
	"math"
	"math/bits"
)

// rng is wyrand: tiny, fast and fully specified here, so a seed gives the
// same capture on every Go release (math/rand/v2 does not promise stable
// derived streams).
type rng struct{ s uint64 }

func newRNG(seed uint64) rng { return rng{s: seed ^ 0x6e667069706531} }

func (r *rng) u64() uint64 {
	r.s += 0xa0761d6478bd642f
	hi, lo := bits.Mul64(r.s, r.s^0xe7037ed1a0b428db)
	return hi ^ lo
}

// intn returns a value in [0, n) for n > 0.
func (r *rng) intn(n int) int {
	hi, _ := bits.Mul64(r.u64(), uint64(n))
	return int(hi)
}

// float returns a value in [0, 1).
func (r *rng) float() float64 { return float64(r.u64()>>11) / (1 << 53) }

// chance reports true with probability p.
func (r *rng) chance(p float64) bool { return r.float() < p }

// exp returns an exponentially distributed value with the given mean.
func (r *rng) exp(mean float64) float64 { return -mean * math.Log(1-r.float()) }

// between returns a value in [lo, hi] for lo <= hi.
func (r *rng) between(lo, hi int64) int64 { return lo + int64(r.intn(int(hi-lo+1))) }

// logUniform returns a value between lo and hi whose logarithm is uniform,
// the usual shape of round-trip times.
func (r *rng) logUniform(lo, hi float64) float64 {
	return lo * math.Exp(r.float()*math.Log(hi/lo))
}
