package dashboard

import (
	"testing"
)

func TestSlowClientIsDroppedAndPublishNeverBlocks(t *testing.T) {
	h := newHub(4, 10)
	fast := h.add(topicSummary)
	slow := h.add(topicSummary)
	sessions := h.add(topicSessions)
	msg := []byte(`{"type":"summary"}`)
	for i := 0; i < 100; i++ {
		// Nobody reads slow: publish must still return at once every time.
		h.publish(topicSummary, msg)
		select {
		case <-fast.send:
		default:
			t.Fatalf("message %d did not reach the fast client", i)
		}
	}
	select {
	case <-slow.kicked:
	default:
		t.Fatal("the slow client was not disconnected")
	}
	select {
	case <-fast.kicked:
		t.Fatal("the fast client was disconnected")
	default:
	}
	if got := h.kicked.Load(); got != 1 {
		t.Errorf("kicked %d clients, want 1 (counted once)", got)
	}
	if len(sessions.send) != 0 {
		t.Error("a client got a topic it did not subscribe to")
	}
	if !h.wants(topicSessions) || h.wants(topicEvents) {
		t.Error("wants() does not follow the subscriptions")
	}
	h.remove(slow)
	if h.count() != 2 || h.gauge.Load() != 2 {
		t.Errorf("count %d gauge %d, want 2", h.count(), h.gauge.Load())
	}
}

func TestHubRefusesClientsOverTheLimit(t *testing.T) {
	h := newHub(4, 2)
	if h.add(topicSummary) == nil || h.add(topicSummary) == nil {
		t.Fatal("clients under the limit were refused")
	}
	if h.add(topicSummary) != nil {
		t.Fatal("a client over max_clients was accepted")
	}
}

func BenchmarkPublish200Clients(b *testing.B) {
	h := newHub(64, 1000)
	var clients []*wsClient
	for i := 0; i < 200; i++ {
		clients = append(clients, h.add(topicSummary))
	}
	msg := make([]byte, 2048)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		h.publish(topicSummary, msg)
		for _, c := range clients {
			<-c.send
		}
	}
}
