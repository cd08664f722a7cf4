package dashboard

import (
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/nfpipe/nfpipe/pipeline"
)

// SourceStatus is one source of the pipeline in /api/status.
type SourceStatus struct {
	Name    string `json:"name"`
	Type    string `json:"type"`
	Packets uint64 `json:"packets"`
	Bytes   uint64 `json:"bytes"`
	Health  string `json:"health"`
}

// StatusResponse is the body of GET /api/status.
type StatusResponse struct {
	Monitoring     bool              `json:"monitoring"` // true while sources run and are not paused
	State          string            `json:"state"`      // running, paused or stopped
	Source         string            `json:"source"`     // the sources' names, comma-separated
	Sources        []SourceStatus    `json:"sources"`
	Started        *time.Time        `json:"started,omitempty"`
	UptimeSeconds  float64           `json:"uptime_seconds"`
	Packets        uint64            `json:"packets"`
	Bytes          uint64            `json:"bytes"`
	PacketsPerSec  float64           `json:"packets_per_second"`
	BitsPerSec     float64           `json:"bits_per_second"`
	FlowsPerSec    float64           `json:"flows_per_second"`
	ActiveSessions int               `json:"active_sessions"`
	Flows          uint64            `json:"flows"`
	FlowsEnded     uint64            `json:"flows_ended"`
	Drops          uint64            `json:"drops"`
	DropsByStage   map[string]uint64 `json:"drops_by_stage"`
	Health         string            `json:"health"`
	Problems       []string          `json:"problems"`
	PacketClock    *time.Time        `json:"packet_clock,omitempty"` // latest packet time seen
	History        bool              `json:"history"`
	HistoryNote    string            `json:"history_note,omitempty"`
	GeoStage       bool              `json:"geo_stage"`
	AlertsStage    bool              `json:"alerts_stage"`
	Clients        int               `json:"websocket_clients"`
}

func (d *Dashboard) status() StatusResponse {
	sm, _, _ := d.sampler.latest()
	var st pipeline.Status
	if d.ctl != nil {
		st = d.ctl.Status() // fresh: start/stop must show at once
	}
	active, seen, ended, _, _, clock := d.live.counts()
	hist, note := d.historyState()
	d.mu.Lock()
	geo, alerts := d.geoStage, d.alertsOn
	d.mu.Unlock()
	state := monitoringState(st)
	r := StatusResponse{
		Monitoring: state == "running", State: state,
		Sources:       []SourceStatus{},
		PacketsPerSec: sm.PPS, BitsPerSec: sm.BPS, FlowsPerSec: sm.FPS,
		ActiveSessions: active, Flows: seen, FlowsEnded: ended,
		DropsByStage: map[string]uint64{},
		Health:       string(overallHealth(st)),
		Problems:     []string{},
		PacketClock:  tptr(clock),
		History:      hist != nil, HistoryNote: note,
		GeoStage: geo, AlertsStage: alerts,
		Clients: d.hub.count(),
	}
	var hasBytes bool
	r.Packets, r.Bytes, hasBytes = sourceTotals(st)
	if !hasBytes {
		// No source counts bytes: report the bytes seen in flows.
		_, _, _, r.Bytes, _, _ = d.live.counts()
	}
	if !st.Started.IsZero() {
		s := st.Started.UTC()
		r.Started = &s
		r.UptimeSeconds = time.Since(st.Started).Seconds()
	}
	var names []string
	for _, c := range st.Components {
		if c.Role == "source" {
			p, b, _ := sourceTotals(pipeline.Status{Components: []pipeline.ComponentStatus{c}})
			r.Sources = append(r.Sources, SourceStatus{Name: c.Name, Type: c.Type, Packets: p, Bytes: b, Health: string(c.Health)})
			names = append(names, c.Name)
		}
		drops := c.Dropped + kernelDrops(c)
		r.DropsByStage[c.Name] = drops
		r.Drops += drops
		if c.Health == pipeline.Unhealthy || c.Health == pipeline.Degraded {
			msg := c.Name + ": " + string(c.Health)
			if c.HealthMsg != "" {
				msg += ": " + c.HealthMsg
			}
			r.Problems = append(r.Problems, msg)
		}
	}
	r.Source = strings.Join(names, ",")
	return r
}

func (d *Dashboard) apiStatus(w http.ResponseWriter, r *http.Request) {
	if p := newParams(r); !p.ok(w) {
		return
	}
	writeJSON(w, http.StatusOK, d.status())
}

// apiStart resumes the sources (the old tool's start-monitoring).
func (d *Dashboard) apiStart(w http.ResponseWriter, r *http.Request) {
	d.control(w, r, false)
}

// apiStop pauses the sources; counters and the live view are kept.
func (d *Dashboard) apiStop(w http.ResponseWriter, r *http.Request) {
	d.control(w, r, true)
}

func (d *Dashboard) control(w http.ResponseWriter, r *http.Request, pause bool) {
	if p := newParams(r); !p.ok(w) {
		return
	}
	if d.ctl == nil {
		writeJSON(w, http.StatusServiceUnavailable, apiError{Error: "no pipeline control available"})
		return
	}
	if pause {
		d.ctl.Pause()
	} else {
		d.ctl.Resume()
	}
	st := d.status()
	msg := "monitoring resumed"
	if pause {
		msg = "monitoring paused"
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "message": msg, "monitoring": st.Monitoring, "state": st.State})
}

// PipelineNode is one component in /api/pipeline.
type PipelineNode struct {
	pipeline.ComponentStatus
	InPerSec   float64 `json:"in_per_second"`
	OutPerSec  float64 `json:"out_per_second"`
	DropPerSec float64 `json:"drops_per_second"`
}

// PipelineEdge is one input connection.
type PipelineEdge struct {
	From string `json:"from"`
	To   string `json:"to"`
}

func (d *Dashboard) apiPipeline(w http.ResponseWriter, r *http.Request) {
	if p := newParams(r); !p.ok(w) {
		return
	}
	_, _, rates := d.sampler.latest()
	var st pipeline.Status
	if d.ctl != nil {
		st = d.ctl.Status()
	}
	nodes := []PipelineNode{}
	edges := []PipelineEdge{}
	for _, c := range st.Components {
		rt := rates[c.Name]
		nodes = append(nodes, PipelineNode{ComponentStatus: c, InPerSec: rt.InPS, OutPerSec: rt.OutPS, DropPerSec: rt.DropPS})
		for _, in := range c.Inputs {
			from, _, _ := strings.Cut(in, ".")
			edges = append(edges, PipelineEdge{From: from, To: c.Name})
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"state": monitoringState(st), "health": overallHealth(st), "nodes": nodes, "edges": edges,
	})
}

func (d *Dashboard) apiEvents(w http.ResponseWriter, r *http.Request) {
	p := newParams(r, "limit", "kind", "range", "from", "to")
	limit := p.int("limit", 100, 1, 10000)
	kind := p.enum("kind", "", []string{"started", "stopped", "paused", "resumed", "error", "warning", "reload"})
	rng, from, to := p.span(0)
	if !p.ok(w) {
		return
	}
	var evs []pipeline.SystemEvent
	source := "live"
	hist, note := d.historyState()
	if (rng > 0 || !from.IsZero()) && hist != nil {
		// System events are stamped with the wall clock, not packet time.
		if to.IsZero() {
			to = time.Now().UTC()
		}
		sp := d.span(rng, from, to, 0)
		var err error
		if evs, err = hist.Events(r.Context(), sp, limit*2); err != nil {
			writeJSON(w, http.StatusInternalServerError, apiError{Error: "history: " + err.Error()})
			return
		}
		source = "history"
	} else if d.ctl != nil {
		evs = d.ctl.Events()
		slices.Reverse(evs) // newest first
	}
	out := []pipeline.SystemEvent{}
	for _, e := range evs {
		if kind == "" || e.Kind == kind {
			out = append(out, e)
		}
		if len(out) == limit {
			break
		}
	}
	resp := map[string]any{"source": source, "events": out}
	if source == "live" && note != "" {
		resp["history_note"] = note
	}
	writeJSON(w, http.StatusOK, resp)
}
