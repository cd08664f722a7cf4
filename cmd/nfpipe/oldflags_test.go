package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// TestOldCommandLine runs the old tool's command lines with nfpipe in
// place of python3 main.py, on the built-in default pipeline (which
// replays the bundled sample, so no root is needed): -p and --host move
// the dashboard, --debug logs at debug level, and a host off loopback
// requires a token.
func TestOldCommandLine(t *testing.T) {
	port := freePort(t)
	// The whole of 127/8 is loopback: 127.0.0.2 shows --host is obeyed.
	p := startNfpipe(t, nil, "-p", fmt.Sprint(port), "--host", "127.0.0.2", "--debug")
	base := fmt.Sprintf("http://127.0.0.2:%d", port)
	p.waitFor(t, "the dashboard on --host/-p", func() bool {
		code, _ := httpGet(base + "/api/status")
		return code == 200
	})
	if code, _ := httpGet(fmt.Sprintf("http://127.0.0.1:%d/api/status", port)); code != -1 {
		t.Errorf("the dashboard also answers on 127.0.0.1 (%d): --host ignored", code)
	}
	if code := p.stop(t); code != 0 {
		t.Errorf("exit %d:\n%s", code, p.stderr)
	}
	if !strings.Contains(p.stderr.String(), "level=DEBUG") {
		t.Errorf("--debug: no debug line in:\n%s", p.stderr)
	}

	// Off loopback: the token from NFPIPE_TOKEN is required.
	const token = "old-cli-token-0123456789"
	port = freePort(t)
	p = startNfpipe(t, []string{"NFPIPE_TOKEN=" + token}, "run", "--host", "0.0.0.0", "-p", fmt.Sprint(port))
	base = fmt.Sprintf("http://127.0.0.1:%d", port)
	p.waitFor(t, "the dashboard on 0.0.0.0", func() bool {
		code, _ := httpGet(base+"/api/status", "Authorization", "Bearer "+token)
		return code == 200
	})
	if code, _ := httpGet(base + "/api/status"); code != 401 {
		t.Errorf("without the token: %d, want 401", code)
	}
	if code := p.stop(t); code != 0 {
		t.Errorf("exit %d:\n%s", code, p.stderr)
	}
	if !strings.Contains(p.stderr.String(), "requires a login token") || strings.Contains(p.stderr.String(), token) {
		t.Errorf("the log should say a token is required and never show it:\n%s", p.stderr)
	}
}

// TestOldListAndCheckFlags: --list-interfaces and --check-deps on the
// root command and on run, and --check-deps reading the old config.yaml.
func TestOldListAndCheckFlags(t *testing.T) {
	for _, args := range [][]string{{"--list-interfaces"}, {"run", "--list-interfaces"}} {
		r := nfpipe(t, nil, args...)
		if r.code != 0 || !strings.HasPrefix(r.stdout, "NAME") || !strings.Contains(r.stdout, "\nlo ") {
			t.Errorf("%v: exit %d\n%s%s", args, r.code, r.stdout, r.stderr)
		}
	}
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"--check-deps"}, []string{"CAP_NET_RAW", "interface      ", "listen port    127.0.0.1:8080"}},
		{[]string{"run", "--check-deps", "-i", "lo", "-p", "8181"}, []string{"interface      lo ", "listen port    127.0.0.1:8181"}},
		{[]string{"--check-deps", "-c", "testdata/old-config.yaml"}, []string{"eth0", "listen port    0.0.0.0:8080", "data/GeoLite2-City.mmdb"}},
	} {
		r := nfpipe(t, nil, c.args...)
		for _, w := range c.want {
			if !strings.Contains(r.stdout, w) {
				t.Errorf("%v: no %q in:\n%s%s", c.args, w, r.stdout, r.stderr)
			}
		}
	}
}

// TestRootCommand: nfpipe alone prints the help; live-capture flags
// without -i, and unknown arguments, are refused.
func TestRootCommand(t *testing.T) {
	if r := nfpipe(t, nil); r.code != 0 || !strings.Contains(r.stdout, "Usage:") || !strings.Contains(r.stdout, "nfpipe -i eth0 -p 8080") {
		t.Errorf("nfpipe alone: %d\n%s", r.code, r.stdout)
	}
	if r := nfpipe(t, nil, "--bpf", "udp"); r.code == 0 || !strings.Contains(r.stderr, "give -i IFACE too") {
		t.Errorf("--bpf without -i: %d %s", r.code, r.stderr)
	}
	if r := nfpipe(t, nil, "pipeline.yaml"); r.code == 0 || !strings.Contains(r.stderr, "unknown command") {
		t.Errorf("nfpipe FILE: %d %s", r.code, r.stderr)
	}
	// -c takes a pipeline file too, on the root command as on run.
	out := filepath.Join(t.TempDir(), "flows.jsonl")
	if r := nfpipe(t, nil, "-c", writePipeline(t, "../../testdata/corpus/valid/zeek_http_get.pcap", "max", out)); r.code != 0 || len(readFlows(t, out)) == 0 {
		t.Errorf("nfpipe -c PIPELINE: exit %d\n%s", r.code, r.stderr)
	}
	r := nfpipe(t, nil, "run", "--help")
	for _, w := range []string{"-c, --config", "-i, --interface", "-p, --port", "--host", "--check-deps", "--list-interfaces", "--debug", "SIGHUP"} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("run --help lacks %q", w)
		}
	}
}

// TestOldConfigAndInterfaceLive runs the old tool's two ways of starting
// live capture, as root: -c with its config.yaml, and -i IFACE -p PORT;
// both capture on lo and serve the dashboard where asked.
func TestOldConfigAndInterfaceLive(t *testing.T) {
	needRoot(t)
	port := freePort(t)
	old := writeFile(t, "config.yaml", fmt.Sprintf(`network:
  interface: "lo"
  promiscuous_mode: true
web:
  host: "127.0.0.1"
  port: %d
  debug: false
monitor:
  session_timeout: 300
  max_sessions: 10000
geolocation:
  enabled: true
  database_path: "data/GeoLite2-City.mmdb"
`, port))
	for _, args := range [][]string{
		{"-c", old},
		{"run", "-c", old},
		{"-i", "lo", "-p", fmt.Sprint(port), "--workers", "1"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			p := startNfpipe(t, nil, args...)
			base := fmt.Sprintf("http://127.0.0.1:%d", port)
			p.waitFor(t, "live capture on lo", func() bool {
				return metricValue(scrape(t, base+"/metrics"), "nfpipe_component_gauge", "component", "capture", "gauge", "sockets_open") > 0
			})
			nodes := apiPipeline(t, base)
			want := []string{"capture", "decode", "sessions", "stats", "dashboard"}
			if args[0] != "-i" {
				want = append(want, "geo")
			}
			for _, n := range want {
				if nodes[n] == nil {
					t.Errorf("no component %s in %v", n, nodes)
				}
			}
			if code := p.stop(t); code != 0 {
				t.Errorf("exit %d:\n%s", code, p.stderr)
			}
		})
	}
}
