package dashboard

import (
	"context"
	"net/netip"
	"time"

	"github.com/nfpipe/nfpipe/pipeline"
	"github.com/nfpipe/nfpipe/pipeline/event"
	"github.com/nfpipe/nfpipe/sinks/sqlite/store"
)

// StoreProvider is implemented by the sqlite sink: the dashboard reads its
// history through the store's query layer.
type StoreProvider interface {
	Store() *store.Store
}

// storeHistory adapts the history store to History. Every query covers
// all probes of the store.
type storeHistory struct{ s *store.Store }

// maxCountries bounds a history country query; there are fewer than 250.
const maxCountries = 300

func (h storeHistory) TopTalkers(ctx context.Context, r Span, by string, limit int) ([]IPStat, error) {
	res, err := h.s.TopTalkers(ctx, store.TopQuery{Since: r.From, Until: r.To, By: by, Limit: limit})
	if err != nil {
		return nil, err
	}
	out := make([]IPStat, 0, len(res.Talkers))
	for _, t := range res.Talkers {
		row := IPStat{
			IP: t.IP, Bytes: u64(t.Bytes), BytesIn: u64(t.BytesIn), BytesOut: u64(t.BytesOut),
			Packets: u64(t.Packets), PacketsIn: u64(t.PacketsIn), PacketsOut: u64(t.PacketsOut), Flows: u64(t.Flows),
		}
		if t.CountryCode != "" || t.ASN != 0 {
			row.Geo = &event.Geo{CountryCode: t.CountryCode, ASN: uint32(t.ASN), ASOrg: t.ASOrg}
		}
		out = append(out, row)
	}
	return out, nil
}

func (h storeHistory) TimeSeries(ctx context.Context, r Span) (Series, error) {
	pts, err := h.s.TimeSeries(ctx, store.SeriesQuery{Since: r.From, Until: r.To, Bucket: r.Step})
	if err != nil {
		return Series{}, err
	}
	s := newSeries(len(pts))
	for _, p := range pts {
		// The store counts total traffic once, at its sender: it has no
		// direction, so all of it is reported as bytes.
		s.T = append(s.T, p.Time.UnixMilli())
		s.Bytes = append(s.Bytes, u64(p.Bytes))
		s.BytesIn = append(s.BytesIn, 0)
		s.BytesOut = append(s.BytesOut, 0)
		s.Packets = append(s.Packets, u64(p.Packets))
		s.Flows = append(s.Flows, u64(p.Flows))
	}
	return s, nil
}

func (h storeHistory) IPHistory(ctx context.Context, ip netip.Addr, r Span) (Series, error) {
	pts, err := h.s.IPHistory(ctx, store.IPHistoryQuery{IP: ip.String(), Since: r.From, Until: r.To, Bucket: r.Step})
	if err != nil {
		return Series{}, err
	}
	s := newSeries(len(pts))
	for _, p := range pts {
		s.T = append(s.T, p.Time.UnixMilli())
		s.BytesIn = append(s.BytesIn, u64(p.BytesIn))
		s.BytesOut = append(s.BytesOut, u64(p.BytesOut))
		s.Bytes = append(s.Bytes, u64(p.BytesIn+p.BytesOut))
		s.Packets = append(s.Packets, u64(p.PacketsIn+p.PacketsOut))
		s.Flows = append(s.Flows, u64(p.Flows))
	}
	return s, nil
}

func (h storeHistory) Alerts(ctx context.Context, r Span, limit int) ([]event.AlertRec, error) {
	page, err := h.s.Alerts(ctx, store.AlertQuery{Since: r.From, Until: r.To, Limit: limit})
	if err != nil {
		return nil, err
	}
	out := make([]event.AlertRec, 0, len(page.Alerts))
	for i := range page.Alerts {
		a := &page.Alerts[i]
		out = append(out, event.AlertRec{
			ID: a.AlertID, Rule: a.Rule, Severity: event.Severity(a.Severity), Time: event.Time(a.Time),
			State: event.AlertState(a.State), Subject: a.Subject, Message: a.Message, DedupKey: a.DedupeKey, Labels: a.LabelMap(),
		})
	}
	return out, nil
}

func (h storeHistory) Events(ctx context.Context, r Span, limit int) ([]pipeline.SystemEvent, error) {
	page, err := h.s.Events(ctx, store.EventQuery{Since: r.From, Until: r.To, Limit: limit})
	if err != nil {
		return nil, err
	}
	out := make([]pipeline.SystemEvent, 0, len(page.Events))
	for _, e := range page.Events {
		out = append(out, pipeline.SystemEvent{Time: time.Unix(0, e.Time).UTC(), Kind: e.Kind, Component: e.Component, Message: e.Message})
	}
	return out, nil
}

func (h storeHistory) Countries(ctx context.Context, r Span) ([]Country, error) {
	rows, err := h.s.Countries(ctx, store.CountryQuery{Since: r.From, Until: r.To, Limit: maxCountries})
	if err != nil {
		return nil, err
	}
	out := make([]Country, 0, len(rows))
	for _, c := range rows {
		out = append(out, Country{Code: c.Code, Name: c.Name, Bytes: u64(c.Bytes), Packets: u64(c.Packets), Flows: u64(c.Flows)})
	}
	return out, nil
}

func newSeries(n int) Series {
	return Series{
		T: make([]int64, 0, n), Bytes: make([]uint64, 0, n), BytesIn: make([]uint64, 0, n),
		BytesOut: make([]uint64, 0, n), Packets: make([]uint64, 0, n), Flows: make([]uint64, 0, n),
	}
}

// u64 converts a stored count; counts are never negative.
func u64(v int64) uint64 {
	if v < 0 {
		return 0
	}
	return uint64(v)
}

var _ History = storeHistory{}
