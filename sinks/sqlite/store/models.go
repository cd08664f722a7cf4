package store

import (
	"github.com/uptrace/bun"
)

// Flow is one row of the flows table: an ended flow (or one still open at
// shutdown) with every field of the JSON contract. Times are packet time in
// nanoseconds since the Unix epoch. Geo columns are NULL when the record
// had no geo for that end; Tags and Attrs are JSON text, NULL when empty.
// Use FlowFromRecord and (*Flow).Record to convert from and to the event
// model without loss.
type Flow struct {
	bun.BaseModel `bun:"table:flows"`

	ID         int64   `bun:"id,pk,autoincrement"`
	Probe      string  `bun:"probe,notnull"`
	FlowID     int64   `bun:"flow_id,notnull"` // the uint64 flow id, bit for bit
	Proto      int16   `bun:"proto,notnull"`
	ClientIP   string  `bun:"client_ip,notnull"`
	ClientPort int32   `bun:"client_port,notnull"`
	ServerIP   string  `bun:"server_ip,notnull"`
	ServerPort int32   `bun:"server_port,notnull"`
	VLAN       int32   `bun:"vlan,notnull"`
	FirstSeen  int64   `bun:"first_seen,notnull"`
	LastSeen   int64   `bun:"last_seen,notnull"`
	C2SPackets int64   `bun:"c2s_packets,notnull"`
	C2SBytes   int64   `bun:"c2s_bytes,notnull"`
	S2CPackets int64   `bun:"s2c_packets,notnull"`
	S2CBytes   int64   `bun:"s2c_bytes,notnull"`
	TCPState   string  `bun:"tcp_state,nullzero"`
	FlagsC2S   int16   `bun:"flags_c2s,notnull"`
	FlagsS2C   int16   `bun:"flags_s2c,notnull"`
	RTTNanos   int64   `bun:"rtt_ns,notnull"`
	EndReason  string  `bun:"end_reason,nullzero"`
	Client     GeoCols `bun:"embed:client_"`
	Server     GeoCols `bun:"embed:server_"`
	Tags       string  `bun:"tags,nullzero"`  // JSON array of strings
	Attrs      string  `bun:"attrs,nullzero"` // JSON object of strings
}

// FlowBlock is one row of flow_blocks: the skip index of a run of flows
// rows written by one probe, ids LoID..HiID. Every row of the run has
// MinLast <= last_seen <= MaxLast. Bloom holds the addresses and ports of
// the rows with id <= BloomHi; later rows (written after the filter, e.g.
// before a crash) are always scanned.
type FlowBlock struct {
	bun.BaseModel `bun:"table:flow_blocks"`

	ID      int64  `bun:"id,pk,autoincrement"`
	Probe   string `bun:"probe,notnull"`
	LoID    int64  `bun:"lo_id,notnull"`
	HiID    int64  `bun:"hi_id,notnull"`
	Rows    int64  `bun:"rows,notnull"`
	MinLast int64  `bun:"min_last,notnull"`
	MaxLast int64  `bun:"max_last,notnull"`
	BloomHi int64  `bun:"bloom_hi,notnull"`
	Bloom   []byte `bun:"bloom,nullzero"`
}

// GeoCols are the geolocation columns of one end of a flow (prefixed
// client_ or server_) or of an address in ip_stats.
type GeoCols struct {
	Label       string  `bun:"geo_label,nullzero"`
	CountryCode string  `bun:"cc,nullzero"`
	Country     string  `bun:"country,nullzero"`
	City        string  `bun:"city,nullzero"`
	Lat         float64 `bun:"lat,nullzero"`
	Lon         float64 `bun:"lon,nullzero"`
	ASN         int64   `bun:"asn,nullzero"`
	ASOrg       string  `bun:"as_org,nullzero"`
}

// IPStat is one row of the ip_stats table: the counters of one address
// summed over one rollup bucket [Bucket, Bucket+Res) of packet time. Peers
// and DstPorts are distinct counts, which cannot be summed: a bucket keeps
// the largest value of the intervals it holds, a lower bound. Intervals is
// the number of ipstat records folded into the row.
type IPStat struct {
	bun.BaseModel `bun:"table:ip_stats"`

	Probe      string  `bun:"probe,pk"`
	Res        int64   `bun:"res,pk"`    // bucket width in seconds
	Bucket     int64   `bun:"bucket,pk"` // bucket start, ns, a multiple of Res
	IP         string  `bun:"ip,pk"`
	BytesIn    int64   `bun:"bytes_in,notnull"`
	BytesOut   int64   `bun:"bytes_out,notnull"`
	PacketsIn  int64   `bun:"packets_in,notnull"`
	PacketsOut int64   `bun:"packets_out,notnull"`
	Flows      int64   `bun:"flows,notnull"`
	Peers      int64   `bun:"peers,notnull"`
	DstPorts   int64   `bun:"dst_ports,notnull"`
	Intervals  int64   `bun:"intervals,notnull"`
	Geo        GeoCols `bun:"embed:"`
}

// Alert is one row of the alerts table. Record is the JSON of the flow or
// ipstat that fired the alert, NULL if none; Labels is a JSON object.
type Alert struct {
	bun.BaseModel `bun:"table:alerts"`

	ID        int64  `bun:"id,pk,autoincrement" json:"-"`
	Probe     string `bun:"probe,notnull" json:"probe,omitempty"`
	AlertID   string `bun:"alert_id,notnull" json:"id"`
	Rule      string `bun:"rule,notnull" json:"rule"`
	Severity  string `bun:"severity,notnull" json:"severity"`
	Time      int64  `bun:"time,notnull" json:"-"` // packet time, ns
	State     string `bun:"state,notnull" json:"state"`
	Subject   string `bun:"subject,notnull" json:"subject"`
	Message   string `bun:"message,notnull" json:"message"`
	DedupeKey string `bun:"dedupe_key,notnull" json:"dedupe_key"`
	Labels    string `bun:"labels,nullzero" json:"-"`
	Record    string `bun:"record,nullzero" json:"-"`
}

// Event is one row of the events table: a system event (started, stopped,
// paused, resumed, error, reload, …). Time is wall-clock time, ns.
type Event struct {
	bun.BaseModel `bun:"table:events"`

	ID        int64  `bun:"id,pk,autoincrement" json:"-"`
	Probe     string `bun:"probe,notnull" json:"probe,omitempty"`
	Time      int64  `bun:"time,notnull" json:"-"`
	Kind      string `bun:"kind,notnull" json:"kind"`
	Component string `bun:"component,notnull" json:"component,omitempty"`
	Message   string `bun:"message,notnull" json:"message"`
}

// Batch is one row of the batches table, written in the same transaction
// as the rows it counts: after a crash, the committed batches and the
// rows present always agree.
type Batch struct {
	bun.BaseModel `bun:"table:batches"`

	ID      int64  `bun:"id,pk,autoincrement"`
	Probe   string `bun:"probe,notnull"`
	Time    int64  `bun:"time,notnull"` // wall-clock commit time, ns
	Flows   int64  `bun:"flows,notnull"`
	IPStats int64  `bun:"ip_stats,notnull"`
	Alerts  int64  `bun:"alerts,notnull"`
	Events  int64  `bun:"events,notnull"`
}
