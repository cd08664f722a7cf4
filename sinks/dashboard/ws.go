package dashboard

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/nfpipe/nfpipe/pipeline"
)

// writeTimeout bounds one WebSocket write: a client that cannot take a
// message in this time is gone or hopelessly slow.
const writeTimeout = 5 * time.Second

// serveWS upgrades to a WebSocket and streams messages: a hello, then
// summaries, system events and (with ?topics=sessions) session updates.
func (d *Dashboard) serveWS(w http.ResponseWriter, r *http.Request) {
	topics := topicSummary | topicEvents
	if s := r.URL.Query().Get("topics"); s != "" {
		topics = 0
		for _, name := range strings.Split(s, ",") {
			t, ok := topicNames[strings.TrimSpace(name)]
			if !ok {
				writeJSON(w, http.StatusBadRequest, apiError{Error: "topics=" + s + ": want a comma-separated list of summary, sessions, events"})
				return
			}
			topics |= t
		}
	}
	c := d.hub.add(topics)
	if c == nil {
		writeJSON(w, http.StatusServiceUnavailable, apiError{Error: "too many WebSocket clients (max_clients); try again later"})
		return
	}
	defer d.hub.remove(c)
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		OriginPatterns:  d.originPatterns(),
		CompressionMode: websocket.CompressionDisabled, // CPU matters more than bytes on a LAN
	})
	if err != nil {
		return // Accept wrote the response (403 for a foreign origin)
	}
	defer conn.CloseNow()
	// Nothing is read from clients; CloseRead handles pings and closes and
	// cancels ctx when the client goes away.
	ctx := conn.CloseRead(r.Context())

	if err := write(ctx, conn, d.helloMessage()); err != nil {
		return
	}
	if m := d.lastSummary(); m != nil {
		if err := write(ctx, conn, m); err != nil {
			return
		}
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.kicked:
			if d.hub.closing.Load() {
				conn.Close(websocket.StatusGoingAway, "server shutting down")
			} else {
				conn.Close(websocket.StatusPolicyViolation, "client too slow: messages dropped, reconnect")
			}
			return
		case m := <-c.send:
			if err := write(ctx, conn, m); err != nil {
				return
			}
		}
	}
}

func write(ctx context.Context, conn *websocket.Conn, m []byte) error {
	wctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	return conn.Write(wctx, websocket.MessageText, m)
}

// wsTime is a message timestamp: unix milliseconds with microseconds, so
// clients can measure push latency.
func wsTime(t time.Time) float64 { return float64(t.UnixMicro()) / 1000 }

// helloMessage tells a new client what this dashboard has.
func (d *Dashboard) helloMessage() []byte {
	d.mu.Lock()
	m := map[string]any{
		"type":          "hello",
		"ts":            wsTime(time.Now()),
		"history":       d.history != nil,
		"history_note":  d.histNote,
		"geo_stage":     d.geoStage,
		"alerts_stage":  d.alertsOn,
		"push_interval": d.cfg.PushInterval.Seconds(),
		"auth":          d.token != "",
	}
	d.mu.Unlock()
	b, _ := json.Marshal(m)
	return b
}

// publishEvent pushes a system event to every client at once.
func (h *hub) publishEvent(e pipeline.SystemEvent) {
	b, _ := json.Marshal(struct {
		Type  string               `json:"type"`
		TS    float64              `json:"ts"`
		Event pipeline.SystemEvent `json:"event"`
	}{"event", wsTime(time.Now()), e})
	h.publish(topicEvents, b)
}
