//go:build linux

package capture

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nfpipe/nfpipe/pipeline"
	"github.com/nfpipe/nfpipe/pipeline/config"
	"github.com/nfpipe/nfpipe/pipeline/pipetest"
	_ "github.com/nfpipe/nfpipe/sinks/jsonl"
	_ "github.com/nfpipe/nfpipe/stages/decode"
	_ "github.com/nfpipe/nfpipe/stages/sessionize"
)

// flowPipeline is capture -> decode -> sessionize -> jsonl: the real
// path, with the given capture fields. shards runs decode and sessionize
// that many times (0: not sharded).
func flowPipeline(out string, shards int, capture ...string) string {
	var b strings.Builder
	b.WriteString("stages:\n  cap:\n    type: capture\n")
	for _, c := range capture {
		b.WriteString("    " + c + "\n")
	}
	sh := ""
	if shards > 0 {
		sh = fmt.Sprintf("    shards: %d\n", shards)
	}
	b.WriteString("  dec:\n    type: decode\n    inputs: [cap]\n" + sh)
	b.WriteString("  ses:\n    type: sessionize\n    inputs: [dec]\n" + sh)
	b.WriteString("sinks:\n  out:\n    type: jsonl\n    inputs: [ses]\n    flush_interval: 0s\n    path: " + out + "\n")
	return b.String()
}

// liveRun is a pipeline running in the background.
type liveRun struct {
	p    *pipeline.Pipeline
	logs *pipetest.SyncBuffer
	done chan error
}

// startPipeline builds a pipeline from YAML with the default registry and
// runs it until stopped.
func startPipeline(t *testing.T, yml string) *liveRun {
	t.Helper()
	cfg, errs := config.Parse(filepath.Join(t.TempDir(), "pipeline.yaml"), []byte(yml), func(string) (string, bool) { return "", false })
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	logs := &pipetest.SyncBuffer{}
	p, errs := pipeline.FromConfig(cfg, pipeline.WithLogger(slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	if len(errs.Fatal()) > 0 {
		t.Fatal(errs)
	}
	r := &liveRun{p: p, logs: logs, done: make(chan error, 1)}
	go func() { r.done <- p.Run(context.Background()) }()
	t.Cleanup(func() { r.p.Kill(); <-r.done })
	return r
}

// waitOpen waits until the capture has its sockets open.
func (r *liveRun) waitOpen(t *testing.T) {
	t.Helper()
	if err := eventually(func() bool { return r.gauge("sockets_open") > 0 }); err != nil {
		t.Fatalf("capture did not open: %s", r.logs.String())
	}
}

func (r *liveRun) gauge(name string) int64 {
	st, _ := r.p.Status().Component("cap")
	return st.Gauges[name]
}

func (r *liveRun) counter(name string) uint64 {
	st, _ := r.p.Status().Component("cap")
	return st.Counters[name]
}

// stop stops the pipeline, waits for it to drain and fails on an error.
func (r *liveRun) stop(t *testing.T) {
	t.Helper()
	r.p.Stop()
	select {
	case err := <-r.done:
		r.done <- err // for the cleanup
		if err != nil {
			t.Fatalf("pipeline: %v\n%s", err, r.logs.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("pipeline did not stop\n%s", r.logs.String())
	}
}

// flowKey names a flow without its timing: protocol, ends and VLAN.
type flowKey struct {
	Proto          string
	Client, Server string
	VLAN           uint16
}

// flowCount is a flow's counters per direction.
type flowCount struct {
	C2SPackets, C2SBytes, S2CPackets, S2CBytes uint64
}

type jsonFlow struct {
	Kind   string `json:"kind"`
	Event  string `json:"event"`
	Proto  string `json:"proto"`
	VLAN   uint16 `json:"vlan"`
	Client struct {
		IP   string `json:"ip"`
		Port uint16 `json:"port"`
	} `json:"client"`
	Server struct {
		IP   string `json:"ip"`
		Port uint16 `json:"port"`
	} `json:"server"`
	C2S struct {
		Packets uint64 `json:"packets"`
		Bytes   uint64 `json:"bytes"`
	} `json:"c2s"`
	S2C struct {
		Packets uint64 `json:"packets"`
		Bytes   uint64 `json:"bytes"`
	} `json:"s2c"`
}

// flowSet maps each flow to its counters; a key seen more than once (a
// port reused) keeps every occurrence, sorted.
type flowSet map[flowKey][]flowCount

// readFlows reads the ended flows of a jsonl file.
func readFlows(t *testing.T, path string) flowSet {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fs := flowSet{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var j jsonFlow
		if err := json.Unmarshal(sc.Bytes(), &j); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if j.Kind != "flow" || j.Event != "end" {
			continue
		}
		k := flowKey{j.Proto, fmt.Sprintf("%s/%d", j.Client.IP, j.Client.Port), fmt.Sprintf("%s/%d", j.Server.IP, j.Server.Port), j.VLAN}
		fs[k] = append(fs[k], flowCount{j.C2S.Packets, j.C2S.Bytes, j.S2C.Packets, j.S2C.Bytes})
	}
	for _, v := range fs {
		sort.Slice(v, func(i, j int) bool { return fmt.Sprint(v[i]) < fmt.Sprint(v[j]) })
	}
	return fs
}

// fileFlows sessionizes a capture file through the file path of the
// same pipeline.
func fileFlows(t *testing.T, pcap string) flowSet {
	t.Helper()
	out := filepath.Join(t.TempDir(), "file-flows.jsonl")
	r := startPipeline(t, flowPipeline(out, 0, "file: "+pcap, "progress: never"))
	select {
	case err := <-r.done:
		r.done <- err
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("file pipeline did not finish")
	}
	return readFlows(t, out)
}

// diffFlows lists the differences between two flow sets.
func diffFlows(want, got flowSet) []string {
	var d []string
	for k, w := range want {
		g := got[k]
		if fmt.Sprint(w) != fmt.Sprint(g) {
			d = append(d, fmt.Sprintf("%v: tcpdump %v, nfpipe %v", k, w, g))
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			d = append(d, fmt.Sprintf("%v: tcpdump none, nfpipe %v", k, g))
		}
	}
	sort.Strings(d)
	return d
}

// totals sums packets and bytes of a flow set.
func (fs flowSet) totals() (packets, bytes uint64) {
	for _, v := range fs {
		for _, c := range v {
			packets += c.C2SPackets + c.S2CPackets
			bytes += c.C2SBytes + c.S2CBytes
		}
	}
	return
}

// has reports whether some flow matches.
func (fs flowSet) count(match func(flowKey) bool) int {
	n := 0
	for k := range fs {
		if match(k) {
			n++
		}
	}
	return n
}

// between keeps the flows whose two ends are test hosts of the pair.
func (fs flowSet) between(p *netPair) flowSet {
	hosts := map[string]bool{}
	for _, a := range []string{p.a4, p.b4, p.a6, p.b6, p.va4, p.vb4} {
		if a != "" {
			hosts[a] = true
		}
	}
	ip := func(ep string) string { return ep[:strings.LastIndexByte(ep, '/')] }
	out := flowSet{}
	for k, v := range fs {
		if hosts[ip(k.Client)] && hosts[ip(k.Server)] {
			out[k] = v
		}
	}
	return out
}
