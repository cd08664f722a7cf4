package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/nfpipe/nfpipe/pipeline/pipetest"
)

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// proc is nfpipe running in the background.
type proc struct {
	cmd    *exec.Cmd
	stdout *pipetest.SyncBuffer
	stderr *pipetest.SyncBuffer
	done   chan struct{}
	err    error
}

// startNfpipe starts the binary with args; it is killed when the test
// ends if still running.
func startNfpipe(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	return startCmd(t, exec.Command(nfpipeBin, args...), env)
}

func startCmd(t *testing.T, cmd *exec.Cmd, env []string) *proc {
	t.Helper()
	cmd.Env = append(append(os.Environ(), "XDG_CACHE_HOME="+t.TempDir()), env...)
	p := &proc{cmd: cmd, stdout: &pipetest.SyncBuffer{}, stderr: &pipetest.SyncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.stdout, p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// signal sends a signal and, for a stop signal, waits for the exit. The
// wait is generous: it fails only if the process never exits.
func (p *proc) stop(t *testing.T) int {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(60 * time.Second):
		t.Fatalf("nfpipe did not exit after SIGTERM:\n%s", p.stderr)
	}
	return p.cmd.ProcessState.ExitCode()
}

// waitFor polls cond until it holds, failing the test (with nfpipe's
// stderr) if it never does or if nfpipe exits meanwhile.
func (p *proc) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if p.exited() {
			t.Fatalf("nfpipe exited (%v) while waiting for %s:\n%s", p.err, what, p.stderr)
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s:\n%s", what, p.stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// httpGet returns the status code and body of a GET, or -1 when the
// server does not answer.
func httpGet(url string, hdr ...string) (int, string) {
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		return -1, err.Error()
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	client := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		return -1, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// apiPipeline returns the dashboard's /api/pipeline nodes by name.
func apiPipeline(t *testing.T, base string, hdr ...string) map[string]map[string]any {
	t.Helper()
	code, body := httpGet(base+"/api/pipeline", hdr...)
	if code != 200 {
		return nil
	}
	var doc struct {
		Nodes []map[string]any `json:"nodes"`
	}
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatalf("/api/pipeline: %v in %s", err, body)
	}
	out := map[string]map[string]any{}
	for _, n := range doc.Nodes {
		out[fmt.Sprint(n["name"])] = n
	}
	return out
}

// scrape fetches a metrics endpoint and parses it with the Prometheus
// text parser; nil when it does not answer.
func scrape(t *testing.T, url string, hdr ...string) map[string]*dto.MetricFamily {
	t.Helper()
	code, body := httpGet(url, hdr...)
	if code != 200 {
		return nil
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse %s: %v", url, err)
	}
	return fams
}

// metricValue returns the value of the series of a family whose labels
// include want, or -1.
func metricValue(fams map[string]*dto.MetricFamily, name string, want ...string) float64 {
	f := fams[name]
	if f == nil {
		return -1
	}
next:
	for _, m := range f.Metric {
		got := map[string]string{}
		for _, l := range m.Label {
			got[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(want); i += 2 {
			if got[want[i]] != want[i+1] {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	return -1
}

// needRoot skips a test that needs root (network namespaces, packet
// sockets, setcap, other users).
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root; CI runs these as root")
	}
}
