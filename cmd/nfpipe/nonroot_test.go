package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCaptureWithoutRoot runs nfpipe as the unprivileged user nobody
// holding only CAP_NET_RAW and CAP_NET_ADMIN, the way the systemd unit
// runs it, and gets flows from a live capture: once with the
// capabilities as ambient capabilities (what AmbientCapabilities= does),
// once from file capabilities set with setcap on a copy of the binary.
// Without either, the capture is refused with the fix in the message.
//
// The capture cannot enter a network namespace without CAP_SYS_ADMIN, so
// one end of the veth pair stays in this namespace, where nfpipe
// captures, and the other is in a namespace of the test's, which sends
// the traffic.
func TestCaptureWithoutRoot(t *testing.T) {
	needRoot(t)
	for _, tool := range []string{"setpriv", "setcap"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s (apt-get install util-linux libcap2-bin)", tool)
		}
	}
	id := testID()
	ns, here, there := "nfo-"+id, "nfo"+id+"a", "nfo"+id+"b"
	newNamespace(t, ns)
	run(t, "ip", "link", "add", here, "type", "veth", "peer", "name", there, "netns", ns)
	t.Cleanup(func() { exec.Command("ip", "link", "del", here).Run() })
	os.WriteFile("/proc/sys/net/ipv6/conf/"+here+"/disable_ipv6", []byte("1"), 0o644)
	run(t, "ip", "addr", "add", "10.95.0.1/24", "dev", here)
	run(t, "ip", "-n", ns, "addr", "add", "10.95.0.2/24", "dev", there)
	run(t, "ip", "link", "set", here, "up")
	run(t, "ip", "-n", ns, "link", "set", there, "up")
	sink, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(10, 95, 0, 1), Port: 9000})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	go io.Copy(io.Discard, sink)

	// A directory nobody can read, holding copies of the binary, and one
	// nobody can write, for the flows.
	dir, err := os.MkdirTemp("", "nfpipe-nonroot")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	bin := filepath.Join(dir, "nfpipe")
	data := must(os.ReadFile(nfpipeBin))
	os.WriteFile(bin, data, 0o755)
	fcaps := filepath.Join(dir, "nfpipe-fcaps")
	os.WriteFile(fcaps, data, 0o755)
	run(t, "setcap", "cap_net_raw,cap_net_admin=eip", fcaps)

	nobody := []string{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"}
	for _, c := range []struct {
		name string
		argv []string
	}{
		{"ambient", append(append([]string{}, nobody...), "--inh-caps=+net_raw,+net_admin", "--ambient-caps=+net_raw,+net_admin",
			"--bounding-set=-all,+net_raw,+net_admin", bin)},
		{"setcap", append(append([]string{}, nobody...), fcaps)},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(dir, c.name)
			os.Mkdir(out, 0o777)
			os.Chmod(out, 0o777)
			mport := freePort(t)
			pl := filepath.Join(out, "pipeline.yaml")
			os.WriteFile(pl, []byte(fmt.Sprintf(`stages:
  cap: {type: capture, interface: %s, bpf: udp port 9000, workers: 1}
  dec: {type: decode, inputs: [cap]}
  ses: {type: sessionize, inputs: [dec], idle_timeout: 3600s}
sinks:
  out: {type: jsonl, inputs: [ses], path: flows.jsonl, flush_interval: 0s}
metrics:
  listen: 127.0.0.1:%d
`, here, mport)), 0o644)
			p := startCmd(t, exec.Command(c.argv[0], append(c.argv[1:], "run", pl)...), []string{"HOME=" + out, "XDG_CACHE_HOME=" + out})
			metricsURL := fmt.Sprintf("http://127.0.0.1:%d/metrics", mport)
			p.waitFor(t, "the capture to open as nobody", func() bool {
				return metricValue(scrape(t, metricsURL), "nfpipe_component_gauge", "component", "cap", "gauge", "sockets_open") > 0
			})
			// nfpipe runs as nobody with exactly the two capabilities.
			status := string(must(os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))))
			for _, want := range []string{"Uid:\t65534\t65534\t65534\t65534", "CapEff:\t0000000000003000"} {
				if !strings.Contains(status, want) {
					t.Errorf("process status lacks %q:\n%s", want, status)
				}
			}
			tx := newUDPSender(t, ns, "10.95.0.1:9000")
			for port := 42001; port <= 42005; port++ {
				tx.send(port, 4)
			}
			p.waitFor(t, "20 packets captured", func() bool {
				return metricValue(scrape(t, metricsURL), "nfpipe_component_events_in_total", "component", "ses") == 20
			})
			if code := p.stop(t); code != 0 {
				t.Fatalf("exit %d:\n%s", code, p.stderr)
			}
			flows := readLiveFlows(t, filepath.Join(out, "flows.jsonl"))
			var pkts uint64
			for _, f := range flows {
				pkts += f.C2S.Packets + f.S2C.Packets
			}
			if len(flows) != 5 || pkts != 20 {
				t.Errorf("%d flows with %d packets, want 5 with 20", len(flows), pkts)
			}
		})
	}

	// Without the capabilities nobody cannot capture, and is told how.
	out := filepath.Join(dir, "nocaps")
	os.Mkdir(out, 0o777)
	os.Chmod(out, 0o777)
	pl := filepath.Join(out, "pipeline.yaml")
	os.WriteFile(pl, []byte(fmt.Sprintf(`stages:
  cap: {type: capture, interface: %s}
  dec: {type: decode, inputs: [cap]}
sinks:
  out: {type: jsonl, inputs: [dec], path: packets.jsonl}
`, here)), 0o644)
	cmd := exec.Command("setpriv", append(nobody[1:], bin, "run", pl)...)
	cmd.Env = append(os.Environ(), "HOME="+out, "XDG_CACHE_HOME="+out)
	res, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(res), "CAP_NET_RAW") || !strings.Contains(string(res), "setcap") {
		t.Errorf("capture without capabilities: %v\n%s", err, res)
	}
}
