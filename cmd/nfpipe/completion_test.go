package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestShellCompletion generates the bash, zsh and fish scripts, checks
// each is the script of its shell for nfpipe (bash's parses with bash -n),
// and asks the completion engine for flag values: -i offers the
// interfaces, -c offers YAML files.
func TestShellCompletion(t *testing.T) {
	for shell, marker := range map[string]string{
		"bash": "__start_nfpipe",
		"zsh":  "#compdef nfpipe",
		"fish": "complete -c nfpipe",
	} {
		r := nfpipe(t, nil, "completion", shell)
		if r.code != 0 || len(r.stdout) < 1000 || !strings.Contains(r.stdout, marker) {
			t.Errorf("completion %s: exit %d, %d bytes, marker %q missing\n%s", shell, r.code, len(r.stdout), marker, r.stderr)
			continue
		}
		if shell == "bash" {
			script := filepath.Join(t.TempDir(), "nfpipe.bash")
			os.WriteFile(script, []byte(r.stdout), 0o644)
			if out, err := exec.Command("bash", "-n", script).CombinedOutput(); err != nil {
				t.Errorf("bash -n: %v\n%s", err, out)
			}
		}
	}
	r := nfpipe(t, nil, "__complete", "run", "-i", "")
	if !strings.Contains(r.stdout, "lo\n") || !strings.Contains(r.stdout, "default\n") {
		t.Errorf("-i completion lacks the interfaces:\n%s", r.stdout)
	}
	r = nfpipe(t, nil, "__complete", "run", "-c", "")
	if !strings.Contains(r.stdout, "yaml\nyml\n") {
		t.Errorf("-c completion does not filter YAML files:\n%s", r.stdout)
	}
	r = nfpipe(t, nil, "__complete", "")
	for _, cmd := range []string{"run", "validate", "migrate-config", "doctor", "interfaces", "completion"} {
		if !strings.Contains(r.stdout, cmd) {
			t.Errorf("command completion lacks %s:\n%s", cmd, r.stdout)
		}
	}
}
