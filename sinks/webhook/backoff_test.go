package webhook

import (
	"net/http"
	"testing"
	"time"
)

func TestBackoffDoublesUpToTheMaximumWithFullJitter(t *testing.T) {
	b := newBackoff(100*time.Millisecond, 1*time.Second)
	wantMS := []time.Duration{100, 200, 400, 800, 1000, 1000}
	for i, w := range wantMS {
		if got := b.ceiling(i + 1); got != w*time.Millisecond {
			t.Errorf("ceiling(%d) = %s, want %s", i+1, got, w*time.Millisecond)
		}
	}
	// The jitter spans the whole range [0, ceiling].
	b.rand = func(n int64) int64 { return n - 1 }
	if got := b.wait(3, 0); got != 400*time.Millisecond {
		t.Errorf("largest wait before retry 3 = %s, want 400ms", got)
	}
	b.rand = func(n int64) int64 { return 0 }
	if got := b.wait(3, 0); got != 0 {
		t.Errorf("smallest wait = %s, want 0", got)
	}
	// Retry-After raises the wait, but never above the maximum.
	if got := b.wait(1, 700*time.Millisecond); got != 700*time.Millisecond {
		t.Errorf("wait with Retry-After 700ms = %s", got)
	}
	if got := b.wait(1, time.Hour); got != time.Second {
		t.Errorf("wait with Retry-After 1h = %s, want the 1s maximum", got)
	}
	// The real random source stays in range.
	b = newBackoff(10*time.Millisecond, 50*time.Millisecond)
	for i := 0; i < 1000; i++ {
		if d := b.wait(10, 0); d < 0 || d > 50*time.Millisecond {
			t.Fatalf("wait %s out of [0, 50ms]", d)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	cases := map[string]time.Duration{
		"":                              0,
		"30":                            30 * time.Second,
		"-1":                            0,
		"soon":                          0,
		"Wed, 01 May 2024 12:00:10 GMT": 10 * time.Second,
		"Wed, 01 May 2024 11:00:00 GMT": 0,
	}
	for v, want := range cases {
		h := http.Header{}
		if v != "" {
			h.Set("Retry-After", v)
		}
		if got := retryAfter(h, now); got != want {
			t.Errorf("Retry-After %q = %s, want %s", v, got, want)
		}
	}
}
