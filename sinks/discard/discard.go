package discard

import (
	"context"
	"sync/atomic"

	"github.com/nfpipe/nfpipe/pipeline"
	"github.com/nfpipe/nfpipe/pipeline/event"
	"github.com/nfpipe/nfpipe/pipeline/spec"
)

// Config is the discard sink's configuration: it has no fields.
type Config struct{}

// componentSpec is the single description of the sink.
var componentSpec = &spec.Component{
	Name:      "discard",
	Role:      spec.RoleSink,
	Summary:   "Counts events and drops them, for benchmarks and dry runs.",
	Stability: spec.Stable,
	Accepts:   event.AllKinds(),
	Description: `
Every batch is counted (events_in in the status, and one counter per kind)
and released at once. The sink never blocks, so a pipeline ending in it runs
as fast as its stages can: use it to measure them, or to check a pipeline
end to end without writing anything.`,
	Examples: []spec.Example{
		{Title: "Measure the decoder and sessionizer", YAML: "inputs: [sessions]\n"},
	},
	Metrics: []spec.Metric{
		{Name: "packet", Doc: "packet events received"},
		{Name: "flow", Doc: "flow events received"},
		{Name: "ipstat", Doc: "ipstat events received"},
		{Name: "alert", Doc: "alert events received"},
	},
}

func init() { pipeline.Register(componentSpec, build) }

// discard is the sink.
type discard struct{}

var _ pipeline.Component = discard{}

func build(*Config, *pipeline.BuildContext) (pipeline.Component, error) { return discard{}, nil }

// Run counts each batch by kind until the input ends.
func (discard) Run(ctx context.Context, env *pipeline.Env) error {
	var byKind [8]*atomic.Uint64
	for _, k := range componentSpec.Accepts.List() {
		byKind[k] = env.Stats().Counter(k.String())
	}
	for b := range env.Batches() {
		if int(b.Kind) < len(byKind) && byKind[b.Kind] != nil {
			byKind[b.Kind].Add(uint64(b.Len()))
		}
	}
	return nil
}
