package decode

import (
	"flag"
	"os"
	"testing"

	"github.com/nfpipe/nfpipe/pipeline/spec"
)

var update = flag.Bool("update", false, "rewrite README.md from the spec")

// TestREADMEUpToDate keeps README.md equal to the docs rendered from the
// spec; run go test -run README -update after changing the spec.
func TestREADMEUpToDate(t *testing.T) {
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
		t.Error("README.md is out of date; run go test ./stages/decode -run README -update")
	}
}
