package filter

import (
	"sync/atomic"
	"time"

	"github.com/nfpipe/nfpipe/pipeline/event"
)

// ruleState is one running rule: its compiled definition and its keys.
type ruleState struct {
	*rule
	keys      map[stateKey]*keyState
	free      []*keyState
	nextSweep [8]event.Time  // per record kind
	matched   *atomic.Uint64 // published from hits once per batch
	hits      uint64
	errLogged bool
}

// keyState is what a rule remembers about one key.
type keyState struct {
	w         window
	alert     alertState
	lastMatch event.Time // alert rules without a window
}

// alertState is one alert's life: firing from since until resolved.
type alertState struct {
	firing   bool
	since    event.Time
	lastSent event.Time
	subject  string
	message  string
	value    float64
}

func newRuleState(r *rule) *ruleState {
	rs := &ruleState{rule: r}
	if r.stateful() {
		rs.keys = make(map[stateKey]*keyState)
	}
	return rs
}

// state returns the key's state, creating it; nil when the rule already
// tracks maxKeys keys.
func (rs *ruleState) state(k stateKey) *keyState {
	if ks := rs.keys[k]; ks != nil {
		return ks
	}
	if len(rs.keys) >= rs.maxKeys {
		return nil
	}
	var ks *keyState
	if n := len(rs.free); n > 0 {
		ks, rs.free = rs.free[n-1], rs.free[:n-1]
	} else {
		ks = &keyState{}
	}
	ks.w.reset()
	ks.alert = alertState{}
	ks.lastMatch = 0
	rs.keys[k] = ks
	return ks
}

// forget drops a key and keeps its memory for the next one.
func (rs *ruleState) forget(k stateKey, ks *keyState) {
	delete(rs.keys, k)
	if len(rs.free) < 1024 {
		rs.free = append(rs.free, ks)
	}
}

// slice returns the window slice of a packet time.
func (rs *ruleState) slice(t event.Time) int64 { return int64(t) / rs.bucket }

// sweepDue reports whether the rule's keys of a kind should be checked
// at now.
func (rs *ruleState) sweepDue(k event.Kind, now event.Time) bool {
	return rs.stateful() && now >= rs.nextSweep[k]
}

func (rs *ruleState) scheduleSweep(k event.Kind, now event.Time) {
	rs.nextSweep[k] = now + event.Time(rs.sweepEvery()/time.Nanosecond)
}
