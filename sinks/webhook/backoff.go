package webhook

import (
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"
)

// backoff computes waits between attempts: exponential with full jitter,
// so that many senders failing at once do not retry in lockstep.
type backoff struct {
	initial, max time.Duration
	rand         func(n int64) int64 // uniform in [0, n); replaced in tests
}

func newBackoff(initial, max time.Duration) backoff {
	return backoff{initial: initial, max: max, rand: rand.Int64N}
}

// ceiling is the upper bound of the wait before retry number retry (1 is
// the first retry): initial * 2^(retry-1), at most max.
func (b backoff) ceiling(retry int) time.Duration {
	c := b.initial
	for i := 1; i < retry && c < b.max; i++ {
		c *= 2
	}
	return min(c, b.max)
}

// wait is the time to wait before retry number retry: uniform in
// [0, ceiling], raised to retryAfter when the receiver asked for that, and
// never above max.
func (b backoff) wait(retry int, retryAfter time.Duration) time.Duration {
	d := time.Duration(b.rand(int64(b.ceiling(retry)) + 1))
	return min(max(d, retryAfter), b.max)
}

// retryAfter reads a Retry-After header: seconds or an HTTP date.
func retryAfter(h http.Header, now time.Time) time.Duration {
	v := h.Get("Retry-After")
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
