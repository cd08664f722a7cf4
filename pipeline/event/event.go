// Package event is the typed data model that travels between pipeline
// components: raw frames, decoded packets, flows, per-IP statistics and
// alerts. It is a leaf package (standard library only) so that plugin
// authors can import it without pulling in the engine.
package event

import (
	"fmt"
	"strings"
)

// Kind names the type of the events in a batch. Edges of the pipeline
// graph are typed by kind and checked when a pipeline is loaded.
type Kind uint8

// The event kinds. Raw carries captured frames; the others are described
// on their record types.
const (
	Raw Kind = iota + 1
	Packet
	Flow
	IPStat
	Alert
	numKinds
)

var kindNames = [...]string{Raw: "raw", Packet: "packet", Flow: "flow", IPStat: "ipstat", Alert: "alert"}

// String returns the kind's name as used in configuration and JSON.
func (k Kind) String() string {
	if k > 0 && k < numKinds {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// ParseKind returns the kind with the given name.
func ParseKind(s string) (Kind, bool) {
	for k := Raw; k < numKinds; k++ {
		if kindNames[k] == s {
			return k, true
		}
	}
	return 0, false
}

// Kinds is a set of event kinds.
type Kinds uint8

// KindsOf builds a set from the given kinds.
func KindsOf(ks ...Kind) Kinds {
	var s Kinds
	for _, k := range ks {
		s |= 1 << k
	}
	return s
}

// AllKinds returns every kind except Raw, which only the decoder consumes.
func AllKinds() Kinds { return KindsOf(Packet, Flow, IPStat, Alert) }

// Has reports whether k is in the set.
func (s Kinds) Has(k Kind) bool { return s&(1<<k) != 0 }

// Intersect returns the kinds in both sets.
func (s Kinds) Intersect(o Kinds) Kinds { return s & o }

// Empty reports whether the set has no kinds.
func (s Kinds) Empty() bool { return s == 0 }

// List returns the kinds of the set in order.
func (s Kinds) List() []Kind {
	var out []Kind
	for k := Raw; k < numKinds; k++ {
		if s.Has(k) {
			out = append(out, k)
		}
	}
	return out
}

// String renders the set as "flow|ipstat".
func (s Kinds) String() string {
	var names []string
	for _, k := range s.List() {
		names = append(names, k.String())
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, "|")
}
