package capture

import (
	"strings"
	"testing"

	"github.com/nfpipe/nfpipe/pipeline"
	"github.com/nfpipe/nfpipe/pipeline/config"
	"github.com/nfpipe/nfpipe/pipeline/spec"
)

// TestSpecExamplesValidate decodes every example of the spec as a
// capture stage and checks the pipeline around it.
func TestSpecExamplesValidate(t *testing.T) {
	if len(captureSpec.Examples) == 0 {
		t.Fatal("no examples")
	}
	for _, ex := range captureSpec.Examples {
		t.Run(ex.Title, func(t *testing.T) {
			var b strings.Builder
			b.WriteString("stages:\n  cap:\n    type: capture\n")
			for _, line := range strings.Split(strings.TrimRight(ex.YAML, "\n"), "\n") {
				b.WriteString("    " + line + "\n")
			}
			b.WriteString("sinks:\n  out:\n    type: frames\n    inputs: [cap]\n")
			cfg, errs := config.Parse("example.yaml", []byte(b.String()), func(string) (string, bool) { return "", false })
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			if _, errs := pipeline.Check(cfg, pipeline.WithRegistry(testRegistry(map[string]*sinkFrames{}))); len(errs.Fatal()) > 0 {
				t.Fatal(errs)
			}
		})
	}
	doc := spec.Markdown(captureSpec)
	for _, f := range captureSpec.Fields {
		if !strings.Contains(doc, "`"+f.Name+"`") {
			t.Errorf("docs do not list field %s", f.Name)
		}
	}
	for _, m := range []string{"packets_read", "bytes_read", "read_errors"} {
		if !strings.Contains(doc, "`"+m+"`") {
			t.Errorf("docs do not list metric %s", m)
		}
	}
	if testing.Verbose() {
		t.Log("\n" + doc)
	}
}
