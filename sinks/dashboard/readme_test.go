package dashboard

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
		if err := yaml.Unmarshal([]byte("dashboard:\n  "+indent(ex.YAML)), &doc); err != nil {
			t.Fatalf("%s: %v", ex.Title, err)
		}
		top := doc.Content[0]
		d := &spec.Decoder{File: "example"}
		var cfg Config
		if !d.DecodeComponent(Spec, top.Content[1], "sinks.dashboard", &cfg) {
			t.Errorf("%s: %v", ex.Title, d.Errs)
		}
	}
}

func indent(s string) string {
	out := []byte{}
	for i := 0; i < len(s); i++ {
		out = append(out, s[i])
		if s[i] == '\n' && i+1 < len(s) {
			out = append(out, ' ', ' ')
		}
	}
	return string(out)
}
