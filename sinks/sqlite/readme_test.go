package sqlite

import (
	"os"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/nfpipe/nfpipe/pipeline/spec"
)

func TestREADMEIsGeneratedFromSpec(t *testing.T) {
	want := spec.Markdown(componentSpec)
	if os.Getenv("NFPIPE_UPDATE_README") != "" {
		if err := os.WriteFile("README.md", []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Error("README.md is out of date; run make docs")
	}
}

func TestExamplesDecode(t *testing.T) {
	if len(componentSpec.Examples) == 0 {
		t.Fatal("no examples")
	}
	for _, ex := range componentSpec.Examples {
		var doc yaml.Node
		if err := yaml.Unmarshal([]byte(ex.YAML), &doc); err != nil {
			t.Fatalf("%s: %v", ex.Title, err)
		}
		d := &spec.Decoder{File: "example"}
		var cfg Config
		if !d.DecodeComponent(componentSpec, doc.Content[0], componentSpec.Name, &cfg) {
			t.Errorf("%s: %v", ex.Title, d.Errs)
		}
	}
}
