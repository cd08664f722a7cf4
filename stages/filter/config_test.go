package filter

import (
	"strings"
	"testing"

	"github.com/nfpipe/nfpipe/pipeline"
	"github.com/nfpipe/nfpipe/pipeline/event"
	"github.com/nfpipe/nfpipe/pipeline/spec"
)

func checkRegistry() *pipeline.Registry {
	r := pipeline.NewRegistry()
	pipeline.RegisterIn(r, componentSpec, newStage)
	pipeline.RegisterIn(r, &spec.Component{Name: "feed", Role: spec.RoleStage, Summary: "test source", Source: true,
		Emits: event.KindsOf(event.Flow)}, func(*noConfig, *pipeline.BuildContext) (pipeline.Component, error) { return &feed{}, nil })
	pipeline.RegisterIn(r, &spec.Component{Name: "sink", Role: spec.RoleSink, Summary: "test sink",
		Accepts: event.KindsOf(event.Flow, event.Alert)}, func(*noConfig, *pipeline.BuildContext) (pipeline.Component, error) { return &collect{}, nil })
	return r
}

// TestConfigErrors checks that every mistake is reported at once, at the
// position of the value, with the line and column inside the expression.
func TestConfigErrors(t *testing.T) {
	yml := `stages:
  src: {type: feed}
  f:
    type: filter
    inputs: [src]
    rules:
      - name: scan
        when: 'kind == "flow" && flow.bytez > 1'
        drop: true
      - name: multi
        when: |
          kind == "flow" &&
            flow.bytes > 1e6 && nope
        drop: true
      - name: tmpl
        when: 'true'
        alert: {message: "from {{ flow.client_ipp }}"}
      - name: Bad-Name
        when: 'flow.client_ip in cidr("10.0.0.0/33")'
        keep: true
      - name: sum
        when: 'true'
        for: 1m
        aggregate: sum
        tag: [x]
sinks:
  out: {type: sink, inputs: [f]}
`
	_, errs := buildPipeline(t, yml, checkRegistry())
	want := []struct {
		line, col int
		path, msg string
	}{
		{8, 15, "stages.f.rules[0].when", "flow has no field bytez; did you mean flow.bytes? at line 1, column 24 of the expression"},
		{11, 15, "stages.f.rules[1].when", "unknown name nope at line 2, column 23 of the expression"},
		{17, 26, "stages.f.rules[2].alert.message", "flow has no field client_ipp; did you mean flow.client_ip? at column 14 of the message"},
		{18, 15, "stages.f.rules[3].name", `invalid rule name "Bad-Name"`},
		{19, 15, "stages.f.rules[3].when", `invalid network "10.0.0.0/33"; use e.g. "10.0.0.0/8" or "fd00::/8" at line 1, column 24 of the expression`},
	}
	if len(errs) != len(want) {
		t.Fatalf("got %d errors, want %d:\n%v", len(errs), len(want), errs)
	}
	for i, w := range want {
		e := errs[i]
		if e.Line != w.line || e.Col != w.col || e.Path != w.path || !strings.Contains(e.Msg, w.msg) {
			t.Errorf("error %d: %s\nwant %d:%d %s: %s", i, e.Error(), w.line, w.col, w.path, w.msg)
		}
	}
}

// TestRuleCombinationErrors checks the checks that span several fields of
// a rule; they are reported once the expressions compile.
func TestRuleCombinationErrors(t *testing.T) {
	cases := map[string]string{
		"drop: true\n        keep: true":                                           "drop and keep both set",
		"for: 1m\n        aggregate: sum\n        drop: true":                      "aggregate: sum needs value",
		"aggregate: distinct\n        value: flow.server_port\n        drop: true": "need a window",
		"threshold: 5\n        drop: true":                                         "threshold needs a window",
		"tag: []":                                                                  "the rule does nothing",
		"alert: {severity: info}":                                                  "alert has a severity but no message",
		"for: 1m\n        aggregate: sum\n        value: flow.proto\n        drop: true": "value: ",
	}
	for body, want := range cases {
		yml := `stages:
  src: {type: feed}
  f:
    type: filter
    inputs: [src]
    rules:
      - name: r
        when: 'kind == "flow"'
        ` + body + `
sinks:
  out: {type: sink, inputs: [f]}
`
		_, errs := buildPipeline(t, yml, checkRegistry())
		if len(errs) != 1 || !strings.Contains(errs[0].Msg, want) || errs[0].Path != "stages.f.rules" {
			t.Errorf("%q: %v, want %q", body, errs, want)
		}
	}
	yml := `stages:
  src: {type: feed}
  f:
    type: filter
    inputs: [src]
    rules:
      - {name: a, when: 'true', drop: true}
      - {name: a, when: 'false', drop: true}
sinks:
  out: {type: sink, inputs: [f]}
`
	if _, errs := buildPipeline(t, yml, checkRegistry()); len(errs) != 1 || !strings.Contains(errs[0].Msg, `rule name "a" is also used by rules[0]`) {
		t.Errorf("duplicate names: %v", errs)
	}
}
