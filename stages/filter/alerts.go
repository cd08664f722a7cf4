package filter

import (
	"encoding/binary"
	"encoding/hex"
	"hash/fnv"

	"github.com/nfpipe/nfpipe/pipeline/event"
)

// fire raises the key's alert if it is not firing, or sends it again when
// repeat_interval has passed since it was last sent.
func (f *filter) fire(rs *ruleState, ks *keyState, k stateKey, rec *recRef, value float64) {
	a := &ks.alert
	now := f.now[rec.kind]
	switch {
	case !a.firing:
		a.firing, a.since, a.lastSent = true, now, now
		a.subject = subjectOf(rs, k, rec)
		a.message = f.message(rs, a.subject, k, value)
		f.emit(rs, ks, event.AlertFiring, rec.t, rec, value)
		f.n.firing++
	case rs.alert.repeat > 0 && now-a.lastSent >= event.Time(rs.alert.repeat):
		a.lastSent = now
		a.message = f.message(rs, a.subject, k, value)
		f.emit(rs, ks, event.AlertFiring, rec.t, rec, value)
		f.n.repeated++
	}
}

// resolve ends the key's alert with a resolved event at the current
// packet time of its kind of records.
func (f *filter) resolve(rs *ruleState, ks *keyState, kind event.Kind, value float64) {
	ks.alert.firing = false
	f.emit(rs, ks, event.AlertResolved, f.now[kind], nil, value)
	f.n.resolved++
}

// subjectOf names what an alert is about: the key, the rule for a rule
// with one window, or the record for a rule without key.
func subjectOf(rs *ruleState, k stateKey, rec *recRef) string {
	if k.t == kNone {
		return rs.name
	}
	if rs.key == nil && rec.kind == event.Alert {
		return rec.alert.Subject
	}
	return k.String()
}

// message renders the alert's template over the record that fired it.
func (f *filter) message(rs *ruleState, subject string, k stateKey, value float64) string {
	m := &msgEnv{
		Env:       f.box.env,
		Rule:      rs.name,
		Severity:  string(rs.alert.severity),
		Subject:   subject,
		Key:       k.value(),
		Value:     value,
		Threshold: rs.threshold,
	}
	if rs.windowed() {
		m.Window = rs.window.String()
	}
	return rs.alert.message.render(m)
}

// emit queues one alert event. Firing events carry a copy of the record
// that fired them.
func (f *filter) emit(rs *ruleState, ks *keyState, state event.AlertState, t event.Time, rec *recRef, value float64) {
	a := event.AlertRec{
		Rule:     rs.name,
		Severity: rs.alert.severity,
		Time:     t,
		State:    state,
		Subject:  ks.alert.subject,
		Message:  ks.alert.message,
		DedupKey: rs.name + "/" + ks.alert.subject,
	}
	a.ID = alertID(a.DedupKey, state, t)
	if rs.windowed() {
		a.Labels = map[string]string{
			"aggregate": aggNames[rs.agg],
			"value":     format(value),
			"threshold": format(rs.threshold),
			"window":    rs.window.String(),
			"since":     ks.alert.since.Std().Format("2006-01-02T15:04:05.999999999Z07:00"),
		}
	}
	if rec != nil {
		switch rec.kind {
		case event.Flow:
			c := *rec.flow
			c.Tags = f.box.env.Flow.Tags
			a.Flow = &c
		case event.IPStat:
			c := *rec.ipstat
			a.IPStat = &c
		}
	}
	f.pending = append(f.pending, a)
}

var aggNames = map[aggregate]string{aggCount: "count", aggSum: "sum", aggDistinct: "distinct"}

// alertID is unique per alert event and the same on every replay of the
// same input: receivers drop repeats of an event by id, and group the
// events of one alert by dedupe key.
func alertID(dedup string, state event.AlertState, t event.Time) string {
	h := fnv.New64a()
	h.Write([]byte(dedup))
	h.Write([]byte{0})
	h.Write([]byte(state))
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(t))
	h.Write(b[:])
	return hex.EncodeToString(h.Sum(nil))
}
