package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestLogFormat: --log-format json and text are obeyed; auto writes JSON
// when standard error is the stream systemd's JOURNAL_STREAM names, and
// text otherwise (another stream named, or none). In JSON, every line is
// JSON: the log, the summary and the errors of an invalid pipeline.
func TestLogFormat(t *testing.T) {
	out := filepath.Join(t.TempDir(), "flows.jsonl")
	good := writePipeline(t, "../../testdata/corpus/valid/zeek_http_get.pcap", "max", out)
	bad := writeFile(t, "bad.yaml", "stages:\n  cap: {type: capture, fil: x.pcap}\n")
	for _, c := range []struct {
		name    string
		args    []string
		journal string // "self": JOURNAL_STREAM names stderr; "other": another file
		json    bool
	}{
		{"json flag", []string{"--log-format", "json"}, "", true},
		{"text flag under the journal", []string{"--log-format", "text"}, "self", false},
		{"auto under the journal", nil, "self", true},
		{"auto with another stream named", nil, "other", false},
		{"auto without the journal", nil, "", false},
	} {
		for _, pl := range []string{good, bad} {
			dir := t.TempDir()
			stderr, _ := os.Create(filepath.Join(dir, "stderr"))
			named := stderr
			if c.journal == "other" {
				named, _ = os.Create(filepath.Join(dir, "other"))
			}
			var st syscall.Stat_t
			syscall.Fstat(int(named.Fd()), &st)
			cmd := exec.Command(nfpipeBin, append(c.args, "run", pl)...)
			cmd.Env = os.Environ()
			if c.journal != "" {
				cmd.Env = append(cmd.Env, fmt.Sprintf("JOURNAL_STREAM=%d:%d", st.Dev, st.Ino))
			}
			cmd.Stderr = stderr
			err := cmd.Run()
			stderr.Close()
			if (err == nil) != (pl == good) {
				t.Errorf("%s, %s: %v", c.name, filepath.Base(pl), err)
			}
			data, _ := os.ReadFile(stderr.Name())
			text := strings.TrimSpace(string(data))
			if text == "" {
				t.Errorf("%s, %s: no output", c.name, filepath.Base(pl))
				continue
			}
			for _, line := range strings.Split(text, "\n") {
				var v map[string]any
				isJSON := json.Unmarshal([]byte(line), &v) == nil && v["level"] != nil
				if isJSON != c.json && !(line == "" && !c.json) {
					t.Errorf("%s, %s: line %q: JSON %v, want %v", c.name, filepath.Base(pl), line, isJSON, c.json)
				}
			}
		}
	}
}
