package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

var nfpipeBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "nfpipe-cli")
	if err != nil {
		panic(err)
	}
	nfpipeBin = filepath.Join(dir, "nfpipe")
	out, err := exec.Command("go", "build", "-o", nfpipeBin, ".").CombinedOutput()
	if err != nil {
		panic("building nfpipe: " + err.Error() + "\n" + string(out))
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	stdout, stderr string
	code           int
}

func nfpipe(t *testing.T, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(nfpipeBin, args...)
	cmd.Env = append(os.Environ(), env...)
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{so.String(), se.String(), code}
}

func TestValidateExamples(t *testing.T) {
	files, _ := filepath.Glob("../../examples/*.yaml")
	if len(files) < 2 {
		t.Fatalf("expected example pipelines, found %v", files)
	}
	r := nfpipe(t, nil, append([]string{"validate"}, files...)...)
	if r.code != 0 {
		t.Fatalf("validate failed (%d):\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, f := range files {
		if !strings.Contains(r.stdout, f+": ok") {
			t.Errorf("no ok line for %s:\n%s", f, r.stdout)
		}
	}
}

func TestValidateReportsAllErrorsWithPositionsAndExit78(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte(`stages:
  capture:
    type: capture
    file: missing.pcap
  decode: {type: decode, inputs: [capture]}
  sessions:
    type: sessionize
    inputs: [decode]
    idle_timeout: 5 minutes
    max_sesions: 10
sinks:
  out: {type: jsonl, inputs: [sessions], path: out.jsonl}
`), 0o644)
	r := nfpipe(t, nil, "validate", bad)
	if r.code != 78 {
		t.Fatalf("exit code %d, want 78\n%s", r.code, r.stderr)
	}
	for _, want := range []string{
		bad + `:9:19: stages.sessions.idle_timeout: invalid duration "5 minutes"; use e.g. 300s or 5m`,
		bad + `:10:5: stages.sessions: unknown field "max_sesions"; did you mean "max_sessions"?`,
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("missing %q in:\n%s", want, r.stderr)
		}
	}
	// With the schema fixed, the environment tier finds the missing file.
	fixed := filepath.Join(t.TempDir(), "env.yaml")
	os.WriteFile(fixed, []byte(`stages:
  capture: {type: capture, file: missing.pcap}
  decode: {type: decode, inputs: [capture]}
sinks:
  out: {type: jsonl, inputs: [decode], path: out.jsonl}
`), 0o644)
	r = nfpipe(t, nil, "validate", fixed)
	if r.code != 78 || !strings.Contains(r.stderr, "missing.pcap") {
		t.Errorf("missing capture file not reported (exit %d):\n%s", r.code, r.stderr)
	}
	if r := nfpipe(t, nil, "validate", "--no-environment", fixed); r.code != 0 {
		t.Errorf("--no-environment still checked the file (exit %d):\n%s", r.code, r.stderr)
	}
}

func TestStagesDocs(t *testing.T) {
	r := nfpipe(t, nil, "stages")
	for _, typ := range []string{"capture", "decode", "sessionize", "ipstats", "jsonl"} {
		if !regexp.MustCompile(`(?m)^` + typ + `\s`).MatchString(r.stdout) {
			t.Errorf("stages list lacks %s:\n%s", typ, r.stdout)
		}
	}
	r = nfpipe(t, nil, "stages", "sessionize")
	for _, want := range []string{"idle_timeout", "max_sessions", "300s"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("sessionize docs lack %q:\n%s", want, r.stdout)
		}
	}
	if r := nfpipe(t, nil, "stages", "sessionise"); r.code == 0 || !strings.Contains(r.stderr, `did you mean "sessionize"`) {
		t.Errorf("unknown type: exit %d, %s", r.code, r.stderr)
	}
}

type flowLine struct {
	Kind      string `json:"kind"`
	Event     string `json:"event"`
	ID        string `json:"id"`
	EndReason string `json:"end_reason"`
	C2S       struct{ Packets, Bytes uint64 }
	S2C       struct{ Packets, Bytes uint64 }
}

func readFlows(t *testing.T, path string) []flowLine {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []flowLine
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var fl flowLine
		if err := json.Unmarshal(sc.Bytes(), &fl); err != nil {
			t.Fatalf("bad JSON line %q: %v", sc.Text(), err)
		}
		if fl.Kind == "flow" {
			out = append(out, fl)
		}
	}
	return out
}

// summaryIn returns the IN column of a component in the run summary.
func summaryIn(t *testing.T, stderr, component string) uint64 {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + component + `\s+\S+\s+(\d+)\s+`).FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("no summary line for %s in:\n%s", component, stderr)
	}
	n, _ := strconv.ParseUint(m[1], 10, 64)
	return n
}

func writePipeline(t *testing.T, pcap, speed, out string) string {
	t.Helper()
	abs, _ := filepath.Abs(pcap)
	p := filepath.Join(t.TempDir(), "p.yaml")
	os.WriteFile(p, []byte(`stages:
  capture: {type: capture, file: `+abs+`, speed: `+speed+`}
  decode: {type: decode, inputs: [capture]}
  sessions: {type: sessionize, inputs: [decode], idle_timeout: 3600s}
sinks:
  out: {type: jsonl, inputs: [sessions], path: `+out+`}
`), 0o644)
	return p
}

func TestRunFileToJSONLines(t *testing.T) {
	out := filepath.Join(t.TempDir(), "flows.jsonl")
	p := writePipeline(t, "../../testdata/corpus/valid/zeek_tunnels_Teredo.pcap", "max", out)
	r := nfpipe(t, nil, "run", p)
	if r.code != 0 {
		t.Fatalf("run failed (%d):\n%s", r.code, r.stderr)
	}
	flows := readFlows(t, out)
	var pkts uint64
	for _, f := range flows {
		pkts += f.C2S.Packets + f.S2C.Packets
		if f.Event != "end" {
			t.Errorf("flow %s: event %q, want end", f.ID, f.Event)
		}
	}
	if len(flows) == 0 {
		t.Fatal("no flows written")
	}
	if in := summaryIn(t, r.stderr, "sessions"); pkts != in {
		t.Errorf("flows account for %d packets, sessionize received %d", pkts, in)
	}
}

// TestSIGTERMFlushesOpenFlows interrupts a real-time replay: every flow
// that was open must reach the sink with end_reason shutdown, and the
// flows together must account for every packet that was decoded.
func TestSIGTERMFlushesOpenFlows(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "flows.jsonl")
	p := writePipeline(t, "../../examples/sample.pcapng", "realtime", out)
	cmd := exec.Command(nfpipeBin, "run", p)
	var se bytes.Buffer
	cmd.Stderr = &se
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("run after SIGTERM: %v\n%s", err, se.String())
	}
	flows := readFlows(t, out)
	ends := map[string]int{}
	shutdown := 0
	var pkts uint64
	for _, f := range flows {
		if f.Event == "end" {
			ends[f.ID]++
			pkts += f.C2S.Packets + f.S2C.Packets
			if f.EndReason == "shutdown" {
				shutdown++
			}
		}
	}
	if shutdown == 0 {
		t.Fatalf("no flow ended with reason shutdown (%d flows):\n%s", len(flows), se.String())
	}
	for id, n := range ends {
		if n != 1 {
			t.Errorf("flow %s ended %d times", id, n)
		}
	}
	if in := summaryIn(t, se.String(), "sessions"); pkts != in {
		t.Errorf("ended flows account for %d packets, sessionize received %d: something was lost", pkts, in)
	}
}

// TestDefaultPipelineRunsWithNoArguments starts `nfpipe run` with no file:
// the embedded default pipeline replays the bundled sample and serves the
// dashboard, whose status must show packets flowing.
func TestDefaultPipelineRunsWithNoArguments(t *testing.T) {
	cmd := exec.Command(nfpipeBin, "run")
	cmd.Env = append(os.Environ(), "XDG_CACHE_HOME="+t.TempDir())
	var se bytes.Buffer
	cmd.Stderr = &se
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	deadline := time.Now().Add(60 * time.Second)
	var packets float64
	for time.Now().Before(deadline) && packets == 0 {
		time.Sleep(500 * time.Millisecond)
		resp, err := http.Get("http://127.0.0.1:8080/api/status")
		if err != nil {
			continue
		}
		var st map[string]any
		json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		packets, _ = st["packets"].(float64)
	}
	if packets == 0 {
		t.Fatalf("the dashboard of the default pipeline showed no packets within 60s\n%s", se.String())
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("exit: %v\n%s", err, se.String())
	}
}
