package webhook

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

const testSecret = "s3cret-signing-key-0123456789abcdef"

// TestEveryAlertArrivesThroughFailuresAndOutage is the delivery
// guarantee end to end: a receiver on loopback answers 500 to its first
// requests, then goes down (connection refused) while alerts keep
// coming, then comes back on the same port. Every alert arrives,
// every request's signature verifies, retried bodies carry the same ids
// and delivery id, and the pipeline kept flowing throughout: a second
// sink on the same source received every alert while the receiver was
// down, through one-batch input buffers that would have stalled the
// source had the webhook sink blocked.
func TestEveryAlertArrivesThroughFailuresAndOutage(t *testing.T) {
	for _, batch := range []int{1, 10} {
		t.Run(fmt.Sprintf("batch_size=%d", batch), func(t *testing.T) {
			const failFirst = 3
			rcv := newReceiver(t, testSecret, failFirst)
			h := newHarness(t, fmt.Sprintf(`
stages:
  src: {type: alertsrc}
sinks:
  all:
    type: collect
    inputs: [src]
    buffer: {max_batches: 1}
  hook:
    type: webhook
    inputs: [src]
    buffer: {max_batches: 1}
    url: http://%s/hook?token=query-token-value
    secret: %s
    batch_size: %d
    batch_wait: 10ms
    backoff_initial: 10ms
    backoff_max: 100ms
    timeout: 5s
    drain_timeout: 60s
`, rcv.addr, testSecret, batch))

			// Phase 1: the receiver is up but fails its first requests.
			first := ids("a", 0, 30)
			for i := 0; i < len(first); i += 3 {
				h.send(t, first[i:i+3]...)
			}
			waitFor(t, "the first alerts to be accepted after the 500s", func() bool { return rcv.acceptedCount() == len(first) })

			// Phase 2: the receiver is down; the pipeline must keep flowing.
			rcv.down()
			failedBefore := h.counter("failed_attempts")
			second := ids("b", 0, 200)
			for i := 0; i < len(second); i += 5 {
				h.send(t, second[i:i+5]...)
			}
			total := len(first) + len(second)
			waitFor(t, "the other sink to receive every alert while the receiver is down", func() bool { return h.coll.count() == total })
			waitFor(t, "a failed attempt against the closed port", func() bool { return h.counter("failed_attempts") > failedBefore })
			if n := rcv.acceptedCount(); n != len(first) {
				t.Fatalf("receiver accepted %d distinct alerts while down, want %d", n, len(first))
			}

			// Phase 3: back on the same port; the source ends and the sink
			// drains.
			rcv.up()
			h.finish(t)

			reqs, accepted, badSig := rcv.snapshot()
			if badSig != 0 {
				t.Errorf("%d requests had a bad signature", badSig)
			}
			for _, id := range append(first, second...) {
				if accepted[id] == 0 {
					t.Errorf("alert %s never arrived", id)
				}
			}
			if len(accepted) != total {
				t.Errorf("receiver accepted %d distinct ids, want %d", len(accepted), total)
			}
			// The bodies answered 500 were sent again: same delivery id, same
			// alert ids, a higher attempt number.
			failed := 0
			for _, r := range reqs {
				if r.status != http.StatusInternalServerError {
					continue
				}
				failed++
				retried := false
				for _, later := range reqs {
					if later.delivery == r.delivery && later.status == http.StatusOK {
						retried = strings.Join(later.ids, ",") == strings.Join(r.ids, ",") && later.attempt > r.attempt
					}
				}
				if !retried {
					t.Errorf("delivery %s (ids %v) answered 500 was not retried with the same body", r.delivery, r.ids)
				}
			}
			if failed != failFirst {
				t.Errorf("%d requests answered 500, want %d", failed, failFirst)
			}
			if got := h.counter("sent"); got < uint64(total) {
				t.Errorf("sent = %d, want at least %d", got, total)
			}
			if got := h.counter("dropped"); got != 0 {
				t.Errorf("dropped = %d, want 0", got)
			}
			if got := h.counter("failed_attempts"); got < failFirst+1 {
				t.Errorf("failed_attempts = %d, want at least %d (the 500s and the outage)", got, failFirst+1)
			}
			if h.counter("retries") < h.counter("failed_attempts") {
				t.Errorf("retries %d < failed_attempts %d: a failed request was not retried", h.counter("retries"), h.counter("failed_attempts"))
			}
			logs := h.logs.String()
			for _, secret := range []string{testSecret, "query-token-value", "/hook"} {
				if strings.Contains(logs, secret) {
					t.Errorf("logs contain %q:\n%s", secret, logs)
				}
			}
			if !strings.Contains(logs, "webhook delivery works again") {
				t.Errorf("no recovery logged:\n%s", logs)
			}
		})
	}
}
