package pipeline

import (
	"sync"
	"time"
)

// SystemEvent is something that happened to the pipeline itself rather
// than to the traffic: it started, was paused or resumed, a component
// failed, the configuration was reloaded.
type SystemEvent struct {
	Time      time.Time `json:"time"`
	Kind      string    `json:"kind"` // started, stopped, paused, resumed, error, warning, reload
	Component string    `json:"component,omitempty"`
	Message   string    `json:"message"`
}

// eventLog keeps the most recent system events and fans them out to
// subscribers (the history sink stores them, the dashboard shows them).
type eventLog struct {
	mu     sync.Mutex
	recent []SystemEvent
	next   int
	full   bool
	subs   map[int]func(SystemEvent)
	subID  int
}

// eventLogSize bounds memory: enough for a dashboard's events page.
const eventLogSize = 256

func newEventLog() *eventLog {
	return &eventLog{recent: make([]SystemEvent, eventLogSize), subs: map[int]func(SystemEvent){}}
}

func (l *eventLog) record(e SystemEvent) {
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	l.mu.Lock()
	l.recent[l.next] = e
	l.next = (l.next + 1) % len(l.recent)
	l.full = l.full || l.next == 0
	subs := make([]func(SystemEvent), 0, len(l.subs))
	for _, f := range l.subs {
		subs = append(subs, f)
	}
	l.mu.Unlock()
	for _, f := range subs {
		f(e)
	}
}

func (l *eventLog) list() []SystemEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []SystemEvent
	if l.full {
		out = append(out, l.recent[l.next:]...)
	}
	return append(out, l.recent[:l.next]...)
}

func (l *eventLog) subscribe(f func(SystemEvent)) func() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.subID++
	id := l.subID
	l.subs[id] = f
	return func() {
		l.mu.Lock()
		delete(l.subs, id)
		l.mu.Unlock()
	}
}
