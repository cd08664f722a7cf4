package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// drainedIn returns what each component of the replaced pipeline
// received, from the "previous pipeline drained" lines of nfpipe's JSON
// log.
func drainedIn(t *testing.T, stderr string) map[string]uint64 {
	t.Helper()
	return loggedIn(t, stderr, "previous pipeline drained")
}

// loggedIn returns the "in" of each component in the JSON log lines
// with the message msg.
func loggedIn(t *testing.T, stderr, msg string) map[string]uint64 {
	t.Helper()
	out := map[string]uint64{}
	sc := bufio.NewScanner(strings.NewReader(stderr))
	for sc.Scan() {
		var l struct {
			Msg       string `json:"msg"`
			Component string `json:"component"`
			In        uint64 `json:"in"`
		}
		if json.Unmarshal(sc.Bytes(), &l) == nil && l.Msg == msg {
			out[l.Component] = l.In
		}
	}
	return out
}

// reloadPipeline is a pipeline of one generation: its components are
// named with the suffix, so the metrics show which generation runs, and
// its flows go to its own file, appended so a reload never truncates.
func reloadPipeline(gen, capture, jsonl string, dport, mport int) string {
	return fmt.Sprintf(`stages:
  cap%[1]s: {%[2]s}
  dec%[1]s: {type: decode, inputs: [cap%[1]s]}
  ses%[1]s: {type: sessionize, inputs: [dec%[1]s], idle_timeout: 3600s}
sinks:
  out%[1]s: {type: jsonl, inputs: [ses%[1]s], path: %[3]q, append: true, flush_interval: 0s}
  dash: {type: dashboard, inputs: [ses%[1]s], listen: "127.0.0.1:%[4]d"}
metrics:
  listen: 127.0.0.1:%[5]d
`, gen, capture, jsonl, dport, mport)
}

// TestReloadReplay reloads a pipeline replaying a capture, without root.
// A bad configuration is rejected with its errors logged while the
// running pipeline goes on; a good one replaces it after a drain: the
// dashboard's port is released and bound again, the metrics endpoint
// stays up, and each generation's flows account for every packet its
// sessionize stage received (the replaced one's, from its drain log; the
// last one's, from the exit summary, logged as JSON), so no flow was lost
// in between.
func TestReloadReplay(t *testing.T) {
	dir := t.TempDir()
	sample, _ := filepath.Abs("../../examples/sample.pcapng")
	capture := fmt.Sprintf("type: capture, file: %q, speed: 5x", sample)
	a, b := filepath.Join(dir, "a.jsonl"), filepath.Join(dir, "b.jsonl")
	dport, mport := freePort(t), freePort(t)
	pl := filepath.Join(dir, "pipeline.yaml")
	os.WriteFile(pl, []byte(reloadPipeline("", capture, a, dport, mport)), 0o644)
	p := startNfpipe(t, nil, "run", "--log-format", "json", pl)
	metricsURL := fmt.Sprintf("http://127.0.0.1:%d/metrics", mport)
	dash := fmt.Sprintf("http://127.0.0.1:%d", dport)
	sesIn := func(name string) float64 {
		return metricValue(scrape(t, metricsURL), "nfpipe_component_events_in_total", "component", name)
	}
	reloads := func(result string) float64 {
		return metricValue(scrape(t, metricsURL), "nfpipe_config_reloads_total", "result", result)
	}
	var before float64
	p.waitFor(t, "packets in the first pipeline", func() bool { before = sesIn("ses"); return before > 0 })

	// A bad configuration: rejected, errors logged with their position,
	// the running pipeline goes on.
	os.WriteFile(pl, []byte(strings.Replace(reloadPipeline("2", capture, b, dport, mport), "idle_timeout", "idle_timout", 1)), 0o644)
	p.cmd.Process.Signal(syscall.SIGHUP)
	p.waitFor(t, "the bad configuration to be rejected", func() bool { return reloads("failure") == 1 })
	if want := pl + `:4:44: stages.ses2: unknown field \"idle_timout\"; did you mean \"idle_timeout\"?`; !strings.Contains(p.stderr.String(), want) {
		t.Errorf("the error is not logged with its position (%s):\n%s", want, p.stderr)
	}
	p.waitFor(t, "the first pipeline to keep running", func() bool { return sesIn("ses") > before })
	if nodes := apiPipeline(t, dash); nodes["ses"] == nil {
		t.Errorf("the dashboard no longer shows the running pipeline: %v", nodes)
	}

	// A good one: the running pipeline drains and the new one starts.
	os.WriteFile(pl, []byte(reloadPipeline("2", capture, b, dport, mport)), 0o644)
	p.cmd.Process.Signal(syscall.SIGHUP)
	p.waitFor(t, "the reload", func() bool { return reloads("success") == 1 && sesIn("ses2") > 0 })
	p.waitFor(t, "the new pipeline's dashboard on the same port", func() bool { return apiPipeline(t, dash)["ses2"] != nil })
	code, body := httpGet(dash + "/api/events?kind=reload")
	if code != 200 || !strings.Contains(body, "configuration reloaded from "+pl) {
		t.Errorf("no reload event on the dashboard: %d %s", code, body)
	}
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit %d:\n%s", code, p.stderr)
	}

	// Accounting: every packet each generation's sessionize received is
	// in exactly one of its ended flows.
	drained := drainedIn(t, p.stderr.String())
	if drained["ses"] == 0 {
		t.Fatalf("no drain log of the first pipeline:\n%s", p.stderr)
	}
	for _, c := range []struct {
		file string
		want uint64
	}{{a, drained["ses"]}, {b, loggedIn(t, p.stderr.String(), "summary")["ses2"]}} {
		var pkts uint64
		shutdown := 0
		flows := readLiveFlows(t, c.file)
		for _, f := range flows {
			pkts += f.C2S.Packets + f.S2C.Packets
			if f.EndReason == "shutdown" {
				shutdown++
			}
		}
		if pkts != c.want || shutdown == 0 {
			t.Errorf("%s: %d flows (%d ended by shutdown) hold %d packets; sessionize received %d", filepath.Base(c.file), len(flows), shutdown, pkts, c.want)
		}
	}
}

// TestReloadLiveNoFlowLost reloads a live capture and counts every
// packet. A client namespace sends UDP flows over a veth to a server
// namespace where nfpipe captures; each flow is a client port. 20 flows
// (3 packets each) are sent before the reloads and stay open; a bad
// reload is rejected in between (the second 10 flows are captured by the
// running pipeline); after the good reload, once the new capture is open,
// 10 new flows and 2 more packets of the first flow are sent. The first
// pipeline must end all 20 flows (reason shutdown, 60 packets) in its
// file, the second the 11 it saw (32 packets) in its own: 92 packets
// sent, 92 in flows.
func TestReloadLiveNoFlowLost(t *testing.T) {
	needRoot(t)
	id := testID()
	cli, srv := "nfr-"+id+"-c", "nfr-"+id+"-s"
	vc, vs := "nfr"+id+"c", "nfr"+id+"s"
	newNamespace(t, cli)
	newNamespace(t, srv)
	run(t, "ip", "link", "add", vc, "netns", cli, "type", "veth", "peer", "name", vs, "netns", srv)
	run(t, "ip", "-n", cli, "addr", "add", "10.94.0.1/24", "dev", vc)
	run(t, "ip", "-n", srv, "addr", "add", "10.94.0.2/24", "dev", vs)
	run(t, "ip", "-n", cli, "link", "set", vc, "up")
	run(t, "ip", "-n", srv, "link", "set", vs, "up")
	udpSink(t, srv, "10.94.0.2:9000")
	tx := newUDPSender(t, cli, "10.94.0.2:9000")

	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.jsonl"), filepath.Join(dir, "b.jsonl")
	capture := fmt.Sprintf("type: capture, interface: %s, netns: %s, bpf: udp port 9000, workers: 1", vs, srv)
	dport, mport := freePort(t), freePort(t)
	pl := filepath.Join(dir, "pipeline.yaml")
	os.WriteFile(pl, []byte(reloadPipeline("", capture, a, dport, mport)), 0o644)
	p := startNfpipe(t, nil, "run", "--log-format", "json", pl)
	metricsURL := fmt.Sprintf("http://127.0.0.1:%d/metrics", mport)
	value := func(name string, labels ...string) float64 {
		return metricValue(scrape(t, metricsURL), name, labels...)
	}
	p.waitFor(t, "the capture to open", func() bool {
		return value("nfpipe_component_gauge", "component", "cap", "gauge", "sockets_open") > 0
	})

	for port := 41001; port <= 41010; port++ {
		tx.send(port, 3)
	}
	p.waitFor(t, "30 packets in the first pipeline", func() bool {
		return value("nfpipe_component_events_in_total", "component", "ses") == 30
	})
	os.WriteFile(pl, []byte("stages: {cap2: {"+capture+", snaplen: 10}}\n"), 0o644)
	p.cmd.Process.Signal(syscall.SIGHUP)
	p.waitFor(t, "the bad reload to be rejected", func() bool {
		return value("nfpipe_config_reloads_total", "result", "failure") == 1
	})
	for port := 41011; port <= 41020; port++ {
		tx.send(port, 3)
	}
	p.waitFor(t, "60 packets in the first pipeline, still running", func() bool {
		return value("nfpipe_component_events_in_total", "component", "ses") == 60
	})

	os.WriteFile(pl, []byte(reloadPipeline("2", capture, b, dport, mport)), 0o644)
	p.cmd.Process.Signal(syscall.SIGHUP)
	p.waitFor(t, "the new pipeline's capture to open", func() bool {
		return value("nfpipe_config_reloads_total", "result", "success") == 1 &&
			value("nfpipe_component_gauge", "component", "cap2", "gauge", "sockets_open") > 0
	})
	for port := 41021; port <= 41030; port++ {
		tx.send(port, 3)
	}
	tx.send(41001, 2)
	p.waitFor(t, "32 packets in the new pipeline", func() bool {
		return value("nfpipe_component_events_in_total", "component", "ses2") == 32
	})
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit %d:\n%s", code, p.stderr)
	}

	total := uint64(0)
	for _, c := range []struct {
		file         string
		ports        [2]int
		flows, pkts  int
		extraPort    int
		extraPackets uint64
	}{
		{a, [2]int{41001, 41020}, 20, 60, 0, 0},
		{b, [2]int{41021, 41030}, 11, 32, 41001, 2},
	} {
		flows := readLiveFlows(t, c.file)
		var pkts uint64
		byPort := map[int]uint64{}
		for _, f := range flows {
			pkts += f.C2S.Packets + f.S2C.Packets
			byPort[f.Client.Port] += f.C2S.Packets + f.S2C.Packets
			if f.EndReason != "shutdown" || f.Proto != "udp" || f.Server.Port != 9000 {
				t.Errorf("%s: flow %+v", filepath.Base(c.file), f)
			}
		}
		total += pkts
		if len(flows) != c.flows || pkts != uint64(c.pkts) {
			t.Errorf("%s: %d flows with %d packets, want %d with %d", filepath.Base(c.file), len(flows), pkts, c.flows, c.pkts)
		}
		for port := c.ports[0]; port <= c.ports[1]; port++ {
			if byPort[port] != 3 {
				t.Errorf("%s: flow from port %d has %d packets, want 3", filepath.Base(c.file), port, byPort[port])
			}
		}
		if c.extraPort != 0 && byPort[c.extraPort] != c.extraPackets {
			t.Errorf("%s: flow from port %d has %d packets, want %d", filepath.Base(c.file), c.extraPort, byPort[c.extraPort], c.extraPackets)
		}
	}
	if total != uint64(tx.sent) {
		t.Errorf("%d packets sent, %d in flows", tx.sent, total)
	}
}
