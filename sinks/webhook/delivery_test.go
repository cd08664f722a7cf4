package webhook

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// TestFullQueueDropsAndCountsWithoutStalling holds the receiver's first
// request open while 49 more alerts arrive for a queue of 5: the other
// sink still gets every alert, exactly 44 are dropped and counted, and
// which ones depends on when_queue_full.
func TestFullQueueDropsAndCountsWithoutStalling(t *testing.T) {
	for _, c := range []struct {
		policy string
		want   []string // delivered after the first
	}{
		{"drop_oldest", ids("x", 45, 5)},
		{"drop_newest", ids("x", 1, 5)},
	} {
		t.Run(c.policy, func(t *testing.T) {
			rcv := newReceiver(t, "", 0)
			rcv.hold = make(chan struct{})
			h := newHarness(t, fmt.Sprintf(`
stages:
  src: {type: alertsrc}
sinks:
  all: {type: collect, inputs: [src], buffer: {max_batches: 1}}
  hook:
    type: webhook
    inputs: [src]
    buffer: {max_batches: 1}
    url: http://%s/
    queue_size: 5
    when_queue_full: %s
    timeout: 60s
`, rcv.addr, c.policy))
			all := ids("x", 0, 50)
			h.send(t, all[0])
			select {
			case <-rcv.started:
			case <-time.After(eventually):
				t.Fatal("the first request did not reach the receiver")
			}
			for _, id := range all[1:] {
				h.send(t, id)
			}
			waitFor(t, "the other sink to get every alert", func() bool { return h.coll.count() == len(all) })
			waitFor(t, "the drops to be counted", func() bool { return h.counter("dropped") == 44 })
			close(rcv.hold)
			h.finish(t)
			_, accepted, _ := rcv.snapshot()
			want := append([]string{all[0]}, c.want...)
			for _, id := range want {
				if accepted[id] != 1 {
					t.Errorf("%s delivered %d times, want once", id, accepted[id])
				}
			}
			if len(accepted) != len(want) {
				t.Errorf("delivered %d alerts, want %d", len(accepted), len(want))
			}
			if h.counter("dropped") != 44 || h.counter("sent") != 6 {
				t.Errorf("dropped %d sent %d, want 44 and 6", h.counter("dropped"), h.counter("sent"))
			}
			if !strings.Contains(h.logs.String(), "webhook queue full") {
				t.Error("the full queue was not logged")
			}
		})
	}
}

// TestDrainTimeoutCountsWhatIsLeft stops the pipeline while the receiver
// is unreachable: after drain_timeout the sink gives up, counts every
// queued alert as dropped and says so.
func TestDrainTimeoutCountsWhatIsLeft(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now: connection refused
	h := newHarness(t, fmt.Sprintf(`
stages:
  src: {type: alertsrc}
sinks:
  hook:
    type: webhook
    inputs: [src]
    url: http://%s/
    backoff_initial: 10ms
    backoff_max: 50ms
    drain_timeout: 200ms
`, addr))
	h.send(t, ids("d", 0, 7)...)
	h.finish(t)
	if got := h.counter("dropped"); got != 7 {
		t.Errorf("dropped = %d, want 7", got)
	}
	if got := h.counter("sent"); got != 0 {
		t.Errorf("sent = %d, want 0", got)
	}
	logs := h.logs.String()
	if !strings.Contains(logs, "stopped with alerts not delivered") || !strings.Contains(logs, `"alerts":7`) {
		t.Errorf("the loss is not logged with its count:\n%s", logs)
	}
	if cs, _ := h.p.Status().Component("hook"); cs.Dropped != 7 {
		t.Errorf("status dropped = %d, want 7", cs.Dropped)
	}
}

// TestRefusedIsNotRetried: a 4xx answer means the body will never be
// taken; it is dropped and counted after one attempt.
func TestRefusedIsNotRetried(t *testing.T) {
	rcv := newReceiver(t, testSecret, 0)
	h := newHarness(t, fmt.Sprintf(`
stages:
  src: {type: alertsrc}
sinks:
  hook:
    type: webhook
    inputs: [src]
    url: http://%s/
    secret: wrong-secret-of-sufficient-length
    backoff_initial: 10ms
`, rcv.addr))
	h.send(t, ids("r", 0, 3)...)
	h.finish(t)
	reqs, _, badSig := rcv.snapshot()
	if badSig != 3 || len(reqs) != 0 {
		t.Errorf("receiver saw %d bad signatures and %d good requests, want 3 and 0", badSig, len(reqs))
	}
	if h.counter("rejected") != 3 || h.counter("dropped") != 3 || h.counter("retries") != 0 {
		t.Errorf("rejected %d dropped %d retries %d, want 3 3 0", h.counter("rejected"), h.counter("dropped"), h.counter("retries"))
	}
}

// TestMaxRetriesGivesUp: with max_retries a failing request is dropped
// after that many retries.
func TestMaxRetriesGivesUp(t *testing.T) {
	rcv := newReceiver(t, "", 1000)
	h := newHarness(t, fmt.Sprintf(`
stages:
  src: {type: alertsrc}
sinks:
  hook:
    type: webhook
    inputs: [src]
    url: http://%s/
    max_retries: 2
    backoff_initial: 1ms
    backoff_max: 5ms
`, rcv.addr))
	h.send(t, "only")
	h.finish(t)
	reqs, _, _ := rcv.snapshot()
	if len(reqs) != 3 {
		t.Errorf("%d attempts, want 3 (one and two retries)", len(reqs))
	}
	if h.counter("dropped") != 1 || h.counter("retries") != 2 || h.counter("failed_attempts") != 3 {
		t.Errorf("dropped %d retries %d failed %d, want 1 2 3", h.counter("dropped"), h.counter("retries"), h.counter("failed_attempts"))
	}
}

// TestDuplicateIDsAreSentOnce: the same alert id arriving twice within
// dedupe_window is sent once.
func TestDuplicateIDsAreSentOnce(t *testing.T) {
	rcv := newReceiver(t, "", 0)
	h := newHarness(t, fmt.Sprintf(`
stages:
  src: {type: alertsrc}
sinks:
  hook: {type: webhook, inputs: [src], url: "http://%s/"}
`, rcv.addr))
	h.send(t, "a", "b", "a")
	h.send(t, "b", "c")
	h.finish(t)
	_, accepted, _ := rcv.snapshot()
	if len(accepted) != 3 || accepted["a"] != 1 || accepted["b"] != 1 || accepted["c"] != 1 {
		t.Errorf("accepted %v, want a, b and c once each", accepted)
	}
	if got := h.counter("duplicates"); got != 2 {
		t.Errorf("duplicates = %d, want 2", got)
	}
}

// TestTimeoutIsRetried: a receiver slower than timeout fails the
// attempt; the retry succeeds.
func TestTimeoutIsRetried(t *testing.T) {
	rcv := newReceiver(t, "", 0)
	rcv.hold = make(chan struct{})
	h := newHarness(t, fmt.Sprintf(`
stages:
  src: {type: alertsrc}
sinks:
  hook:
    type: webhook
    inputs: [src]
    url: http://%s/
    timeout: 50ms
    backoff_initial: 10ms
    backoff_max: 20ms
`, rcv.addr))
	h.send(t, "slow")
	waitFor(t, "a timed-out attempt", func() bool { return h.counter("failed_attempts") >= 1 })
	close(rcv.hold)
	h.finish(t)
	_, accepted, _ := rcv.snapshot()
	if accepted["slow"] == 0 {
		t.Error("the alert was not delivered after the timeout")
	}
	if !strings.Contains(h.logs.String(), "no answer within timeout (50ms)") {
		t.Errorf("the timeout is not named in the log:\n%s", h.logs.String())
	}
}
