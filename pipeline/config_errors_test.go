package pipeline_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nfpipe/nfpipe/pipeline"
	"github.com/nfpipe/nfpipe/pipeline/config"
	"github.com/nfpipe/nfpipe/pipeline/event"
	"github.com/nfpipe/nfpipe/pipeline/spec"
)

type nopComponent struct{}

func (nopComponent) Run(ctx context.Context, env *pipeline.Env) error {
	for range env.Batches() {
	}
	return nil
}

type fileCfg struct {
	File  string `yaml:"file"`
	Speed string `yaml:"speed"`
}
type sessCfg struct {
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	MaxSessions int           `yaml:"max_sessions"`
}
type pathCfg struct {
	Path string `yaml:"path"`
}

// shapeRegistry has components shaped like the real ones (kinds, fields),
// so the engine's checks are tested without depending on them.
func shapeRegistry() *pipeline.Registry {
	r := pipeline.NewRegistry()
	nop := func(any) (pipeline.Component, error) { return nopComponent{}, nil }
	pipeline.RegisterIn(r, &spec.Component{Name: "capture", Role: spec.RoleStage, Summary: "s", Source: true, Emits: event.KindsOf(event.Raw),
		Fields: []*spec.Field{
			spec.String("file").Description("capture file"),
			spec.Enum("speed", "max", "realtime").Default("max").Description("replay speed"),
		}}, func(c *fileCfg, _ *pipeline.BuildContext) (pipeline.Component, error) { return nop(c) })
	pipeline.RegisterIn(r, &spec.Component{Name: "decode", Role: spec.RoleStage, Summary: "s", Accepts: event.KindsOf(event.Raw), Emits: event.KindsOf(event.Packet)},
		func(c *noConfig, _ *pipeline.BuildContext) (pipeline.Component, error) { return nop(c) })
	pipeline.RegisterIn(r, &spec.Component{Name: "sessionize", Role: spec.RoleStage, Summary: "s", Accepts: event.KindsOf(event.Packet), Emits: event.KindsOf(event.Flow),
		Fields: []*spec.Field{
			spec.Duration("idle_timeout").Default("300s").Description("idle timeout"),
			spec.Int("max_sessions").Default("1000000").Min(1).Description("table bound"),
		}}, func(c *sessCfg, _ *pipeline.BuildContext) (pipeline.Component, error) { return nop(c) })
	pipeline.RegisterIn(r, &spec.Component{Name: "filter", Role: spec.RoleStage, Summary: "s", Accepts: event.KindsOf(event.Flow, event.IPStat), Passthrough: true,
		Outputs: []spec.Output{{Name: "matched", Doc: "events a rule matched"}}},
		func(c *noConfig, _ *pipeline.BuildContext) (pipeline.Component, error) { return nop(c) })
	pipeline.RegisterIn(r, &spec.Component{Name: "jsonl", Role: spec.RoleSink, Summary: "s", Accepts: event.AllKinds(),
		Fields: []*spec.Field{spec.String("path").Description("output file")}},
		func(c *pathCfg, _ *pipeline.BuildContext) (pipeline.Component, error) { return nop(c) })
	pipeline.RegisterIn(r, &spec.Component{Name: "flowdb", Role: spec.RoleSink, Summary: "s", Accepts: event.KindsOf(event.Flow)},
		func(c *noConfig, _ *pipeline.BuildContext) (pipeline.Component, error) { return nop(c) })
	return r
}

func checkErrors(yml string, env map[string]string) spec.Errors {
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	cfg, errs := config.Parse("p.yaml", []byte(yml), lookup)
	if len(errs.Fatal()) > 0 || cfg == nil {
		return errs
	}
	_, cerrs := pipeline.Check(cfg, pipeline.WithRegistry(shapeRegistry()))
	return append(errs, cerrs...)
}

const good = `stages:
  cap: {type: capture, file: x.pcap}
  dec: {type: decode, inputs: [cap]}
  sess: {type: sessionize, inputs: [dec]}
sinks:
  out: {type: jsonl, inputs: [sess], path: out.jsonl}
`

func TestGoodPipelineHasNoErrors(t *testing.T) {
	if errs := checkErrors(good, nil); len(errs) > 0 {
		t.Fatalf("unexpected errors:\n%v", errs)
	}
}

func TestBadPipelines(t *testing.T) {
	cases := []struct {
		name string
		yml  string
		want []string
	}{
		{"unknown type", strings.Replace(good, "type: sessionize", "type: sessionise", 1),
			[]string{`p.yaml:4:16: stages.sess.type: unknown stage type "sessionise"; did you mean "sessionize"?`}},
		{"unknown field with suggestion", strings.Replace(good, "inputs: [dec]}", "inputs: [dec], idle_timout: 5m}", 1),
			[]string{`p.yaml:4:43: stages.sess: unknown field "idle_timout"; did you mean "idle_timeout"?`}},
		{"bad duration", strings.Replace(good, "inputs: [dec]}", "inputs: [dec], idle_timeout: 5 minutes}", 1),
			[]string{`p.yaml:4:57: stages.sess.idle_timeout: invalid duration "5 minutes"; use e.g. 300s or 5m`}},
		{"bad integer", strings.Replace(good, "inputs: [dec]}", "inputs: [dec], max_sessions: lots}", 1),
			[]string{`p.yaml:4:57: stages.sess.max_sessions: invalid integer "lots"; use e.g. 1000 or 1_000_000`}},
		{"integer below minimum", strings.Replace(good, "inputs: [dec]}", "inputs: [dec], max_sessions: 0}", 1),
			[]string{`p.yaml:4:57: stages.sess.max_sessions: 0 is too small; the minimum is 1`}},
		{"bad enum with suggestion", strings.Replace(good, "file: x.pcap}", "file: x.pcap, speed: realtme}", 1),
			[]string{`p.yaml:2:45: stages.cap.speed: invalid value "realtme"; did you mean "realtime"? (one of max, realtime)`}},
		{"missing required field", strings.Replace(good, ", path: out.jsonl", "", 1),
			[]string{`p.yaml:6:8: sinks.out: missing required field "path" (string: output file)`}},
		{"missing input", strings.Replace(good, "inputs: [dec]", "inputs: [decoder]", 1),
			[]string{
				`p.yaml:3:3: warning: stages.dec: output is not consumed by any component`,
				`p.yaml:4:37: stages.sess.inputs[0]: unknown input "decoder"; did you mean "dec"?`,
			}},
		{"cycle", `stages:
  cap: {type: capture, file: x.pcap}
  f1: {type: filter, inputs: [f2]}
  f2: {type: filter, inputs: [f1]}
sinks:
  out: {type: jsonl, inputs: [f2], path: o}
`, []string{
			`p.yaml:2:3: warning: stages.cap: output is not consumed by any component`,
			`p.yaml:4:31: stages.f2.inputs: cycle: f1 -> f2 -> f1`,
		}},
		{"kind mismatch", strings.Replace(good, "type: jsonl, inputs: [sess], path: out.jsonl", "type: flowdb, inputs: [dec]", 1),
			[]string{
				`p.yaml:4:3: warning: stages.sess: output is not consumed by any component`,
				`p.yaml:6:32: sinks.out.inputs[0]: dec emits packet but flowdb "out" accepts flow`,
			}},
		{"unset environment variable", strings.Replace(good, "path: out.jsonl", "path: '${OUT_DIR}/out.jsonl'", 1),
			[]string{`p.yaml:6:44: sinks.out.path: environment variable OUT_DIR is not set; export it or write ${OUT_DIR:-default}`}},
		{"required environment variable with message", strings.Replace(good, "path: out.jsonl", "path: '${OUT:?set OUT to the output file}'", 1),
			[]string{`p.yaml:6:44: sinks.out.path: environment variable OUT is not set: set OUT to the output file`}},
		{"no source", `stages:
  dec: {type: decode, inputs: [sess]}
  sess: {type: sessionize, inputs: [dec]}
sinks:
  out: {type: jsonl, inputs: [sess], path: o}
`, []string{
			`p.yaml:1:1: stages: the pipeline has no source; add a stage of type capture`,
			`p.yaml:3:37: stages.sess.inputs: cycle: dec -> sess -> dec`,
		}},
		{"no sink", `stages:
  cap: {type: capture, file: x.pcap}
  dec: {type: decode, inputs: [cap]}
`, []string{
			`p.yaml:1:1: sinks: the pipeline has no sink; add one under sinks:, e.g. type: jsonl`,
			`p.yaml:3:3: warning: stages.dec: output is not consumed by any component`,
		}},
		{"source with inputs", strings.Replace(good, "file: x.pcap}", "file: x.pcap, inputs: [dec]}", 1),
			[]string{`p.yaml:2:47: stages.cap.inputs: a capture stage is a source and takes no inputs; remove inputs:`}},
		{"stage without inputs", strings.Replace(good, "type: decode, inputs: [cap]", "type: decode", 1),
			[]string{
				`p.yaml:2:3: warning: stages.cap: output is not consumed by any component`,
				`p.yaml:3:3: stages.dec: missing inputs: list the components this one reads from, e.g. inputs: [decode]`,
			}},
		{"sink used as input", good + "  more: {type: jsonl, inputs: [out], path: o2}\n",
			[]string{`p.yaml:7:32: sinks.more.inputs[0]: "out" is a sink and has no output; read from a stage`}},
		{"stage declared as sink", strings.Replace(good, "out: {type: jsonl, inputs: [sess], path: out.jsonl}", "out: {type: decode, inputs: [sess]}", 1),
			[]string{`p.yaml:1:1: sinks: the pipeline has no sink; add one under sinks:, e.g. type: jsonl`, `p.yaml:6:15: sinks.out.type: "decode" is a stage; declare it under stages:`}},
		{"unknown output", `stages:
  cap: {type: capture, file: x.pcap}
  dec: {type: decode, inputs: [cap]}
  sess: {type: sessionize, inputs: [dec]}
  flt: {type: filter, inputs: [sess]}
sinks:
  out: {type: jsonl, inputs: [flt.matchd], path: o}
`, []string{`p.yaml:7:31: sinks.out.inputs[0]: "flt" has no output "matchd"; did you mean "flt.matched"?`}},
		{"bad buffer policy", strings.Replace(good, "path: out.jsonl}", "path: out.jsonl, buffer: {when_full: drop}}", 1),
			[]string{`p.yaml:6:75: sinks.out.buffer.when_full: invalid value "drop"; did you mean "drop_newest"? (one of block, drop_newest)`}},
		{"missing type", strings.Replace(good, "{type: decode, inputs: [cap]}", "{inputs: [cap]}", 1),
			[]string{`p.yaml:3:3: stages.dec: missing required field "type"`}},
		{"unknown top-level key", strings.Replace(good, "sinks:", "sink:", 1),
			[]string{`p.yaml:5:1: unknown top-level key "sink"; did you mean "sinks"?`}},
		{"duplicate component name", good + "  dec: {type: jsonl, inputs: [sess], path: o}\n",
			[]string{`p.yaml:7:3: sinks.dec: component name "dec" is already used at line 3`}},
		{"invalid yaml", "stages:\n  cap: {type: capture\n",
			[]string{`p.yaml:1:1: invalid YAML: did not find expected ',' or '}'`}},
		{"wrong value shape", strings.Replace(good, "inputs: [cap]", "inputs: cap", 1),
			[]string{`p.yaml:3:31: stages.dec.inputs: expected a list of component names, e.g. [cap]`}},
		{"all errors at once, sorted", strings.Replace(strings.Replace(good, "type: sessionize", "type: sessionise", 1), "file: x.pcap}", "file: x.pcap, sped: max}", 1),
			[]string{
				`p.yaml:2:38: stages.cap: unknown field "sped"; did you mean "speed"?`,
				`p.yaml:4:16: stages.sess.type: unknown stage type "sessionise"; did you mean "sessionize"?`,
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			errs := checkErrors(tc.yml, nil)
			errs.Sort()
			var got []string
			for _, e := range errs {
				got = append(got, e.Error())
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("errors:\n got: %s\nwant: %s", strings.Join(got, "\n      "), strings.Join(tc.want, "\n      "))
			}
		})
	}
}

func TestConstructorFieldErrorsPointAtTheField(t *testing.T) {
	r := shapeRegistry()
	pipeline.RegisterIn(r, &spec.Component{Name: "opener", Role: spec.RoleSink, Summary: "s", Accepts: event.KindsOf(event.Raw),
		Fields: []*spec.Field{spec.String("path").Description("file")}},
		func(c *pathCfg, _ *pipeline.BuildContext) (pipeline.Component, error) {
			return nil, &spec.FieldError{Field: "path", Msg: "cannot open " + c.Path}
		})
	cfg, _ := config.Parse("p.yaml", []byte(`stages:
  cap: {type: capture, file: x.pcap}
sinks:
  out:
    type: opener
    inputs: [cap]
    path: /nope/x
`), func(string) (string, bool) { return "", false })
	_, errs := pipeline.FromConfig(cfg, pipeline.WithRegistry(r))
	if got := errs.Error(); got != "p.yaml:7:11: sinks.out.path: cannot open /nope/x" {
		t.Errorf("got %q", got)
	}
}
