package codec

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nfpipe/nfpipe/pipeline/event"
	pluginv1 "github.com/nfpipe/nfpipe/plugins/proto/nfpipe/plugin/v1"
)

func fullGeo(city string) *event.Geo {
	return &event.Geo{Label: "l", CountryCode: "DE", Country: "Germany", City: city, Lat: 50.9, Lon: 6.9, ASN: 3320, ASOrg: "DTAG"}
}

func fullFlow() event.FlowRec {
	return event.FlowRec{
		ID: 0xfedcba9876543210, Event: event.FlowEnd, Proto: 6,
		Client:    event.Endpoint{IP: netip.MustParseAddr("192.0.2.1"), Port: 51234, Geo: fullGeo("Köln")},
		Server:    event.Endpoint{IP: netip.MustParseAddr("2001:db8::443"), Port: 443, Geo: fullGeo("Bonn")},
		VLAN:      4094,
		FirstSeen: 1_700_000_000_000_000_001, LastSeen: 1_700_000_001_000_000_000,
		C2S: event.Counters{Packets: 3, Bytes: 180}, S2C: event.Counters{Packets: 1 << 40, Bytes: 1 << 62},
		TCPState: event.TCPReset, FlagsC2S: 0x12, FlagsS2C: 0xff, RTT: 1500 * time.Microsecond, Reason: event.ReasonRST,
		Tags: []string{"a", "b"}, Attrs: map[string]string{"k": "v", "x": "y"},
	}
}

func fullIPStat() event.IPStatRec {
	return event.IPStatRec{IP: netip.MustParseAddr("10.1.2.3"), Start: 10, End: 20, BytesIn: 1, BytesOut: 2, PacketsIn: 3, PacketsOut: 4, Flows: 5, Peers: 6, DstPorts: 7, Geo: fullGeo("x")}
}

func fullPacket() event.PacketRec {
	return event.PacketRec{TS: 99, WireLen: 1500, CapLen: 96, Iface: 2, VLAN: 10, InnerVLN: 20, Src: netip.MustParseAddr("::1"), Dst: netip.MustParseAddr("10.0.0.1"),
		Proto: 17, SrcPort: 53, DstPort: 5353, TCPFlags: 0x18, Frag: event.FragFirst, ICMPType: 3, ICMPCode: 4, Seq: 5, Ack: 6, FragID: 7, IPVer: 6}
}

func fullAlert() event.AlertRec {
	f, s := fullFlow(), fullIPStat()
	return event.AlertRec{ID: "a1", Rule: "r", Severity: "warning", Time: 5, State: event.AlertFiring, Subject: "s", Message: "m", DedupKey: "d",
		Flow: &f, IPStat: &s, Labels: map[string]string{"team": "net"}}
}

// checkAllSet fails if any field of v (recursively through structs and
// pointers) is zero, so a field added to the event model without a
// protocol counterpart makes these tests fail.
func checkAllSet(t *testing.T, name string, v reflect.Value) {
	t.Helper()
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			t.Errorf("%s is nil in the fixture", name)
			return
		}
		checkAllSet(t, name, v.Elem())
	case reflect.Struct:
		if v.Type() == reflect.TypeOf(netip.Addr{}) {
			if !v.Interface().(netip.Addr).IsValid() {
				t.Errorf("%s is unset in the fixture", name)
			}
			return
		}
		for i := 0; i < v.NumField(); i++ {
			checkAllSet(t, name+"."+v.Type().Field(i).Name, v.Field(i))
		}
	default:
		if v.IsZero() {
			t.Errorf("%s is zero in the fixture", name)
		}
	}
}

func TestRoundTripKeepsEveryField(t *testing.T) {
	f, s, p, a := fullFlow(), fullIPStat(), fullPacket(), fullAlert()
	for name, v := range map[string]any{"flow": &f, "ipstat": &s, "packet": &p, "alert": &a} {
		checkAllSet(t, name, reflect.ValueOf(v))
	}
	var enc Encoder
	for _, b := range []*event.Batch{
		{Kind: event.Flow, Flows: []event.FlowRec{f, {}, f}},
		{Kind: event.IPStat, IPStats: []event.IPStatRec{s, {}}},
		{Kind: event.Packet, Packets: []event.PacketRec{p, {}}},
		{Kind: event.Alert, Alerts: []event.AlertRec{a, {}}},
	} {
		m, err := enc.Encode(b)
		if err != nil {
			t.Fatal(err)
		}
		if !BatchMatches(b, m) {
			t.Errorf("%s: encoded batch does not match its source", b.Kind)
		}
		got := event.NewBatch(b.Kind)
		if err := Decode(m, got); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got.Flows, b.Flows) || !reflect.DeepEqual(got.IPStats, b.IPStats) ||
			!reflect.DeepEqual(got.Packets, b.Packets) || !reflect.DeepEqual(got.Alerts, b.Alerts) {
			t.Errorf("%s: round trip changed the records:\n got %+v\nwant %+v", b.Kind, got, b)
		}
	}
}

// TestMatchesSeesEveryChange changes one field at a time and expects the
// Match function to notice: an unnoticed change would be lost when a
// plugin answers "unchanged".
func TestMatchesSeesEveryChange(t *testing.T) {
	check := func(name string, fresh func() any, matches func(any) bool) {
		t.Helper()
		if !matches(fresh()) {
			t.Fatalf("%s: unchanged record does not match", name)
		}
		n := 0
		var walk func(path string, v reflect.Value)
		walk = func(path string, v reflect.Value) {
			switch v.Kind() {
			case reflect.Pointer:
				walk(path, v.Elem())
				return
			case reflect.Struct:
				if v.Type() != reflect.TypeOf(netip.Addr{}) {
					for i := 0; i < v.NumField(); i++ {
						walk(path+"."+v.Type().Field(i).Name, v.Field(i))
					}
					return
				}
			}
			n++
			rec := fresh()
			target := reflect.ValueOf(rec)
			for _, part := range splitPath(path) {
				for target.Kind() == reflect.Pointer {
					target = target.Elem()
				}
				target = target.FieldByName(part)
			}
			mutate(target)
			if matches(rec) {
				t.Errorf("%s: change of %s not seen", name, path)
			}
		}
		walk("", reflect.ValueOf(fresh()))
		if n < 10 {
			t.Fatalf("%s: only %d fields walked", name, n)
		}
	}
	var enc Encoder
	encode := func(b *event.Batch) *pluginv1.Batch {
		m, err := enc.Encode(b)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	fm := encode(&event.Batch{Kind: event.Flow, Flows: []event.FlowRec{fullFlow()}}).Flows[0]
	check("flow", func() any { f := fullFlow(); return &f }, func(r any) bool { return FlowMatches(r.(*event.FlowRec), fm) })
	sm := encode(&event.Batch{Kind: event.IPStat, IPStats: []event.IPStatRec{fullIPStat()}}).Ipstats[0]
	check("ipstat", func() any { s := fullIPStat(); return &s }, func(r any) bool { return IPStatMatches(r.(*event.IPStatRec), sm) })
	pm := encode(&event.Batch{Kind: event.Packet, Packets: []event.PacketRec{fullPacket()}}).Packets[0]
	check("packet", func() any { p := fullPacket(); return &p }, func(r any) bool { return PacketMatches(r.(*event.PacketRec), pm) })
	am := AlertToProto(func() *event.AlertRec { a := fullAlert(); return &a }())
	check("alert", func() any { a := fullAlert(); return &a }, func(r any) bool { return AlertMatches(r.(*event.AlertRec), am) })
}

func splitPath(p string) []string { return strings.Split(strings.TrimPrefix(p, "."), ".") }

// mutate changes a settable value to something different.
func mutate(v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		v.SetString(v.String() + "!")
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(v.Int() + 1)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(v.Uint() + 1)
	case reflect.Float64:
		v.SetFloat(v.Float() + 1)
	case reflect.Slice:
		v.Set(reflect.Append(v, reflect.ValueOf("extra")))
	case reflect.Map:
		// overwrite an existing key: the length stays the same
		for _, k := range v.MapKeys() {
			v.SetMapIndex(k, reflect.ValueOf("changed"))
			break
		}
	case reflect.Struct: // netip.Addr
		a := v.Interface().(netip.Addr)
		v.Set(reflect.ValueOf(a.Next()))
	default:
		panic("cannot mutate " + v.Kind().String())
	}
}

func TestDecodeRejectsOtherKinds(t *testing.T) {
	f := fullFlow()
	for _, m := range []*pluginv1.Batch{
		{Kind: pluginv1.Kind_KIND_IPSTAT},
		{Kind: pluginv1.Kind_KIND_FLOW, Ipstats: []*pluginv1.IPStat{{}}},
		{Flows: []*pluginv1.Flow{{}}},
	} {
		b := event.NewBatch(event.Flow)
		b.Flows = append(b.Flows, f)
		if err := Decode(m, b); err == nil {
			t.Errorf("%v accepted as a flow answer", m)
		}
		if len(b.Flows) != 1 {
			t.Errorf("records appended despite the error")
		}
	}
	// An empty answer without a kind is a filtered batch.
	if err := Decode(&pluginv1.Batch{}, event.NewBatch(event.Flow)); err != nil {
		t.Errorf("empty answer: %v", err)
	}
}

func TestAddrBytes(t *testing.T) {
	for _, s := range []string{"192.0.2.1", "::ffff:192.0.2.1", "2001:db8::1", "fe80::1%eth0"} {
		a := netip.MustParseAddr(s)
		b := AddrBytes(a)
		if got := Addr(b); got != a.WithZone("") {
			t.Errorf("%s came back as %s", s, got)
		}
	}
	if AddrBytes(netip.Addr{}) != nil || Addr(nil).IsValid() || Addr([]byte{1, 2, 3}).IsValid() {
		t.Error("invalid addresses must map to no bytes and back")
	}
}

func TestEncoderReusesMemory(t *testing.T) {
	b := &event.Batch{Kind: event.Flow}
	for i := 0; i < 500; i++ {
		f := fullFlow()
		f.ID = uint64(i)
		b.Flows = append(b.Flows, f)
	}
	var enc Encoder
	if _, err := enc.Encode(b); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(20, func() {
		if _, err := enc.Encode(b); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("a warmed-up encoder allocated %.0f times per batch", allocs)
	}
}
