package store

import (
	"encoding/json"
	"net/netip"
	"time"

	"github.com/nfpipe/nfpipe/pipeline/event"
)

// FlowFromRecord converts a flow record into a row. The conversion is
// lossless: (*Flow).Record gives back a record with the same JSON.
func FlowFromRecord(probe string, f *event.FlowRec) Flow {
	row := Flow{
		Probe:      probe,
		FlowID:     int64(f.ID),
		Proto:      int16(f.Proto),
		ClientIP:   addrString(f.Client.IP),
		ClientPort: int32(f.Client.Port),
		ServerIP:   addrString(f.Server.IP),
		ServerPort: int32(f.Server.Port),
		VLAN:       int32(f.VLAN),
		FirstSeen:  int64(f.FirstSeen),
		LastSeen:   int64(f.LastSeen),
		C2SPackets: int64(f.C2S.Packets),
		C2SBytes:   int64(f.C2S.Bytes),
		S2CPackets: int64(f.S2C.Packets),
		S2CBytes:   int64(f.S2C.Bytes),
		FlagsC2S:   int16(f.FlagsC2S),
		FlagsS2C:   int16(f.FlagsS2C),
		RTTNanos:   int64(f.RTT),
		Client:     geoCols(f.Client.Geo),
		Server:     geoCols(f.Server.Geo),
	}
	if f.Proto == 6 {
		row.TCPState = f.TCPState.String()
	}
	if f.Reason != event.ReasonNone {
		row.EndReason = f.Reason.String()
	}
	if len(f.Tags) > 0 {
		b, _ := json.Marshal(f.Tags)
		row.Tags = string(b)
	}
	if len(f.Attrs) > 0 {
		b, _ := json.Marshal(f.Attrs)
		row.Attrs = string(b)
	}
	return row
}

// Record converts the row back into a flow record (an end event).
func (f *Flow) Record() event.FlowRec {
	r := event.FlowRec{
		ID:        uint64(f.FlowID),
		Event:     event.FlowEnd,
		Proto:     uint8(f.Proto),
		Client:    event.Endpoint{IP: parseAddr(f.ClientIP), Port: uint16(f.ClientPort), Geo: f.Client.geo()},
		Server:    event.Endpoint{IP: parseAddr(f.ServerIP), Port: uint16(f.ServerPort), Geo: f.Server.geo()},
		VLAN:      uint16(f.VLAN),
		FirstSeen: event.Time(f.FirstSeen),
		LastSeen:  event.Time(f.LastSeen),
		C2S:       event.Counters{Packets: uint64(f.C2SPackets), Bytes: uint64(f.C2SBytes)},
		S2C:       event.Counters{Packets: uint64(f.S2CPackets), Bytes: uint64(f.S2CBytes)},
		TCPState:  parseTCPState(f.TCPState),
		FlagsC2S:  uint8(f.FlagsC2S),
		FlagsS2C:  uint8(f.FlagsS2C),
		RTT:       time.Duration(f.RTTNanos),
		Reason:    parseReason(f.EndReason),
	}
	if f.Tags != "" {
		_ = json.Unmarshal([]byte(f.Tags), &r.Tags)
	}
	if f.Attrs != "" {
		_ = json.Unmarshal([]byte(f.Attrs), &r.Attrs)
	}
	return r
}

// Bytes is the total of both directions.
func (f *Flow) Bytes() int64 { return f.C2SBytes + f.S2CBytes }

// Packets is the total of both directions.
func (f *Flow) Packets() int64 { return f.C2SPackets + f.S2CPackets }

// AppendJSON appends the flow in the JSON contract, with a "probe" key
// first when the row has one.
func (f *Flow) AppendJSON(dst []byte) []byte {
	rec := f.Record()
	if f.Probe == "" {
		return rec.AppendJSON(dst)
	}
	dst = append(dst, `{"probe":`...)
	dst = event.AppendString(dst, f.Probe)
	dst = append(dst, ',')
	n := len(dst)
	dst = rec.AppendJSON(dst)
	// drop the record's opening brace: the probe key opened the object
	copy(dst[n:], dst[n+1:])
	return dst[:len(dst)-1]
}

// MarshalJSON encodes the flow as AppendJSON does.
func (f Flow) MarshalJSON() ([]byte, error) { return f.AppendJSON(nil), nil }

func addrString(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.Unmap().String()
}

func parseAddr(s string) netip.Addr {
	a, _ := netip.ParseAddr(s)
	return a
}

func geoCols(g *event.Geo) GeoCols {
	if g == nil {
		return GeoCols{}
	}
	return GeoCols{
		Label: g.Label, CountryCode: g.CountryCode, Country: g.Country, City: g.City,
		Lat: g.Lat, Lon: g.Lon, ASN: int64(g.ASN), ASOrg: g.ASOrg,
	}
}

func (g *GeoCols) geo() *event.Geo {
	if *g == (GeoCols{}) {
		return nil
	}
	return &event.Geo{
		Label: g.Label, CountryCode: g.CountryCode, Country: g.Country, City: g.City,
		Lat: g.Lat, Lon: g.Lon, ASN: uint32(g.ASN), ASOrg: g.ASOrg,
	}
}

func parseTCPState(s string) event.TCPState {
	for st := event.TCPNone; st <= event.TCPReset; st++ {
		if st.String() == s {
			return st
		}
	}
	return event.TCPNone
}

func parseReason(s string) event.EndReason {
	for r := event.ReasonNone; r <= event.ReasonShutdown; r++ {
		if r.String() == s {
			return r
		}
	}
	return event.ReasonNone
}

// ParseTCPState returns the state with the given name (as in the JSON
// contract, e.g. "ESTABLISHED"), case-insensitively.
func ParseTCPState(s string) (event.TCPState, bool) {
	for st := event.TCPSynSent; st <= event.TCPReset; st++ {
		if equalFold(st.String(), s) {
			return st, true
		}
	}
	return event.TCPNone, false
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'a' <= x && x <= 'z' {
			x -= 'a' - 'A'
		}
		if 'a' <= y && y <= 'z' {
			y -= 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// AlertFromRecord converts an alert record into a row.
func AlertFromRecord(probe string, a *event.AlertRec) Alert {
	row := Alert{
		Probe:     probe,
		AlertID:   a.ID,
		Rule:      a.Rule,
		Severity:  string(a.Severity),
		Time:      int64(a.Time),
		State:     string(a.State),
		Subject:   a.Subject,
		Message:   a.Message,
		DedupeKey: a.DedupKey,
	}
	if len(a.Labels) > 0 {
		b, _ := json.Marshal(a.Labels)
		row.Labels = string(b)
	}
	switch {
	case a.Flow != nil:
		row.Record = string(a.Flow.AppendJSON(nil))
	case a.IPStat != nil:
		row.Record = string(a.IPStat.AppendJSON(nil))
	}
	return row
}

// LabelMap decodes the alert's labels.
func (a *Alert) LabelMap() map[string]string {
	if a.Labels == "" {
		return nil
	}
	var m map[string]string
	_ = json.Unmarshal([]byte(a.Labels), &m)
	return m
}

// MarshalJSON encodes the alert like the JSON contract's alert, with the
// firing record embedded as it was stored.
func (a Alert) MarshalJSON() ([]byte, error) {
	type alertJSON struct {
		Probe     string            `json:"probe,omitempty"`
		Kind      string            `json:"kind"`
		ID        string            `json:"id"`
		Rule      string            `json:"rule"`
		Severity  string            `json:"severity"`
		Time      time.Time         `json:"time"`
		State     string            `json:"state"`
		Subject   string            `json:"subject"`
		Message   string            `json:"message"`
		DedupeKey string            `json:"dedupe_key"`
		Labels    map[string]string `json:"labels,omitempty"`
		Record    json.RawMessage   `json:"record,omitempty"`
	}
	j := alertJSON{
		Probe: a.Probe, Kind: "alert", ID: a.AlertID, Rule: a.Rule, Severity: a.Severity,
		Time: time.Unix(0, a.Time).UTC(), State: a.State, Subject: a.Subject, Message: a.Message,
		DedupeKey: a.DedupeKey, Labels: a.LabelMap(),
	}
	if a.Record != "" {
		j.Record = json.RawMessage(a.Record)
	}
	return json.Marshal(j)
}

// MarshalJSON encodes the event with an RFC 3339 time.
func (e Event) MarshalJSON() ([]byte, error) {
	type eventJSON struct {
		Probe     string    `json:"probe,omitempty"`
		Time      time.Time `json:"time"`
		Kind      string    `json:"kind"`
		Component string    `json:"component,omitempty"`
		Message   string    `json:"message"`
	}
	return json.Marshal(eventJSON{e.Probe, time.Unix(0, e.Time).UTC(), e.Kind, e.Component, e.Message})
}
