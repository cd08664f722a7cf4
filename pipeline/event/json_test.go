package event_test

import (
	"bytes"
	"encoding/json"
	"math"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/nfpipe/nfpipe/pipeline/event"
)

// decode checks that b is one valid JSON object and decodes it into v.
func decode(t *testing.T, b []byte, v any) {
	t.Helper()
	if !json.Valid(b) {
		t.Fatalf("invalid JSON: %s", b)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
}

func ts(t *testing.T, s string) event.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return event.TimeOf(tm)
}

// The shapes below mirror the JSON contract with exact field names.
type jsonEndpoint struct {
	IP   string          `json:"ip"`
	Port uint16          `json:"port"`
	Geo  *map[string]any `json:"geo"`
}

type jsonFlow struct {
	Kind      string            `json:"kind"`
	Event     string            `json:"event"`
	ID        string            `json:"id"`
	Proto     string            `json:"proto"`
	Client    jsonEndpoint      `json:"client"`
	Server    jsonEndpoint      `json:"server"`
	VLAN      uint16            `json:"vlan"`
	FirstSeen string            `json:"first_seen"`
	LastSeen  string            `json:"last_seen"`
	C2S       map[string]uint64 `json:"c2s"`
	S2C       map[string]uint64 `json:"s2c"`
	TCP       *struct {
		State    string   `json:"state"`
		FlagsC2S string   `json:"flags_c2s"`
		FlagsS2C string   `json:"flags_s2c"`
		RTTms    *float64 `json:"rtt_ms"`
	} `json:"tcp"`
	EndReason *string           `json:"end_reason"`
	Tags      *[]string         `json:"tags"`
	Attrs     map[string]string `json:"attrs"`
}

func TestFlowJSONEdgeCases(t *testing.T) {
	f := event.FlowRec{
		ID:        0xfedcba9876543210,
		Event:     event.FlowEnd,
		Proto:     6,
		Client:    event.Endpoint{IP: netip.MustParseAddr("2001:db8::1"), Port: 51234},
		Server:    event.Endpoint{IP: netip.MustParseAddr("::ffff:192.0.2.1"), Port: 443},
		VLAN:      4094,
		FirstSeen: ts(t, "2024-02-29T23:59:59.000000001Z"),
		LastSeen:  ts(t, "2024-03-01T00:00:00Z"),
		C2S:       event.Counters{Packets: 3, Bytes: 180},
		S2C:       event.Counters{Packets: math.MaxUint64, Bytes: 1 << 60},
		TCPState:  event.TCPEstablished,
		FlagsC2S:  event.FlagSYN | event.FlagACK,
		FlagsS2C:  0xff,
		RTT:       1500 * time.Microsecond,
		Reason:    event.ReasonActiveTimeout,
	}
	var got jsonFlow
	decode(t, f.AppendJSON(nil), &got)
	if got.Kind != "flow" || got.Event != "end" || got.ID != "fedcba9876543210" || got.Proto != "tcp" || got.VLAN != 4094 {
		t.Errorf("header fields: %+v", got)
	}
	if got.Client.IP != "2001:db8::1" || got.Client.Port != 51234 {
		t.Errorf("IPv6 client: %+v", got.Client)
	}
	if got.Server.IP != "192.0.2.1" {
		t.Errorf("IPv4-mapped server rendered %q, want 192.0.2.1", got.Server.IP)
	}
	if got.Client.Geo != nil || got.Server.Geo != nil {
		t.Error("geo present without enrichment")
	}
	if got.FirstSeen != "2024-02-29T23:59:59.000000001Z" || got.LastSeen != "2024-03-01T00:00:00Z" {
		t.Errorf("timestamps %q, %q", got.FirstSeen, got.LastSeen)
	}
	for _, s := range []string{got.FirstSeen, got.LastSeen} {
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Errorf("%q is not RFC 3339: %v", s, err)
		}
		if tm.Location() != time.UTC {
			t.Errorf("%q is not in UTC", s)
		}
	}
	if got.FirstSeen != f.FirstSeen.Std().Format(time.RFC3339Nano) {
		t.Errorf("first_seen %q loses precision", got.FirstSeen)
	}
	if got.C2S["packets"] != 3 || got.C2S["bytes"] != 180 || got.S2C["packets"] != math.MaxUint64 || got.S2C["bytes"] != 1<<60 {
		t.Errorf("counters: c2s %v s2c %v", got.C2S, got.S2C)
	}
	if got.TCP == nil || got.TCP.State != "ESTABLISHED" || got.TCP.FlagsC2S != "...A..S." || got.TCP.FlagsS2C != "CEUAPRSF" {
		t.Fatalf("tcp: %+v", got.TCP)
	}
	if got.TCP.RTTms == nil || *got.TCP.RTTms != 1.5 {
		t.Errorf("rtt_ms = %v, want 1.5", got.TCP.RTTms)
	}
	if got.EndReason == nil || *got.EndReason != "active_timeout" {
		t.Errorf("end_reason = %v", got.EndReason)
	}
	if got.Tags != nil || got.Attrs != nil {
		t.Errorf("empty tags or attrs written: %v %v", got.Tags, got.Attrs)
	}
}

func TestFlowJSONOptionalParts(t *testing.T) {
	for _, tc := range []struct {
		name   string
		f      event.FlowRec
		absent []string
	}{
		{"udp has no tcp object", event.FlowRec{Proto: 17}, []string{`"tcp"`, `"end_reason"`, `"tags"`, `"attrs"`, `"geo"`}},
		{"tcp without rtt", event.FlowRec{Proto: 6}, []string{`"rtt_ms"`}},
		{"empty tags slice", event.FlowRec{Proto: 1, Tags: []string{}, Attrs: map[string]string{}}, []string{`"tags"`, `"attrs"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.f.AppendJSON(nil)
			var m map[string]any
			decode(t, b, &m)
			for _, key := range tc.absent {
				if bytes.Contains(b, []byte(key)) {
					t.Errorf("%s present: %s", key, b)
				}
			}
			if m["event"] != "update" {
				t.Errorf("a flow without an event type is an update, got %v", m["event"])
			}
		})
	}
	b := (&event.FlowRec{Proto: 47}).AppendJSON(nil)
	var m map[string]any
	decode(t, b, &m)
	if m["proto"] != "47" {
		t.Errorf("unknown protocol rendered %v, want \"47\"", m["proto"])
	}
	// An address never set renders as an empty string, not as "invalid IP".
	if c := m["client"].(map[string]any); c["ip"] != "" {
		t.Errorf("unset address rendered %v", c["ip"])
	}
}

// hostile are strings that need escaping or repair.
var hostile = []string{
	"",
	`quote " and backslash \`,
	"line\nbreak\r\ttab",
	"control \x00\x01\x1f\x7f",
	"<script>alert('x')</script> & more",
	"unicode é ü 日本 🚀",
	"separators \u2028 \u2029",
	"invalid utf-8 \xff\xfe end",
	"truncated rune \xe6\x97",
}

func TestStringsAreEscaped(t *testing.T) {
	for _, s := range hostile {
		b := event.AppendString(nil, s)
		var got string
		decode(t, b, &got)
		if want := std(t, s); got != want {
			t.Errorf("%q decodes to %q, encoding/json gives %q", s, got, want)
		}
		if strings.ToValidUTF8(s, "") == s && got != s {
			t.Errorf("valid string %q changed to %q", s, got)
		}
		for _, raw := range []string{"<", ">", "&", "\u2028", "\u2029"} {
			if bytes.Contains(b, []byte(raw)) {
				t.Errorf("%q: %q not escaped in %s (unsafe to embed in HTML or JavaScript)", s, raw, b)
			}
		}
	}
}

// std is what encoding/json gives back for s: invalid UTF-8 bytes each
// become U+FFFD.
func std(t *testing.T, s string) string {
	t.Helper()
	var out string
	ref, _ := json.Marshal(s)
	if err := json.Unmarshal(ref, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestTagsAttrsAndLabelsWithEscapes(t *testing.T) {
	f := event.FlowRec{Proto: 17, Tags: hostile, Attrs: map[string]string{}}
	want := map[string]string{}
	for i, s := range hostile {
		v := hostile[len(hostile)-1-i]
		f.Attrs[s] = v
		want[std(t, s)] = std(t, v)
	}
	var got jsonFlow
	decode(t, f.AppendJSON(nil), &got)
	if got.Tags == nil || len(*got.Tags) != len(hostile) {
		t.Fatalf("tags: %v", got.Tags)
	}
	for i, s := range hostile {
		if (*got.Tags)[i] != std(t, s) {
			t.Errorf("tag %d = %q, want %q", i, (*got.Tags)[i], std(t, s))
		}
	}
	if len(got.Attrs) != len(want) {
		t.Errorf("attrs: %d keys, want %d", len(got.Attrs), len(want))
	}
	for k, v := range want {
		if got.Attrs[k] != v {
			t.Errorf("attr %q = %q, want %q", k, got.Attrs[k], v)
		}
	}
	// Attrs are written in key order, so equal records give equal lines.
	a, b := f.AppendJSON(nil), f.AppendJSON(nil)
	if !bytes.Equal(a, b) {
		t.Error("the same flow encodes differently twice")
	}
}

func TestGeoPresentAbsentAndBroken(t *testing.T) {
	for _, tc := range []struct {
		name string
		geo  *event.Geo
		want string
	}{
		{"absent", nil, ""},
		{"empty", &event.Geo{}, `{}`},
		{"label only", &event.Geo{Label: "private"}, `{"label":"private"}`},
		{"full", &event.Geo{Label: "x", CountryCode: "DE", Country: "Deutschland", City: "Köln \"Mitte\"", Lat: 50.9375, Lon: 6.9603, ASN: 3320, ASOrg: "Deutsche Telekom AG"},
			`{"label":"x","country_code":"DE","country":"Deutschland","city":"Köln \"Mitte\"","lat":50.9375,"lon":6.9603,"asn":3320,"as_org":"Deutsche Telekom AG"}`},
		{"equator and meridian", &event.Geo{CountryCode: "GH", Lat: 0, Lon: -0.0001}, `{"country_code":"GH","lat":0,"lon":-0.0001}`},
		{"not a number", &event.Geo{City: "x", Lat: math.NaN(), Lon: 1}, `{"city":"x"}`},
		{"infinite", &event.Geo{Lat: math.Inf(1), Lon: math.Inf(-1)}, `{}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := event.IPStatRec{IP: netip.MustParseAddr("192.0.2.7"), Geo: tc.geo}
			b := s.AppendJSON(nil)
			var m map[string]json.RawMessage
			decode(t, b, &m)
			geo, ok := m["geo"]
			if tc.geo == nil {
				if ok {
					t.Errorf("geo written without enrichment: %s", b)
				}
				return
			}
			if string(geo) != tc.want {
				t.Errorf("geo = %s, want %s", geo, tc.want)
			}
			// The endpoint form uses the same encoder.
			f := event.FlowRec{Client: event.Endpoint{IP: s.IP, Geo: tc.geo}}
			var fm jsonFlow
			decode(t, f.AppendJSON(nil), &fm)
			if fm.Client.Geo == nil {
				t.Error("endpoint geo missing")
			}
		})
	}
}

func TestIPStatJSON(t *testing.T) {
	s := event.IPStatRec{
		IP:    netip.MustParseAddr("::ffff:10.1.2.3"),
		Start: ts(t, "1969-12-31T23:59:50Z"), End: ts(t, "1970-01-01T00:00:00Z"),
		BytesIn: 1, BytesOut: math.MaxUint64, PacketsIn: 2, PacketsOut: 3, Flows: 4, Peers: math.MaxUint32, DstPorts: 65535,
	}
	var got struct {
		Kind       string `json:"kind"`
		IP         string `json:"ip"`
		Start, End string
		BytesIn    uint64 `json:"bytes_in"`
		BytesOut   uint64 `json:"bytes_out"`
		PacketsIn  uint64 `json:"packets_in"`
		PacketsOut uint64 `json:"packets_out"`
		Flows      uint64 `json:"flows"`
		Peers      uint32 `json:"peers"`
		DstPorts   uint32 `json:"dst_ports"`
	}
	b := s.AppendJSON(nil)
	decode(t, b, &got)
	if got.Kind != "ipstat" || got.IP != "10.1.2.3" || got.Start != "1969-12-31T23:59:50Z" || got.End != "1970-01-01T00:00:00Z" {
		t.Errorf("%+v", got)
	}
	if got.BytesOut != math.MaxUint64 || got.Peers != math.MaxUint32 || got.DstPorts != 65535 || got.Flows != 4 || got.PacketsOut != 3 {
		t.Errorf("counters: %+v", got)
	}
	var keys map[string]any
	decode(t, b, &keys)
	for _, k := range []string{"kind", "ip", "start", "end", "bytes_in", "bytes_out", "packets_in", "packets_out", "flows", "peers", "dst_ports"} {
		if _, ok := keys[k]; !ok {
			t.Errorf("missing %q", k)
		}
	}
	if len(keys) != 11 {
		t.Errorf("%d keys, want 11: %s", len(keys), b)
	}
}

func TestPacketJSON(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    event.PacketRec
		want map[string]any
		not  []string
	}{
		{"tcp", event.PacketRec{TS: ts(t, "2024-01-01T00:00:00.5Z"), WireLen: 60, CapLen: 54, Proto: 6, Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("fe80::1%eth0"), SrcPort: 1, DstPort: 2, TCPFlags: event.FlagRST},
			map[string]any{"kind": "packet", "ts": "2024-01-01T00:00:00.5Z", "len": json.Number("60"), "caplen": json.Number("54"), "proto": "tcp", "src": "10.0.0.1", "dst": "fe80::1%eth0", "sport": json.Number("1"), "dport": json.Number("2"), "tcp_flags": ".....R.."},
			[]string{"vlan", "icmp_type"}},
		{"icmpv6 in a vlan", event.PacketRec{Proto: 58, VLAN: 7, Src: netip.MustParseAddr("2001:db8::1"), Dst: netip.MustParseAddr("ff02::1"), ICMPType: 135},
			map[string]any{"proto": "icmpv6", "vlan": json.Number("7"), "icmp_type": json.Number("135"), "icmp_code": json.Number("0"), "ts": "1970-01-01T00:00:00Z"},
			[]string{"sport", "dport", "tcp_flags"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var m map[string]any
			b := tc.p.AppendJSON(nil)
			decode(t, b, &m)
			for k, v := range tc.want {
				if m[k] != v {
					t.Errorf("%s = %#v, want %#v", k, m[k], v)
				}
			}
			for _, k := range tc.not {
				if _, ok := m[k]; ok {
					t.Errorf("%s present: %s", k, b)
				}
			}
		})
	}
}

func TestAlertJSONNestsRecords(t *testing.T) {
	a := event.AlertRec{
		ID: "a-1", Rule: "big_transfer", Severity: "warning", Time: ts(t, "2024-05-01T10:00:00.000001Z"), State: event.AlertFiring,
		Subject: "10.0.0.1 → 93.184.216.34", Message: "sent \"100 MB\"\n<in 10s>", DedupKey: "big_transfer/10.0.0.1",
		Labels: map[string]string{"team": "net", "": "empty key"},
		Flow:   &event.FlowRec{Proto: 6, Tags: []string{"big"}},
		IPStat: &event.IPStatRec{IP: netip.MustParseAddr("10.0.0.1")},
	}
	var got struct {
		Kind, ID, Rule, Severity, Time, State, Subject, Message string
		DedupeKey                                               string            `json:"dedupe_key"`
		Labels                                                  map[string]string `json:"labels"`
		Flow                                                    jsonFlow          `json:"flow"`
		IPStat                                                  map[string]any    `json:"ipstat"`
	}
	decode(t, a.AppendJSON(nil), &got)
	if got.Kind != "alert" || got.Message != a.Message || got.Subject != a.Subject || got.DedupeKey != a.DedupKey || got.Time != "2024-05-01T10:00:00.000001Z" || got.State != "firing" {
		t.Errorf("%+v", got)
	}
	if got.Labels["team"] != "net" || got.Labels[""] != "empty key" {
		t.Errorf("labels %v", got.Labels)
	}
	if got.Flow.Kind != "flow" || got.Flow.Tags == nil || (*got.Flow.Tags)[0] != "big" || got.IPStat["ip"] != "10.0.0.1" {
		t.Errorf("nested: %+v %v", got.Flow, got.IPStat)
	}
}

func TestBatchJSONLines(t *testing.T) {
	for _, b := range []*event.Batch{
		{Kind: event.Flow, Flows: []event.FlowRec{{Proto: 6}, {Proto: 17, Tags: hostile}, {}}},
		{Kind: event.IPStat, IPStats: []event.IPStatRec{{}, {IP: netip.MustParseAddr("::1")}}},
		{Kind: event.Packet, Packets: []event.PacketRec{{}, {Proto: 1}}},
		{Kind: event.Alert, Alerts: []event.AlertRec{{}, {Message: "a\nb"}}},
	} {
		prefix := []byte("kept\n")
		out := b.AppendJSONLines(append([]byte(nil), prefix...))
		if !bytes.HasPrefix(out, prefix) {
			t.Fatal("the caller's buffer was overwritten")
		}
		lines := bytes.Split(bytes.TrimSuffix(out[len(prefix):], []byte("\n")), []byte("\n"))
		if len(lines) != b.Len() {
			t.Errorf("%s: %d lines for %d events", b.Kind, len(lines), b.Len())
		}
		for _, l := range lines {
			var m map[string]any
			decode(t, l, &m)
			if m["kind"] != b.Kind.String() {
				t.Errorf("kind %v in a %s batch", m["kind"], b.Kind)
			}
		}
	}
	if out := (&event.Batch{Kind: event.Raw, Frames: []event.Frame{{}}}).AppendJSONLines(nil); len(out) != 0 {
		t.Errorf("raw frames have no JSON form, got %q", out)
	}
}

func TestMarshalJSONUsesTheContract(t *testing.T) {
	v := struct {
		F event.FlowRec   `json:"f"`
		S event.IPStatRec `json:"s"`
		A event.AlertRec  `json:"a"`
	}{F: event.FlowRec{Proto: 6}, S: event.IPStatRec{}, A: event.AlertRec{}}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"f":{"kind":"flow"`, `"s":{"kind":"ipstat"`, `"a":{"kind":"alert"`} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("%s not in %s", want, b)
		}
	}
}

func TestFlagString(t *testing.T) {
	for f, want := range map[uint8]string{
		0:                             "........",
		event.FlagSYN:                 "......S.",
		event.FlagSYN | event.FlagACK: "...A..S.",
		event.FlagFIN | event.FlagPSH: "....P..F",
		event.FlagCWR | event.FlagECE: "CE......",
		event.FlagURG | event.FlagRST: "..U..R..",
		0xff:                          "CEUAPRSF",
	} {
		if got := event.FlagString(f); got != want {
			t.Errorf("FlagString(%#x) = %q, want %q", f, got, want)
		}
	}
}

// FuzzAppendString checks that any string encodes to valid JSON that
// decodes to what encoding/json would produce.
func FuzzAppendString(f *testing.F) {
	for _, s := range hostile {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b := event.AppendString(nil, s)
		if !json.Valid(b) {
			t.Fatalf("invalid JSON for %q: %s", s, b)
		}
		var got, want string
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		ref, _ := json.Marshal(s)
		if err := json.Unmarshal(ref, &want); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("%q decodes to %q, want %q", s, got, want)
		}
	})
}
