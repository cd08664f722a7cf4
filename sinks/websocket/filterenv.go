package websocket

import (
	"net/netip"
	"time"

	"github.com/nfpipe/nfpipe/pipeline/event"
)

// filterEnv is what a client's filter expression sees: the event's kind
// and time, and its record under the kind's name; the records of the
// other kinds are zero, so write kind == "flow" && flow.bytes > 1e6.
//
// The names are those of the filter stage's rules, so an expression
// written for one works in the other, with three differences: addresses
// here are strings (flow.client_ip == "10.0.0.1" and in_cidr work in
// both), the stream adds a few fields (flow.id, alert.id, alert.labels),
// and of the filter stage's helpers only in_cidr and port_in exist here.
type filterEnv struct {
	Kind   string    `expr:"kind"`
	Time   time.Time `expr:"time"`
	Flow   flowEnv   `expr:"flow"`
	IPStat ipstatEnv `expr:"ipstat"`
	Alert  alertEnv  `expr:"alert"`
}

// flowEnv is a flow; bytes and packets are the totals of both
// directions, duration is in seconds.
type flowEnv struct {
	ID            string            `expr:"id"`
	Event         string            `expr:"event"`
	Proto         string            `expr:"proto"`
	ProtoNum      int               `expr:"proto_num"`
	ClientIP      string            `expr:"client_ip"`
	ClientPort    int               `expr:"client_port"`
	ServerIP      string            `expr:"server_ip"`
	ServerPort    int               `expr:"server_port"`
	VLAN          int               `expr:"vlan"`
	Bytes         int               `expr:"bytes"`
	Packets       int               `expr:"packets"`
	BytesC2S      int               `expr:"bytes_c2s"`
	BytesS2C      int               `expr:"bytes_s2c"`
	PacketsC2S    int               `expr:"packets_c2s"`
	PacketsS2C    int               `expr:"packets_s2c"`
	FirstSeen     time.Time         `expr:"first_seen"`
	LastSeen      time.Time         `expr:"last_seen"`
	Duration      float64           `expr:"duration"`
	State         string            `expr:"state"`
	FlagsC2S      string            `expr:"flags_c2s"`
	FlagsS2C      string            `expr:"flags_s2c"`
	RTTms         float64           `expr:"rtt_ms"`
	EndReason     string            `expr:"end_reason"`
	Tags          []string          `expr:"tags"`
	Attrs         map[string]string `expr:"attrs"`
	ClientCountry string            `expr:"client_country"`
	ServerCountry string            `expr:"server_country"`
	ClientCity    string            `expr:"client_city"`
	ServerCity    string            `expr:"server_city"`
	ClientASN     int               `expr:"client_asn"`
	ServerASN     int               `expr:"server_asn"`
	ClientASOrg   string            `expr:"client_as_org"`
	ServerASOrg   string            `expr:"server_as_org"`
	ClientLabel   string            `expr:"client_label"`
	ServerLabel   string            `expr:"server_label"`
}

// ipstatEnv is a per-IP interval.
type ipstatEnv struct {
	IP         string    `expr:"ip"`
	BytesIn    int       `expr:"bytes_in"`
	BytesOut   int       `expr:"bytes_out"`
	Bytes      int       `expr:"bytes"`
	PacketsIn  int       `expr:"packets_in"`
	PacketsOut int       `expr:"packets_out"`
	Packets    int       `expr:"packets"`
	Flows      int       `expr:"flows"`
	Peers      int       `expr:"peers"`
	DstPorts   int       `expr:"dst_ports"`
	Start      time.Time `expr:"start"`
	End        time.Time `expr:"end"`
	Interval   float64   `expr:"interval"`
	Country    string    `expr:"country"`
	City       string    `expr:"city"`
	ASN        int       `expr:"asn"`
	ASOrg      string    `expr:"as_org"`
	Label      string    `expr:"label"`
}

// alertEnv is an alert.
type alertEnv struct {
	ID       string            `expr:"id"`
	Rule     string            `expr:"rule"`
	Severity string            `expr:"severity"`
	State    string            `expr:"state"`
	Subject  string            `expr:"subject"`
	Message  string            `expr:"message"`
	DedupKey string            `expr:"dedup_key"`
	Labels   map[string]string `expr:"labels"`
}

// fillEnvs builds the filter view of every event of a batch.
func fillEnvs(b *event.Batch, envs []filterEnv) []filterEnv {
	envs = envs[:0]
	kind := b.Kind.String()
	switch b.Kind {
	case event.Flow:
		for i := range b.Flows {
			f := &b.Flows[i]
			envs = append(envs, filterEnv{Kind: kind, Time: f.LastSeen.Std(), Flow: flowView(f)})
		}
	case event.IPStat:
		for i := range b.IPStats {
			s := &b.IPStats[i]
			envs = append(envs, filterEnv{Kind: kind, Time: s.End.Std(), IPStat: ipstatView(s)})
		}
	case event.Alert:
		for i := range b.Alerts {
			a := &b.Alerts[i]
			envs = append(envs, filterEnv{Kind: kind, Time: a.Time.Std(), Alert: alertView(a)})
		}
	}
	return envs
}

func addrString(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.Unmap().String()
}

// geoView copies what a filter sees of a location.
func geoView(g *event.Geo, country, city *string, asn *int, org, label *string) {
	if g != nil {
		*country, *city, *asn, *org, *label = g.CountryCode, g.City, int(g.ASN), g.ASOrg, g.Label
	}
}

func flowView(f *event.FlowRec) flowEnv {
	ev := "update"
	if f.Event == event.FlowEnd {
		ev = "end"
	}
	v := flowEnv{
		ID: event.FlowID(f.ID), Event: ev, Proto: event.ProtoName(f.Proto), ProtoNum: int(f.Proto),
		ClientIP: addrString(f.Client.IP), ClientPort: int(f.Client.Port),
		ServerIP: addrString(f.Server.IP), ServerPort: int(f.Server.Port),
		VLAN: int(f.VLAN), Bytes: int(f.Bytes()), Packets: int(f.Packets()),
		BytesC2S: int(f.C2S.Bytes), BytesS2C: int(f.S2C.Bytes),
		PacketsC2S: int(f.C2S.Packets), PacketsS2C: int(f.S2C.Packets),
		FirstSeen: f.FirstSeen.Std(), LastSeen: f.LastSeen.Std(),
		Duration: float64(f.LastSeen-f.FirstSeen) / 1e9,
		RTTms:    float64(f.RTT) / 1e6, EndReason: f.Reason.String(),
		Tags: f.Tags, Attrs: f.Attrs,
	}
	if f.Proto == 6 {
		v.State = f.TCPState.String()
		v.FlagsC2S, v.FlagsS2C = event.FlagString(f.FlagsC2S), event.FlagString(f.FlagsS2C)
	}
	geoView(f.Client.Geo, &v.ClientCountry, &v.ClientCity, &v.ClientASN, &v.ClientASOrg, &v.ClientLabel)
	geoView(f.Server.Geo, &v.ServerCountry, &v.ServerCity, &v.ServerASN, &v.ServerASOrg, &v.ServerLabel)
	return v
}

func ipstatView(s *event.IPStatRec) ipstatEnv {
	v := ipstatEnv{
		IP: addrString(s.IP), BytesIn: int(s.BytesIn), BytesOut: int(s.BytesOut), Bytes: int(s.BytesIn + s.BytesOut),
		PacketsIn: int(s.PacketsIn), PacketsOut: int(s.PacketsOut), Packets: int(s.PacketsIn + s.PacketsOut),
		Flows: int(s.Flows), Peers: int(s.Peers), DstPorts: int(s.DstPorts),
		Start: s.Start.Std(), End: s.End.Std(), Interval: float64(s.End-s.Start) / 1e9,
	}
	geoView(s.Geo, &v.Country, &v.City, &v.ASN, &v.ASOrg, &v.Label)
	return v
}

func alertView(a *event.AlertRec) alertEnv {
	return alertEnv{
		ID: a.ID, Rule: a.Rule, Severity: string(a.Severity), State: string(a.State),
		Subject: a.Subject, Message: a.Message, DedupKey: a.DedupKey, Labels: a.Labels,
	}
}
