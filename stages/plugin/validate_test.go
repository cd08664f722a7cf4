package plugin

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestValidateShowsThePluginsMessage runs nfpipe validate on a pipeline
// whose plugin rejects its config: the plugin's own message must appear
// with the field's path, and validate must exit 78 (EX_CONFIG).
func TestValidateShowsThePluginsMessage(t *testing.T) {
	bin := plugins(t)
	nfpipe := filepath.Join(bin, "nfpipe")
	if out, err := exec.Command("go", "build", "-o", nfpipe, "github.com/nfpipe/nfpipe/cmd/nfpipe").CombinedOutput(); err != nil {
		t.Fatalf("building nfpipe: %v\n%s", err, out)
	}
	dir := t.TempDir()
	write := func(name, content string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("bad.list", "192.0.2.0/24\n10.0.0.300/8\n")
	pipelineFile := write("pipeline.yaml", `stages:
  capture: {type: capture, file: `+mustAbs(t, "../../examples/sample.pcapng")+`}
  decode: {type: decode, inputs: [capture]}
  sessions: {type: sessionize, inputs: [decode]}
  block:
    type: plugin
    inputs: [sessions]
    command: [`+filepath.Join(bin, "blocklist")+`]
    config:
      lists: [bad.list]
      severity: urgent
sinks:
  out: {type: jsonl, inputs: [block], path: out.jsonl}
`)
	validate := func(args ...string) (string, int) {
		cmd := exec.Command(nfpipe, append([]string{"validate"}, args...)...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return stderr.String(), ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return stderr.String(), 0
	}

	// The SDK checks the block against the plugin's spec first.
	out, code := validate(pipelineFile)
	if code != 78 {
		t.Fatalf("exit %d, want 78\n%s", code, out)
	}
	want := regexp.MustCompile(`pipeline\.yaml:\d+:\d+: stages\.block\.config\.severity: invalid value "urgent"; use one of info, warning, critical`)
	if !want.MatchString(out) {
		t.Errorf("no positioned spec error from the plugin:\n%s", out)
	}

	// Then the plugin's own check of the list file, with the list's index.
	write("pipeline.yaml", strings.Replace(mustRead(t, pipelineFile), "severity: urgent", "severity: critical", 1))
	out, code = validate(pipelineFile)
	if code != 78 {
		t.Fatalf("exit %d, want 78\n%s", code, out)
	}
	want = regexp.MustCompile(`pipeline\.yaml:\d+:\d+: stages\.block\.config\.lists\[0\]: bad\.list: line 2: "10\.0\.0\.300/8" is not an address or CIDR prefix`)
	if !want.MatchString(out) {
		t.Errorf("the plugin's own message is missing:\n%s", out)
	}

	// --no-environment does not start plugins.
	if out, code := validate("--no-environment", pipelineFile); code != 0 {
		t.Errorf("--no-environment started the plugin (exit %d):\n%s", code, out)
	}
	write("bad.list", "192.0.2.0/24\n")
	if out, code := validate(pipelineFile); code != 0 {
		t.Errorf("fixed pipeline: exit %d\n%s", code, out)
	}
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	abs, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

func mustRead(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
