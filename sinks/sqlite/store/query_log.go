package store

import (
	"context"
	"strconv"
	"time"
)

// AlertQuery selects alerts. Every field is optional.
type AlertQuery struct {
	// Since and Until bound the alert's time (packet time).
	Since, Until time.Time
	Rule         string
	Severity     string
	// State is "firing" or "resolved".
	State string
	// Subject matches exactly (e.g. an IP address).
	Subject string
	Probe   string
	// Limit is the page size: default 100.
	Limit  int
	Cursor string
}

// AlertPage is one page of alerts, newest first.
type AlertPage struct {
	Alerts []Alert `json:"alerts"`
	Next   string  `json:"next,omitempty"`
}

// Alerts returns alerts matching q, newest first.
func (s *Store) Alerts(ctx context.Context, q AlertQuery) (AlertPage, error) {
	var w where
	w.add("time >= ?", sinceNS(q.Since))
	w.add("time < ?", untilNS(q.Until))
	for _, c := range []struct{ col, v string }{{"rule", q.Rule}, {"severity", q.Severity}, {"state", q.State}, {"subject", q.Subject}, {"probe", q.Probe}} {
		if c.v != "" {
			w.add(c.col+" = ?", c.v)
		}
	}
	if err := cursorCond(&w, q.Cursor); err != nil {
		return AlertPage{}, err
	}
	limit := limitOf(q.Limit)
	var rows []Alert
	if err := s.db.NewSelect().Model(&rows).Where(w.sql(), w.args...).OrderExpr("time DESC, id DESC").Limit(int64(limit + 1)).Scan(ctx); err != nil {
		return AlertPage{}, err
	}
	page := AlertPage{Alerts: rows}
	if len(rows) > limit {
		page.Alerts = rows[:limit]
		last := rows[limit-1]
		page.Next = logCursor(last.Time, last.ID)
	}
	return page, nil
}

// EventQuery selects system events. Every field is optional.
type EventQuery struct {
	// Since and Until bound the event's time (wall-clock time).
	Since, Until time.Time
	// Kind is started, stopped, paused, resumed, error, warning, reload, …
	Kind      string
	Component string
	Probe     string
	Limit     int
	Cursor    string
}

// EventPage is one page of events, newest first.
type EventPage struct {
	Events []Event `json:"events"`
	Next   string  `json:"next,omitempty"`
}

// Events returns system events matching q, newest first.
func (s *Store) Events(ctx context.Context, q EventQuery) (EventPage, error) {
	var w where
	w.add("time >= ?", sinceNS(q.Since))
	w.add("time < ?", untilNS(q.Until))
	for _, c := range []struct{ col, v string }{{"kind", q.Kind}, {"component", q.Component}, {"probe", q.Probe}} {
		if c.v != "" {
			w.add(c.col+" = ?", c.v)
		}
	}
	if err := cursorCond(&w, q.Cursor); err != nil {
		return EventPage{}, err
	}
	limit := limitOf(q.Limit)
	var rows []Event
	if err := s.db.NewSelect().Model(&rows).Where(w.sql(), w.args...).OrderExpr("time DESC, id DESC").Limit(int64(limit + 1)).Scan(ctx); err != nil {
		return EventPage{}, err
	}
	page := EventPage{Events: rows}
	if len(rows) > limit {
		page.Events = rows[:limit]
		last := rows[limit-1]
		page.Next = logCursor(last.Time, last.ID)
	}
	return page, nil
}

// logCursor encodes the (time, id) of the last row of a page.
func logCursor(t, id int64) string {
	return strconv.FormatInt(t, 10) + "." + strconv.FormatInt(id, 10)
}

// cursorCond continues after the row a cursor names, in (time, id)
// descending order.
func cursorCond(w *where, cursor string) error {
	if cursor == "" {
		return nil
	}
	var t, id int64
	i := len(cursor) - 1
	for i >= 0 && cursor[i] != '.' {
		i--
	}
	var err1, err2 error
	if i > 0 {
		t, err1 = strconv.ParseInt(cursor[:i], 10, 64)
		id, err2 = strconv.ParseInt(cursor[i+1:], 10, 64)
	}
	if i <= 0 || err1 != nil || err2 != nil {
		return badQuery("cursor %q is not one this store returned", cursor)
	}
	w.add("(time < ? OR (time = ? AND id < ?))", t, t, id)
	return nil
}
