package websocket

import (
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/coder/websocket"

	"github.com/nfpipe/nfpipe/pipeline/event"
)

// filterExpr selects a known part of the test stream: flows to port 443
// with more than 5000 bytes (testFlow makes every third flow a 443 one,
// and its size varies).
const filterExpr = `kind == "flow" && flow.server_port == 443 && flow.bytes > 5000`

func matches(f *event.FlowRec) bool { return f.Server.Port == 443 && f.Bytes() > 5000 }

// TestFanOutFiltersAndDropsASlowClient streams flows and alerts to five
// real clients: one takes everything, one only alerts, one a filter, one
// arrays of flows, and one stops reading. The reading clients get
// exactly what they asked for, in order; the one that stopped reading is
// disconnected and counted, and nobody else, the pipeline included, is
// held up by it: the source goes on until the slow client is dropped and
// beyond, and the pipeline then finishes.
//
// The source is paced by the reading clients (each batch is sent once
// they have the previous one) so that only the client that stopped
// reading can overflow its queue, whatever the machine's speed.
func TestFanOutFiltersAndDropsASlowClient(t *testing.T) {
	h := newHarness(t, `
buffer: {max_batches: 4, when_full: block}
client_queue: 8
write_timeout: 60s
`)
	all := mustDial(t, h.base, dialOpts{})
	alerts := mustDial(t, h.base+"?kinds=alert", dialOpts{})
	filtered := mustDial(t, h.base+"?filter="+url.QueryEscape(filterExpr), dialOpts{})
	arrays := mustDial(t, h.base+"?kinds=flow&format=array", dialOpts{})
	stalled := mustDial(t, h.base, dialOpts{rcvbuf: 4096, noRead: true})
	waitFor(t, "five clients", func() bool { return h.gauge("clients") == 5 })

	pad := strings.Repeat("x", 512) // bigger messages fill the stalled client's socket sooner
	var want, wantAlerts, wantFiltered, wantFlows []string
	n, extra := 0, -1
	for batch := 0; extra != 0; batch++ {
		if batch == 5000 {
			t.Fatal("the client that stopped reading was never dropped")
		}
		var b *event.Batch
		if batch%5 == 4 {
			b = alertBatch(batch, 2)
			for _, a := range b.Alerts {
				want = append(want, eventKey(event.Alert, a.ID))
				wantAlerts = append(wantAlerts, eventKey(event.Alert, a.ID))
			}
		} else {
			b = flowBatch(n, 100, pad)
			n += 100
			for i := range b.Flows {
				k := eventKey(event.Flow, event.FlowID(b.Flows[i].ID))
				want = append(want, k)
				wantFlows = append(wantFlows, k)
				if matches(&b.Flows[i]) {
					wantFiltered = append(wantFiltered, k)
				}
			}
		}
		h.send(t, b)
		waitFor(t, "the reading clients to get the batch", func() bool {
			return all.count() == len(want) && alerts.count() == len(wantAlerts) &&
				filtered.count() == len(wantFiltered) && arrays.count() == len(wantFlows)
		})
		if extra < 0 && h.counter("clients_dropped") > 0 {
			t.Logf("the stalled client was dropped after %d batches", batch+1)
			extra = 20 // keep streaming a while after the drop
		} else if extra > 0 {
			extra--
		}
	}
	h.finish(t)

	for _, c := range []struct {
		name   string
		client *wsClient
		want   []string
	}{
		{"everything", all, want},
		{"kinds=alert", alerts, wantAlerts},
		{"filter", filtered, wantFiltered},
		{"format=array", arrays, wantFlows},
	} {
		if code := c.client.wait(t); code != websocket.StatusGoingAway || c.client.closeReason() != reasonStopped {
			t.Errorf("%s: closed with %v %q, want 1001 %q", c.name, code, c.client.closeReason(), reasonStopped)
		}
		if got := c.client.ids(); !slices.Equal(got, c.want) {
			t.Errorf("%s: received %d events, want exactly %d (first difference at %d)", c.name, len(got), len(c.want), firstDiff(got, c.want))
		}
	}
	if len(wantFiltered) == 0 || len(wantFiltered) == len(wantFlows) {
		t.Fatalf("the filter selected %d of %d flows: the test proves nothing", len(wantFiltered), len(wantFlows))
	}
	if all.msgs != len(want) {
		t.Errorf("format=event: %d messages for %d events", all.msgs, len(want))
	}
	if arrays.msgs >= len(wantFlows) {
		t.Errorf("format=array: %d messages for %d events, want one per batch", arrays.msgs, len(wantFlows))
	}

	// The stalled client got a prefix of the stream, then was cut off.
	go stalled.read()
	stalled.wait(t)
	got := stalled.ids()
	if len(got) >= len(want) || !slices.Equal(got, want[:len(got)]) {
		t.Errorf("stalled client got %d events, want a strict prefix of the %d sent", len(got), len(want))
	}
	if d := h.counter("clients_dropped"); d != 1 {
		t.Errorf("clients_dropped = %d, want 1", d)
	}
	if g := h.gauge("clients"); g != 0 {
		t.Errorf("clients gauge = %d after the end, want 0", g)
	}
	delivered := uint64(len(want) + len(wantAlerts) + len(wantFiltered) + len(wantFlows) + len(got))
	if h.counter("events_sent") != delivered {
		t.Errorf("events_sent = %d, clients received %d", h.counter("events_sent"), delivered)
	}
	if f := h.counter("events_filtered"); f != uint64(len(want)-len(wantFiltered)) {
		t.Errorf("events_filtered = %d, want %d", f, len(want)-len(wantFiltered))
	}
}

func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
