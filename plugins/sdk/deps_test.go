package sdk_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportsNoEngine keeps the SDK splittable into its own module: of
// nfpipe's packages it may import only the event model, the protocol and
// the codec between them, never the engine, stages or sinks.
func TestImportsNoEngine(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/nfpipe/nfpipe/plugins/sdk").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	allowed := map[string]bool{
		"github.com/nfpipe/nfpipe/plugins/sdk":                    true,
		"github.com/nfpipe/nfpipe/pipeline/event":                 true,
		"github.com/nfpipe/nfpipe/plugins/codec":                  true,
		"github.com/nfpipe/nfpipe/plugins/proto/nfpipe/plugin/v1": true,
	}
	seen := 0
	for _, pkg := range strings.Fields(string(out)) {
		if !strings.HasPrefix(pkg, "github.com/nfpipe/nfpipe/") {
			continue
		}
		seen++
		if !allowed[pkg] {
			t.Errorf("the SDK depends on %s", pkg)
		}
	}
	if seen != len(allowed) {
		t.Errorf("saw %d nfpipe packages in the SDK's dependencies, want exactly %d", seen, len(allowed))
	}
}
