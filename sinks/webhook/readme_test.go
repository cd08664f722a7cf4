package webhook

import (
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/nfpipe/nfpipe/pipeline/config"
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
		t.Error("README.md is out of date; run make docs")
	}
}

// TestExamplesDecodeAndValidate decodes every example as nfpipe would,
// with its ${VAR} references set.
func TestExamplesDecodeAndValidate(t *testing.T) {
	if len(Spec.Examples) == 0 {
		t.Fatal("no examples")
	}
	env := func(name string) (string, bool) {
		if strings.HasSuffix(name, "_URL") {
			return "https://hooks.example.com/services/T0/B0/XYZ", true
		}
		return "an-environment-value-0123456789", true
	}
	for _, ex := range Spec.Examples {
		yml := "sinks:\n  hook:\n    type: webhook\n    " + strings.ReplaceAll(strings.TrimSpace(ex.YAML), "\n", "\n    ") + "\n"
		cfg, errs := config.Parse("example.yaml", []byte(yml), env)
		if len(errs) > 0 {
			t.Fatalf("%s: %v", ex.Title, errs)
		}
		d := &spec.Decoder{File: "example"}
		var c Config
		if !d.DecodeComponent(Spec, cfg.Decls[0].Node, Spec.Name, &c) {
			t.Errorf("%s: %v", ex.Title, d.Errs)
		}
	}
}
