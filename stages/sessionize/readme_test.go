package sessionize

import (
	"flag"
	"os"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/nfpipe/nfpipe/pipeline/spec"
)

var update = flag.Bool("update", false, "rewrite README.md from the spec")

func TestREADMEIsGeneratedFromSpec(t *testing.T) {
	want := spec.Markdown(Spec)
	if *update {
		if err := os.WriteFile("README.md", []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Error("README.md is out of date; regenerate it with go test -run README -update")
	}
}

func TestExamplesDecode(t *testing.T) {
	if len(Spec.Examples) == 0 {
		t.Fatal("no examples")
	}
	for _, ex := range Spec.Examples {
		var doc yaml.Node
		if err := yaml.Unmarshal([]byte(ex.YAML), &doc); err != nil {
			t.Fatalf("%s: %v", ex.Title, err)
		}
		d := &spec.Decoder{File: "example"}
		var cfg Config
		if !d.DecodeComponent(Spec, doc.Content[0], "stages.sessions", &cfg) {
			t.Errorf("%s: %v", ex.Title, d.Errs)
		}
	}
}

func TestDefaultConfigMatchesSpec(t *testing.T) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte("{}"), &doc); err != nil {
		t.Fatal(err)
	}
	d := &spec.Decoder{File: "defaults"}
	var cfg Config
	if !d.DecodeComponent(Spec, doc.Content[0], "stages.sessions", &cfg) {
		t.Fatal(d.Errs)
	}
	if cfg != DefaultConfig() {
		t.Errorf("spec defaults %+v, DefaultConfig %+v", cfg, DefaultConfig())
	}
}
