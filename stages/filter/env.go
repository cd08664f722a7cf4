package filter

import (
	"net/netip"
	"strconv"
	"time"

	"github.com/nfpipe/nfpipe/pipeline/event"
)

// Env is what a rule's expressions see: the record's kind and time, and
// one namespace per kind of record. Only the namespace of the record's
// kind is filled; the others hold zero values, so a rule reads as
// kind == "flow" && flow.bytes > 1e9. The doc tags are rendered into the
// stage's documentation.
type Env struct {
	funcs
	Kind   string    `expr:"kind" doc:"flow, ipstat or alert"`
	Time   time.Time `expr:"time" doc:"the record's packet time: a flow's last_seen, an ipstat interval's end, an alert's time"`
	Flow   FlowEnv   `expr:"flow" doc:"the flow, when kind is flow"`
	IPStat IPStatEnv `expr:"ipstat" doc:"the per-IP interval, when kind is ipstat"`
	Alert  AlertEnv  `expr:"alert" doc:"the alert, when kind is alert"`
}

// FlowEnv holds a flow's fields.
type FlowEnv struct {
	Event         string            `expr:"event" doc:"update (interim report) or end"`
	Proto         string            `expr:"proto" doc:"tcp, udp, icmp, icmpv6, sctp or the protocol number"`
	ProtoNum      int               `expr:"proto_num" doc:"IP protocol number"`
	ClientIP      netip.Addr        `expr:"client_ip" doc:"address of the side that opened the flow"`
	ClientPort    int               `expr:"client_port" doc:"its port (0 for ICMP)"`
	ServerIP      netip.Addr        `expr:"server_ip" doc:"address of the other side"`
	ServerPort    int               `expr:"server_port" doc:"its port"`
	VLAN          int               `expr:"vlan" doc:"802.1Q id, 0 if untagged"`
	Bytes         int               `expr:"bytes" doc:"wire bytes, both directions"`
	Packets       int               `expr:"packets" doc:"packets, both directions"`
	BytesC2S      int               `expr:"bytes_c2s" doc:"bytes from client to server"`
	BytesS2C      int               `expr:"bytes_s2c" doc:"bytes from server to client"`
	PacketsC2S    int               `expr:"packets_c2s" doc:"packets from client to server"`
	PacketsS2C    int               `expr:"packets_s2c" doc:"packets from server to client"`
	FirstSeen     time.Time         `expr:"first_seen" doc:"first packet"`
	LastSeen      time.Time         `expr:"last_seen" doc:"last packet"`
	Duration      float64           `expr:"duration" doc:"last_seen - first_seen in seconds"`
	State         string            `expr:"state" doc:"TCP state: SYN_SENT, ESTABLISHED, CLOSED, RESET, ... (empty for other protocols)"`
	FlagsC2S      string            `expr:"flags_c2s" doc:"TCP flags the client sent, nfdump style (\"...AP.SF\")"`
	FlagsS2C      string            `expr:"flags_s2c" doc:"TCP flags the server sent"`
	RTTms         float64           `expr:"rtt_ms" doc:"handshake round-trip time in milliseconds, 0 if not seen"`
	EndReason     string            `expr:"end_reason" doc:"idle, active_timeout, fin, rst, evicted or shutdown"`
	Tags          []string          `expr:"tags" doc:"tags set upstream and by earlier rules of this stage"`
	Attrs         map[string]string `expr:"attrs" doc:"string attributes set by plugins"`
	ClientCountry string            `expr:"client_country" doc:"ISO country code of the client (geoip stage)"`
	ServerCountry string            `expr:"server_country" doc:"ISO country code of the server"`
	ClientCity    string            `expr:"client_city" doc:"city of the client"`
	ServerCity    string            `expr:"server_city" doc:"city of the server"`
	ClientASN     int               `expr:"client_asn" doc:"AS number of the client"`
	ServerASN     int               `expr:"server_asn" doc:"AS number of the server"`
	ClientASOrg   string            `expr:"client_as_org" doc:"AS organisation of the client"`
	ServerASOrg   string            `expr:"server_as_org" doc:"AS organisation of the server"`
	ClientLabel   string            `expr:"client_label" doc:"private, loopback, link-local, cgnat, multicast, ula, ... for special addresses"`
	ServerLabel   string            `expr:"server_label" doc:"the same for the server"`
}

// IPStatEnv holds a per-IP interval's fields.
type IPStatEnv struct {
	IP         netip.Addr `expr:"ip" doc:"the address"`
	BytesIn    int        `expr:"bytes_in" doc:"bytes it received"`
	BytesOut   int        `expr:"bytes_out" doc:"bytes it sent"`
	Bytes      int        `expr:"bytes" doc:"bytes_in + bytes_out"`
	PacketsIn  int        `expr:"packets_in" doc:"packets it received"`
	PacketsOut int        `expr:"packets_out" doc:"packets it sent"`
	Packets    int        `expr:"packets" doc:"packets_in + packets_out"`
	Flows      int        `expr:"flows" doc:"flows it started"`
	Peers      int        `expr:"peers" doc:"distinct addresses it exchanged packets with"`
	DstPorts   int        `expr:"dst_ports" doc:"distinct destination ports it sent to"`
	Start      time.Time  `expr:"start" doc:"start of the interval"`
	End        time.Time  `expr:"end" doc:"end of the interval"`
	Interval   float64    `expr:"interval" doc:"length of the interval in seconds"`
	Country    string     `expr:"country" doc:"ISO country code (geoip stage)"`
	City       string     `expr:"city" doc:"city"`
	ASN        int        `expr:"asn" doc:"AS number"`
	ASOrg      string     `expr:"as_org" doc:"AS organisation"`
	Label      string     `expr:"label" doc:"private, loopback, ... for special addresses"`
}

// AlertEnv holds an alert's fields (alerts from an upstream filter).
type AlertEnv struct {
	Rule     string `expr:"rule" doc:"the rule that raised it"`
	Severity string `expr:"severity" doc:"info, warning or critical"`
	State    string `expr:"state" doc:"firing or resolved"`
	Subject  string `expr:"subject" doc:"what it is about, e.g. an address"`
	Message  string `expr:"message" doc:"its text"`
	DedupKey string `expr:"dedup_key" doc:"rule and subject; equal for every event of one alert"`
}

// Names of protocol numbers and TCP flag sets, built once so that filling
// the environment never formats a string.
var (
	protoNames [256]string
	flagNames  [256]string
)

func init() {
	for i := range protoNames {
		protoNames[i] = event.ProtoName(uint8(i))
		flagNames[i] = event.FlagString(uint8(i))
	}
}

var eventNames = [...]string{event.FlowUpdate: "update", event.FlowEnd: "end"}

func eventName(e event.FlowEvent) string {
	if int(e) < len(eventNames) {
		return eventNames[e]
	}
	return strconv.Itoa(int(e))
}

// setFlow fills the environment from a flow. It clears the other
// namespaces only when the previous record was of another kind.
func (e *Env) setFlow(f *event.FlowRec) {
	if e.Kind != "flow" {
		e.IPStat, e.Alert = IPStatEnv{}, AlertEnv{}
		e.Kind = "flow"
	}
	e.Time = f.LastSeen.Std()
	x := &e.Flow
	x.Event = eventName(f.Event)
	x.Proto = protoNames[f.Proto]
	x.ProtoNum = int(f.Proto)
	x.ClientIP, x.ClientPort = f.Client.IP, int(f.Client.Port)
	x.ServerIP, x.ServerPort = f.Server.IP, int(f.Server.Port)
	x.VLAN = int(f.VLAN)
	x.BytesC2S, x.BytesS2C = int(f.C2S.Bytes), int(f.S2C.Bytes)
	x.PacketsC2S, x.PacketsS2C = int(f.C2S.Packets), int(f.S2C.Packets)
	x.Bytes, x.Packets = x.BytesC2S+x.BytesS2C, x.PacketsC2S+x.PacketsS2C
	x.FirstSeen, x.LastSeen = f.FirstSeen.Std(), e.Time
	x.Duration = float64(f.LastSeen-f.FirstSeen) / 1e9
	x.State = ""
	x.FlagsC2S, x.FlagsS2C = "", ""
	if f.Proto == 6 {
		x.State = f.TCPState.String()
		x.FlagsC2S, x.FlagsS2C = flagNames[f.FlagsC2S], flagNames[f.FlagsS2C]
	}
	x.RTTms = float64(f.RTT) / 1e6
	x.EndReason = f.Reason.String()
	x.Tags, x.Attrs = f.Tags, f.Attrs
	setGeo(f.Client.Geo, &x.ClientCountry, &x.ClientCity, &x.ClientASN, &x.ClientASOrg, &x.ClientLabel)
	setGeo(f.Server.Geo, &x.ServerCountry, &x.ServerCity, &x.ServerASN, &x.ServerASOrg, &x.ServerLabel)
}

// setIPStat fills the environment from an ipstat record.
func (e *Env) setIPStat(s *event.IPStatRec) {
	if e.Kind != "ipstat" {
		e.Flow, e.Alert = FlowEnv{}, AlertEnv{}
		e.Kind = "ipstat"
	}
	e.Time = s.End.Std()
	x := &e.IPStat
	x.IP = s.IP
	x.BytesIn, x.BytesOut = int(s.BytesIn), int(s.BytesOut)
	x.Bytes = x.BytesIn + x.BytesOut
	x.PacketsIn, x.PacketsOut = int(s.PacketsIn), int(s.PacketsOut)
	x.Packets = x.PacketsIn + x.PacketsOut
	x.Flows, x.Peers, x.DstPorts = int(s.Flows), int(s.Peers), int(s.DstPorts)
	x.Start, x.End = s.Start.Std(), e.Time
	x.Interval = float64(s.End-s.Start) / 1e9
	setGeo(s.Geo, &x.Country, &x.City, &x.ASN, &x.ASOrg, &x.Label)
}

// setAlert fills the environment from an alert.
func (e *Env) setAlert(a *event.AlertRec) {
	if e.Kind != "alert" {
		e.Flow, e.IPStat = FlowEnv{}, IPStatEnv{}
		e.Kind = "alert"
	}
	e.Time = a.Time.Std()
	e.Alert = AlertEnv{Rule: a.Rule, Severity: string(a.Severity), State: string(a.State),
		Subject: a.Subject, Message: a.Message, DedupKey: a.DedupKey}
}

func setGeo(g *event.Geo, country, city *string, asn *int, org, label *string) {
	if g == nil {
		*country, *city, *asn, *org, *label = "", "", 0, "", ""
		return
	}
	*country, *city, *asn, *org, *label = g.CountryCode, g.City, int(g.ASN), g.ASOrg, g.Label
}
