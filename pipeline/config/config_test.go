package config_test

import (
	"testing"

	"github.com/nfpipe/nfpipe/pipeline/config"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestEnvExpansionKeepsPositionsAndTypes(t *testing.T) {
	yml := `stages:
  cap:
    type: capture
    file: ${DIR}/trace.pcap
    workers: ${WORKERS:-4}
    note: "$${NOT_A_VAR}"
    empty: ${EMPTY:-fallback}
    set_empty: ${EMPTY-kept}
sinks:
  out: {type: jsonl, inputs: [cap], path: "${OUT:?set OUT}"}
`
	cfg, errs := config.Parse("p.yaml", []byte(yml), env(map[string]string{"DIR": "/data", "EMPTY": "", "OUT": "o.jsonl"}))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	cap := cfg.Decl("cap").Node
	get := func(key string) (string, string, int) {
		for i := 0; i+1 < len(cap.Content); i += 2 {
			if cap.Content[i].Value == key {
				v := cap.Content[i+1]
				return v.Value, v.Tag, v.Line
			}
		}
		t.Fatalf("no key %s", key)
		return "", "", 0
	}
	if v, _, line := get("file"); v != "/data/trace.pcap" || line != 4 {
		t.Errorf("file = %q at line %d", v, line)
	}
	if v, tag, _ := get("workers"); v != "4" || tag != "!!int" {
		t.Errorf("workers = %q tag %s; want 4 typed as int", v, tag)
	}
	if v, _, _ := get("note"); v != "${NOT_A_VAR}" {
		t.Errorf("$$ escape: %q", v)
	}
	if v, _, _ := get("empty"); v != "fallback" {
		t.Errorf(":- with empty value: %q", v)
	}
	if v, _, _ := get("set_empty"); v != "" {
		t.Errorf("- with empty but set value: %q", v)
	}
	out := cfg.Decl("out")
	if len(out.Inputs) != 1 || out.Inputs[0].Component != "cap" {
		t.Errorf("inputs: %+v", out.Inputs)
	}
}

func TestInputsWithOutputs(t *testing.T) {
	cfg, errs := config.Parse("p.yaml", []byte(`stages:
  f: {type: filter, inputs: [a.matched, b]}
`), env(nil))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	in := cfg.Decl("f").Inputs
	if in[0].Component != "a" || in[0].Output != "matched" || in[0].String() != "a.matched" || in[1].Output != "" {
		t.Errorf("inputs: %+v", in)
	}
}

func TestEmptyAndMissingFiles(t *testing.T) {
	if _, errs := config.Parse("e.yaml", []byte(""), env(nil)); len(errs) != 1 || errs[0].Error() != "e.yaml: the pipeline file is empty; declare stages: and sinks:" {
		t.Errorf("empty file: %v", errs)
	}
	if _, errs := config.Load("/nonexistent/p.yaml"); len(errs) != 1 || errs[0].Error() != "/nonexistent/p.yaml: cannot read pipeline: no such file or directory" {
		t.Errorf("missing file: %v", errs)
	}
}
