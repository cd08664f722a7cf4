package dashboard

import (
	"cmp"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/nfpipe/nfpipe/pipeline"
	"github.com/nfpipe/nfpipe/pipeline/event"
)

// Rates are the current throughput.
type Rates struct {
	PPS float64 `json:"pps"` // packets per second
	BPS float64 `json:"bps"` // bits per second
	FPS float64 `json:"fps"` // new flows per second
}

// Totals are counts since the pipeline started.
type Totals struct {
	Packets    uint64 `json:"packets"`
	Bytes      uint64 `json:"bytes"`
	Flows      uint64 `json:"flows"`
	FlowsEnded uint64 `json:"flows_ended"`
}

// Summary is the WebSocket message pushed every push interval.
type Summary struct {
	Type           string              `json:"type"` // "summary"
	TS             float64             `json:"ts"`   // unix ms
	Seq            uint64              `json:"seq"`
	Monitoring     string              `json:"monitoring"` // running, paused, stopped
	Rates          Rates               `json:"rates"`
	Totals         Totals              `json:"totals"`
	ActiveSessions int                 `json:"active_sessions"`
	TopTalkers     []IPStat            `json:"top_talkers"` // by bytes over the last 5 minutes
	Protocols      map[string]protoAgg `json:"protocols"`
	Alerts         []event.AlertRec    `json:"alerts"` // received since the previous summary
	AlertsFiring   int                 `json:"alerts_firing"`
	Drops          uint64              `json:"drops"`
	Health         string              `json:"health"`
	Clock          *time.Time          `json:"clock,omitempty"` // latest packet time seen
	Clients        int                 `json:"clients"`
}

// tick samples the pipeline, pushes a summary and the session updates
// since the previous tick. It runs on the sink's goroutine, between
// batches.
func (d *Dashboard) tick(now time.Time) {
	var st pipeline.Status
	if d.ctl != nil {
		st = d.ctl.Status()
	}
	flowBytes, _, newFlows := d.live.takePending()
	active, seen, ended, _, _, clock := d.live.counts()
	sm := d.sampler.add(now, st, flowBytes, newFlows, active)
	d.seq++
	s := Summary{
		Type: "summary", TS: wsTime(now), Seq: d.seq,
		Monitoring:     monitoringState(st),
		Rates:          Rates{PPS: sm.PPS, BPS: sm.BPS, FPS: sm.FPS},
		Totals:         Totals{Packets: sm.Packets, Bytes: sm.Bytes, Flows: seen, FlowsEnded: ended},
		ActiveSessions: active,
		TopTalkers:     topN(d.live.ipStats(5), "bytes", 5),
		Protocols:      d.live.protoMix(),
		Alerts:         d.live.takeFreshAlerts(),
		Drops:          totalDrops(st),
		Health:         string(overallHealth(st)),
		Clock:          tptr(clock),
		Clients:        d.hub.count(),
	}
	_, _, s.AlertsFiring = d.live.alertsSnapshot()
	if s.Alerts == nil {
		s.Alerts = []event.AlertRec{}
	}
	msg, _ := json.Marshal(&s)
	d.mu.Lock()
	d.summary = msg
	d.mu.Unlock()
	d.hub.publish(topicSummary, msg)

	if !d.hub.wants(topicSessions) {
		d.live.takeDirty(0)
		return
	}
	if recs, more := d.live.takeDirty(maxSessionPush); len(recs) > 0 {
		d.hub.publish(topicSessions, sessionsMessage(now, recs, more))
	}
}

// maxSessionPush bounds one sessions message; the rest are counted in
// "more" and the client can re-query.
const maxSessionPush = 500

// sessionsMessage encodes {"type":"sessions","ts":…,"flows":[…],"more":n}
// with the flows in the JSON contract.
func sessionsMessage(now time.Time, recs []event.FlowRec, more int) []byte {
	b := make([]byte, 0, 64+len(recs)*400)
	b = append(b, `{"type":"sessions","ts":`...)
	b, _ = appendJSONValue(b, wsTime(now))
	b = append(b, `,"more":`...)
	b, _ = appendJSONValue(b, more)
	b = append(b, `,"flows":[`...)
	for i := range recs {
		if i > 0 {
			b = append(b, ',')
		}
		b = recs[i].AppendJSON(b)
	}
	return append(b, "]}"...)
}

func appendJSONValue(b []byte, v any) ([]byte, error) {
	m, err := json.Marshal(v)
	return append(b, m...), err
}

// lastSummary is the most recent summary, sent to new clients at once.
func (d *Dashboard) lastSummary() []byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.summary
}

// monitoringState is running, paused or stopped (sources finished).
func monitoringState(st pipeline.Status) string {
	if st.Paused {
		return "paused"
	}
	for _, c := range st.Components {
		if c.Role == "source" && c.Health != pipeline.Stopped {
			return "running"
		}
	}
	if st.Running && len(st.Components) == 0 {
		return "running"
	}
	return "stopped"
}

func totalDrops(st pipeline.Status) uint64 {
	var n uint64
	for _, c := range st.Components {
		n += c.Dropped + kernelDrops(c)
	}
	return n
}

// kernelDrops are drops a live capture source reports besides queue
// drops (packets the kernel could not hand over).
func kernelDrops(c pipeline.ComponentStatus) uint64 {
	var n uint64
	for k, v := range c.Counters {
		if strings.HasPrefix(k, "kernel_drop") || strings.HasSuffix(k, "_dropped") || k == "drops" {
			n += v
		}
	}
	return n
}

// overallHealth is the worst health of the running components.
func overallHealth(st pipeline.Status) pipeline.Health {
	h := pipeline.Healthy
	for _, c := range st.Components {
		switch c.Health {
		case pipeline.Unhealthy:
			return pipeline.Unhealthy
		case pipeline.Degraded:
			h = pipeline.Degraded
		}
	}
	return h
}

// topN sorts rows by a key (bytes, packets or flows) and keeps n.
func topN(rows []IPStat, by string, n int) []IPStat {
	key := func(r *IPStat) uint64 {
		switch by {
		case "packets":
			return r.Packets
		case "flows":
			return r.Flows
		}
		return r.Bytes
	}
	slices.SortFunc(rows, func(a, b IPStat) int {
		if c := cmp.Compare(key(&b), key(&a)); c != 0 {
			return c
		}
		return cmp.Compare(a.IP, b.IP)
	})
	if n > 0 && len(rows) > n {
		rows = rows[:n]
	}
	if rows == nil {
		rows = []IPStat{}
	}
	return rows
}
