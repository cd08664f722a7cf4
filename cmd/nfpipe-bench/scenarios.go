package main

import (
	"fmt"
	"path/filepath"
	"strconv"

	// The components the benchmark pipelines are built from.
	_ "github.com/nfpipe/nfpipe/sinks/discard"
	_ "github.com/nfpipe/nfpipe/sinks/jsonl"
	_ "github.com/nfpipe/nfpipe/stages/capture"
	_ "github.com/nfpipe/nfpipe/stages/decode"
	_ "github.com/nfpipe/nfpipe/stages/ipstats"
	_ "github.com/nfpipe/nfpipe/stages/sessionize"
)

// scenario is one measured pipeline.
type scenario struct {
	id    string // for -only and the child flag
	label string // the table's first column
	procs int    // GOMAXPROCS of the child; 0 leaves the machine's default
	// sink is the sink's YAML (type and fields) taking the flows and
	// ipstats; empty means the pipeline stops after decode.
	sink func(out string) string
}

func discardSink(string) string { return "type: discard" }

func jsonlSink(out string) string {
	return "type: jsonl\n    path: " + strconv.Quote(filepath.Join(out, "flows.jsonl"))
}

// scenarios are measured in this order.
var scenarios = []scenario{
	{id: "decode", label: "capture→decode→discard", sink: nil},
	{id: "full-discard", label: "capture→decode→sessionize+ipstats→discard", sink: discardSink},
	{id: "full-jsonl", label: "capture→decode→sessionize+ipstats→jsonl", sink: jsonlSink},
	{id: "full-discard-1cpu", label: "capture→decode→sessionize+ipstats→discard", procs: 1, sink: discardSink},
	{id: "full-jsonl-1cpu", label: "capture→decode→sessionize+ipstats→jsonl", procs: 1, sink: jsonlSink},
}

func findScenario(id string) (scenario, bool) {
	for _, s := range scenarios {
		if s.id == id {
			return s, true
		}
	}
	return scenario{}, false
}

// pipelineYAML is the pipeline of a scenario over a capture file.
func pipelineYAML(s scenario, file, out string) string {
	head := fmt.Sprintf(`stages:
  capture:
    type: capture
    file: %s
    speed: max
    progress: never
  decode:
    type: decode
    inputs: [capture]
`, strconv.Quote(file))
	if s.sink == nil {
		return head + `sinks:
  out:
    type: discard
    inputs: [decode]
`
	}
	return head + `  sessionize:
    type: sessionize
    inputs: [decode]
    idle_timeout: 300s
  ipstats:
    type: ipstats
    inputs: [decode]
sinks:
  out:
    ` + s.sink(out) + `
    inputs: [sessionize, ipstats]
`
}

// rssYAML is the flow-table pipeline: timeouts far beyond the capture's
// packet time and room for every flow, so the table only grows until TCP
// closes begin.
func rssYAML(file string, flows int) string {
	return fmt.Sprintf(`stages:
  capture:
    type: capture
    file: %s
    speed: max
    progress: never
  decode:
    type: decode
    inputs: [capture]
  sessionize:
    type: sessionize
    inputs: [decode]
    idle_timeout: 24h
    max_sessions: %d
sinks:
  out:
    type: discard
    inputs: [sessionize]
`, strconv.Quote(file), 2*flows)
}
