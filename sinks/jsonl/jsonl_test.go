package jsonl

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nfpipe/nfpipe/pipeline"
	"github.com/nfpipe/nfpipe/pipeline/config"
	"github.com/nfpipe/nfpipe/pipeline/event"
	"github.com/nfpipe/nfpipe/pipeline/pipetest"
	"github.com/nfpipe/nfpipe/pipeline/spec"
)

// source emits fixed batches, then waits for hold (if set) before it
// ends.
type source struct {
	batches []*event.Batch
	hold    chan struct{}
}

func (s *source) Run(ctx context.Context, env *pipeline.Env) error {
	for _, in := range s.batches {
		b := env.NewBatch(in.Kind)
		b.Packets = append(b.Packets, in.Packets...)
		b.Flows = append(b.Flows, in.Flows...)
		b.IPStats = append(b.IPStats, in.IPStats...)
		b.Alerts = append(b.Alerts, in.Alerts...)
		env.Emit(b)
	}
	if s.hold != nil {
		select {
		case <-s.hold:
		case <-ctx.Done():
		}
	}
	return nil
}

type none struct{}

// build parses a pipeline of the test source feeding one jsonl sink
// configured by sinkYAML (indented under the sink).
func buildPipeline(t testing.TB, src pipeline.Component, sinkYAML string, opts ...pipeline.Option) (*pipeline.Pipeline, spec.Errors) {
	t.Helper()
	r := pipeline.NewRegistry()
	pipeline.RegisterIn(r, componentSpec, build)
	pipeline.RegisterIn(r, &spec.Component{Name: "src", Role: spec.RoleStage, Summary: "test events", Source: true, Emits: event.AllKinds()},
		func(*none, *pipeline.BuildContext) (pipeline.Component, error) { return src, nil })
	yml := "stages:\n  src: {type: src}\nsinks:\n  out:\n    type: jsonl\n    inputs: [src]\n" + sinkYAML
	cfg, errs := config.Parse("test.yaml", []byte(yml), func(string) (string, bool) { return "", false })
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	return pipeline.FromConfig(cfg, append([]pipeline.Option{pipeline.WithRegistry(r)}, opts...)...)
}

func run(t *testing.T, src *source, sinkYAML string, opts ...pipeline.Option) pipeline.ComponentStatus {
	t.Helper()
	p, errs := buildPipeline(t, src, sinkYAML, opts...)
	if len(errs.Fatal()) > 0 {
		t.Fatal(errs)
	}
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	st, _ := p.Status().Component("out")
	return st
}

func at(s string) event.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return event.TimeOf(t)
}

func sampleFlows() *event.Batch {
	b := event.NewBatch(event.Flow)
	b.Flows = []event.FlowRec{
		{
			ID:        0x1234abcd,
			Event:     event.FlowEnd,
			Proto:     6,
			Client:    event.Endpoint{IP: netip.MustParseAddr("10.0.0.1"), Port: 40000},
			Server:    event.Endpoint{IP: netip.MustParseAddr("93.184.216.34"), Port: 443, Geo: &event.Geo{CountryCode: "US", Country: "United States", City: "Norwell", Lat: 42.15, Lon: -70.82, ASN: 15133, ASOrg: "Edgecast"}},
			VLAN:      12,
			FirstSeen: at("2024-05-01T10:00:00.123456789Z"),
			LastSeen:  at("2024-05-01T10:00:03Z"),
			C2S:       event.Counters{Packets: 10, Bytes: 1200},
			S2C:       event.Counters{Packets: 12, Bytes: 15000},
			TCPState:  event.TCPClosed,
			FlagsC2S:  event.FlagSYN | event.FlagACK | event.FlagFIN,
			FlagsS2C:  event.FlagSYN | event.FlagACK | event.FlagFIN | event.FlagPSH,
			RTT:       12345 * time.Microsecond,
			Reason:    event.ReasonFIN,
		},
		{
			ID:        2,
			Event:     event.FlowUpdate,
			Proto:     17,
			Client:    event.Endpoint{IP: netip.MustParseAddr("2001:db8::1"), Port: 5353},
			Server:    event.Endpoint{IP: netip.MustParseAddr("::ffff:192.0.2.53"), Port: 53},
			FirstSeen: at("2024-05-01T10:00:00Z"),
			LastSeen:  at("2024-05-01T10:00:00.5Z"),
			C2S:       event.Counters{Packets: 1, Bytes: 80},
		},
	}
	return b
}

func sampleIPStats() *event.Batch {
	b := event.NewBatch(event.IPStat)
	b.IPStats = []event.IPStatRec{{
		IP: netip.MustParseAddr("10.0.0.1"), Start: at("2024-05-01T10:00:00Z"), End: at("2024-05-01T10:00:10Z"),
		BytesIn: 15000, BytesOut: 1200, PacketsIn: 12, PacketsOut: 10, Flows: 1, Peers: 1, DstPorts: 1,
	}}
	return b
}

func samplePackets() *event.Batch {
	b := event.NewBatch(event.Packet)
	b.Packets = []event.PacketRec{{TS: at("2024-05-01T10:00:00Z"), WireLen: 60, CapLen: 60, Proto: 6, Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"), SrcPort: 1, DstPort: 2}}
	return b
}

// readLines parses every line of a JSON-lines file.
func readLines(t *testing.T, data []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Bytes()
		if !json.Valid(line) {
			t.Fatalf("invalid JSON line: %s", line)
		}
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		t.Error("the last line is not terminated by a newline")
	}
	return out
}

func keys(t *testing.T, v any) []string {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("%v is not an object", v)
	}
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func wantKeys(t *testing.T, what string, v any, want ...string) {
	t.Helper()
	slices.Sort(want)
	if got := keys(t, v); !slices.Equal(got, want) {
		t.Errorf("%s keys:\n got %v\nwant %v", what, got, want)
	}
}

func TestLinesFollowTheJSONContract(t *testing.T) {
	path := filepath.Join(t.TempDir(), "new", "dir", "events.jsonl")
	st := run(t, &source{batches: []*event.Batch{sampleFlows(), sampleIPStats()}}, "    path: "+path+"\n")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := readLines(t, data)
	if len(lines) != 3 {
		t.Fatalf("got %d lines, want 3:\n%s", len(lines), data)
	}
	tcp, udp, ip := lines[0], lines[1], lines[2]
	wantKeys(t, "tcp flow", tcp, "kind", "event", "id", "proto", "client", "server", "vlan", "first_seen", "last_seen", "c2s", "s2c", "tcp", "end_reason")
	wantKeys(t, "client", tcp["client"], "ip", "port")
	wantKeys(t, "server", tcp["server"], "ip", "port", "geo")
	wantKeys(t, "c2s", tcp["c2s"], "packets", "bytes")
	wantKeys(t, "s2c", tcp["s2c"], "packets", "bytes")
	wantKeys(t, "tcp", tcp["tcp"], "state", "flags_c2s", "flags_s2c", "rtt_ms")
	wantKeys(t, "udp flow", udp, "kind", "event", "id", "proto", "client", "server", "vlan", "first_seen", "last_seen", "c2s", "s2c")
	wantKeys(t, "ipstat", ip, "kind", "ip", "start", "end", "bytes_in", "bytes_out", "packets_in", "packets_out", "flows", "peers", "dst_ports")

	check := func(what string, got, want any) {
		t.Helper()
		if got != want {
			t.Errorf("%s = %#v, want %#v", what, got, want)
		}
	}
	check("kind", tcp["kind"], "flow")
	check("event", tcp["event"], "end")
	check("id", tcp["id"], "000000001234abcd")
	check("proto", tcp["proto"], "tcp")
	check("vlan", tcp["vlan"], 12.0)
	check("first_seen", tcp["first_seen"], "2024-05-01T10:00:00.123456789Z")
	check("client.port", tcp["client"].(map[string]any)["port"], 40000.0)
	check("s2c.bytes", tcp["s2c"].(map[string]any)["bytes"], 15000.0)
	check("tcp.state", tcp["tcp"].(map[string]any)["state"], "CLOSED")
	check("tcp.flags_c2s", tcp["tcp"].(map[string]any)["flags_c2s"], "...A..SF")
	check("tcp.rtt_ms", tcp["tcp"].(map[string]any)["rtt_ms"], 12.345)
	check("end_reason", tcp["end_reason"], "fin")
	check("udp event", udp["event"], "update")
	check("ipv6 client", udp["client"].(map[string]any)["ip"], "2001:db8::1")
	check("mapped server", udp["server"].(map[string]any)["ip"], "192.0.2.53")
	check("ipstat kind", ip["kind"], "ipstat")
	check("ipstat end", ip["end"], "2024-05-01T10:00:10Z")
	check("dst_ports", ip["dst_ports"], 1.0)

	if st.EventsIn != 3 || st.Counters["lines"] != 3 || st.Counters["bytes"] != uint64(len(data)) || st.Errors != 0 {
		t.Errorf("status: in %d, lines %d, bytes %d (file %d), errors %d", st.EventsIn, st.Counters["lines"], st.Counters["bytes"], len(data), st.Errors)
	}
}

func TestKindsFilter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ipstats.jsonl")
	st := run(t, &source{batches: []*event.Batch{sampleFlows(), samplePackets(), sampleIPStats(), sampleIPStats()}},
		"    path: "+path+"\n    kinds: [ipstat]\n")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := readLines(t, data)
	if len(lines) != 2 {
		t.Fatalf("got %d lines, want the 2 ipstats:\n%s", len(lines), data)
	}
	for _, l := range lines {
		if l["kind"] != "ipstat" {
			t.Errorf("wrote a %v line", l["kind"])
		}
	}
	if st.Counters["skipped"] != 3 {
		t.Errorf("skipped = %d, want 3 (2 flows, 1 packet)", st.Counters["skipped"])
	}
}

func TestPacketLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.jsonl")
	run(t, &source{batches: []*event.Batch{samplePackets()}}, "    path: "+path+"\n")
	data, _ := os.ReadFile(path)
	lines := readLines(t, data)
	if len(lines) != 1 {
		t.Fatalf("got %d lines", len(lines))
	}
	wantKeys(t, "packet", lines[0], "kind", "ts", "len", "caplen", "proto", "src", "dst", "sport", "dport", "tcp_flags")
}

func TestTruncateOrAppend(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	old := `{"kind":"old"}` + "\n"
	for _, tc := range []struct {
		append bool
		want   int
	}{{false, 1}, {true, 2}} {
		if err := os.WriteFile(path, []byte(old), 0o644); err != nil {
			t.Fatal(err)
		}
		yml := "    path: " + path + "\n"
		if tc.append {
			yml += "    append: true\n"
		}
		run(t, &source{batches: []*event.Batch{sampleIPStats()}}, yml)
		data, _ := os.ReadFile(path)
		lines := readLines(t, data)
		if len(lines) != tc.want {
			t.Errorf("append=%v: %d lines, want %d:\n%s", tc.append, len(lines), tc.want, data)
		}
		if tc.append && lines[0]["kind"] != "old" {
			t.Errorf("append lost the existing line: %s", data)
		}
	}
}

func TestRelativePathIsUnderThePipelineDir(t *testing.T) {
	dir := t.TempDir()
	r := pipeline.NewRegistry()
	pipeline.RegisterIn(r, componentSpec, build)
	src := &source{batches: []*event.Batch{sampleIPStats()}}
	pipeline.RegisterIn(r, &spec.Component{Name: "src", Role: spec.RoleStage, Summary: "test events", Source: true, Emits: event.AllKinds()},
		func(*none, *pipeline.BuildContext) (pipeline.Component, error) { return src, nil })
	file := filepath.Join(dir, "pipeline.yaml")
	yml := "stages:\n  src: {type: src}\nsinks:\n  out: {type: jsonl, inputs: [src], path: out/e.jsonl}\n"
	if err := os.WriteFile(file, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, errs := config.Load(file)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	p, errs := pipeline.FromConfig(cfg, pipeline.WithRegistry(r))
	if len(errs.Fatal()) > 0 {
		t.Fatal(errs)
	}
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "out", "e.jsonl"))
	if err != nil || len(readLines(t, data)) != 1 {
		t.Fatalf("relative path not resolved against the pipeline's directory: %v %q", err, data)
	}
}

func TestStdout(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	saved := os.Stdout
	os.Stdout = w
	p, errs := buildPipeline(t, &source{batches: []*event.Batch{sampleFlows(), sampleIPStats()}}, "    path: \"-\"\n")
	os.Stdout = saved
	if len(errs.Fatal()) > 0 {
		t.Fatal(errs)
	}
	got := make(chan []byte)
	go func() {
		data, _ := io.ReadAll(r)
		got <- data
	}()
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The sink must not close standard output: this write still works.
	if _, err := w.Write([]byte(`{"kind":"after"}` + "\n")); err != nil {
		t.Fatalf("standard output closed by the sink: %v", err)
	}
	w.Close()
	lines := readLines(t, <-got)
	if len(lines) != 4 || lines[0]["kind"] != "flow" || lines[2]["kind"] != "ipstat" || lines[3]["kind"] != "after" {
		t.Fatalf("stdout lines: %v", lines)
	}
}

func TestFlushIntervalMakesLinesVisibleWhileRunning(t *testing.T) {
	path := filepath.Join(t.TempDir(), "live.jsonl")
	hold := make(chan struct{})
	p, errs := buildPipeline(t, &source{batches: []*event.Batch{sampleIPStats()}, hold: hold}, "    path: "+path+"\n    flush_interval: 20ms\n")
	if len(errs.Fatal()) > 0 {
		t.Fatal(errs)
	}
	done := make(chan error)
	go func() { done <- p.Run(context.Background()) }()
	// The source is still running, so only the timer can have written the
	// line. The deadline is generous: it only bounds a failing test.
	deadline := time.Now().Add(20 * time.Second)
	for {
		data, _ := os.ReadFile(path)
		if bytes.Count(data, []byte("\n")) == 1 {
			break
		}
		if time.Now().After(deadline) {
			close(hold)
			<-done
			t.Fatal("line not flushed while the pipeline was running")
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(hold)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestWriteErrorsAreCountedAndLoggedOnce(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full")
	}
	logs := &pipetest.SyncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, nil))
	batches := []*event.Batch{sampleFlows(), sampleFlows(), sampleFlows()}
	st := run(t, &source{batches: batches}, "    path: /dev/full\n    append: true\n    flush_interval: 0s\n", pipeline.WithLogger(logger))
	// One failed flush per batch; syncing a device is not an error.
	if st.Errors != 3 {
		t.Errorf("errors = %d, want one per batch (3)", st.Errors)
	}
	if st.Counters["flushes"] != 0 {
		t.Errorf("flushes = %d, want 0", st.Counters["flushes"])
	}
	if n := strings.Count(logs.String(), "no space left on device"); n != 1 {
		t.Errorf("the error was logged %d times, want once:\n%s", n, logs)
	}
	if st.Health != pipeline.Stopped {
		t.Errorf("health %q: the sink must end normally", st.Health)
	}
}

func TestConstructorErrors(t *testing.T) {
	dir := t.TempDir()
	blocker := filepath.Join(dir, "file")
	if err := os.WriteFile(blocker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ yml, want string }{
		{"    path: " + blocker + "/sub/e.jsonl\n", `cannot create the directory of "` + blocker + `/sub/e.jsonl": not a directory`},
		{"    path: " + dir + "\n", `cannot open "` + dir + `" for writing: is a directory`},
		{"    path: \"\"\n", `sinks.out.path: path is empty`},
		{"    path: x.jsonl\n    kinds: [flows]\n", `unknown kind "flows"; did you mean "flow"?`},
		{"    path: x.jsonl\n    kinds: [raw]\n", `unknown kind "raw" (use packet, flow, ipstat, alert)`},
		{"    kinds: [flow]\n", `missing required field "path"`},
	} {
		_, errs := buildPipeline(t, &source{}, tc.yml)
		if len(errs.Fatal()) == 0 || !strings.Contains(errs.Error(), tc.want) {
			t.Errorf("%q:\n got %v\nwant it to contain %q", tc.yml, errs, tc.want)
		}
		if len(errs) > 0 && !strings.HasPrefix(errs[0].Error(), "test.yaml:") {
			t.Errorf("%q: error has no position: %v", tc.yml, errs)
		}
	}
}
