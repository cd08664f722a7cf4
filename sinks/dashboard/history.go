package dashboard

import (
	"context"
	"net/netip"
	"time"

	"github.com/nfpipe/nfpipe/pipeline"
	"github.com/nfpipe/nfpipe/pipeline/event"
)

// History is the long-range store the dashboard reads ranges from that
// outlive its live view (the sqlite sink's query layer). Every method
// answers for the half-open span [r.From, r.To) in packet time.
type History interface {
	// TopTalkers returns per-address totals, ordered by "bytes",
	// "packets" or "flows", at most limit rows.
	TopTalkers(ctx context.Context, r Span, by string, limit int) ([]IPStat, error)
	// TimeSeries returns the whole traffic in steps of r.Step.
	TimeSeries(ctx context.Context, r Span) (Series, error)
	// IPHistory returns one address's traffic in steps of r.Step.
	IPHistory(ctx context.Context, ip netip.Addr, r Span) (Series, error)
	// Alerts returns alerts, newest first.
	Alerts(ctx context.Context, r Span, limit int) ([]event.AlertRec, error)
	// Events returns system events, newest first.
	Events(ctx context.Context, r Span, limit int) ([]pipeline.SystemEvent, error)
	// Countries returns per-country totals.
	Countries(ctx context.Context, r Span) ([]Country, error)
}

// Span is a time range with an optional step for series.
type Span struct {
	From, To time.Time
	Step     time.Duration
}

// Series is traffic over time as columns: T holds the start of each step
// in unix milliseconds. The whole traffic's series from the history has
// no direction: its bytes are in Bytes, BytesIn and BytesOut are zero.
type Series struct {
	T        []int64  `json:"t"`
	Bytes    []uint64 `json:"bytes"` // in and out together
	BytesIn  []uint64 `json:"bytes_in"`
	BytesOut []uint64 `json:"bytes_out"`
	Packets  []uint64 `json:"packets"`
	Flows    []uint64 `json:"flows"`
}

// HistoryProvider is implemented by a sink that can hand the dashboard a
// History (the sqlite sink).
type HistoryProvider interface {
	History() History
}

// historyOf returns the History a component offers, if any.
func historyOf(c pipeline.Component) (History, bool) {
	switch h := c.(type) {
	case History:
		return h, true
	case HistoryProvider:
		if hh := h.History(); hh != nil {
			return hh, true
		}
	case StoreProvider:
		if st := h.Store(); st != nil {
			return storeHistory{st}, true
		}
	}
	return nil, false
}

// historyState returns the history (nil without one) and the note that
// explains its absence.
func (d *Dashboard) historyState() (History, string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.history, d.histNote
}
