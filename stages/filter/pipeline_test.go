package filter

import (
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/nfpipe/nfpipe/pipeline/pipetest"
	_ "github.com/nfpipe/nfpipe/sinks/jsonl"
	_ "github.com/nfpipe/nfpipe/stages/capture"
	_ "github.com/nfpipe/nfpipe/stages/decode"
	_ "github.com/nfpipe/nfpipe/stages/ipstats"
	_ "github.com/nfpipe/nfpipe/stages/sessionize"
)

func repoFile(t *testing.T, rel string) string {
	_, here, _, _ := runtime.Caller(0)
	p := filepath.Join(filepath.Dir(here), "..", "..", rel)
	if _, err := os.Stat(p); err != nil {
		t.Fatal(err)
	}
	return p
}

type jsonEnd struct {
	IP   string `json:"ip"`
	Port int    `json:"port"`
}

type jsonFlow struct {
	Kind   string              `json:"kind"`
	Event  string              `json:"event"`
	Proto  string              `json:"proto"`
	Client jsonEnd             `json:"client"`
	Server jsonEnd             `json:"server"`
	C2S    struct{ Bytes int } `json:"c2s"`
	S2C    struct{ Bytes int } `json:"s2c"`
	Tags   []string            `json:"tags"`
}

type jsonAlert struct {
	Kind     string            `json:"kind"`
	ID       string            `json:"id"`
	Rule     string            `json:"rule"`
	Severity string            `json:"severity"`
	Time     time.Time         `json:"time"`
	State    string            `json:"state"`
	Subject  string            `json:"subject"`
	Message  string            `json:"message"`
	DedupKey string            `json:"dedupe_key"`
	Labels   map[string]string `json:"labels"`
	Flow     *jsonFlow         `json:"flow"`
	IPStat   *struct {
		IP       string `json:"ip"`
		DstPorts int    `json:"dst_ports"`
	} `json:"ipstat"`
}

// runCapture runs capture -> decode -> sessionize + ipstats -> filter over
// a pcap and returns what the filter's default and alerts outputs wrote.
func runCapture(t *testing.T, pcap, rules string) (records []jsonFlow, alerts []jsonAlert) {
	t.Helper()
	dir := t.TempDir()
	yml := `
stages:
  capture: {type: capture, file: ` + pcap + `, speed: max, progress: never}
  decode: {type: decode, inputs: [capture]}
  sessions: {type: sessionize, inputs: [decode]}
  stats: {type: ipstats, inputs: [decode], interval: 10s}
  rules:
    type: filter
    inputs: [sessions, stats]
` + rules + `
sinks:
  records: {type: jsonl, inputs: [rules], path: ` + filepath.Join(dir, "records.jsonl") + `, kinds: [flow, ipstat]}
  alerts: {type: jsonl, inputs: [rules.alerts], path: ` + filepath.Join(dir, "alerts.jsonl") + `}
`
	p, errs := buildPipeline(t, yml, nil)
	if len(errs.Fatal()) > 0 {
		t.Fatal(errs)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := p.Run(ctx); err != nil {
		t.Fatal(err)
	}
	return pipetest.ReadJSONLines[jsonFlow](t, filepath.Join(dir, "records.jsonl")), pipetest.ReadJSONLines[jsonAlert](t, filepath.Join(dir, "alerts.jsonl"))
}

// TestRealPortScan runs the recorded port scans (testdata/portscan.pcap:
// two scanners of 300 ports each, a client touching 50 ports, normal HTTP
// clients, and traffic again 70s later) through the packet path and a
// filter with a windowed flow rule and an ipstat rule.
func TestRealPortScan(t *testing.T) {
	_, alerts := runCapture(t, repoFile(t, "stages/filter/testdata/portscan.pcap"), `
    rules:
      - name: port_scan
        when: 'kind == "flow" && flow.proto == "tcp"'
        for: 60s
        key: flow.client_ip
        aggregate: distinct
        value: flow.server_port
        threshold: 100
        tag: [scanner]
        alert:
          severity: critical
          message: 'port scan from {{ key }}: {{ value }} ports of {{ flow.server_ip }} in {{ window }}'
      - name: scan_ipstat
        # A scanner sends to many ports and starts many flows; the server it
        # scans also sends to many (ephemeral) ports, but starts no flows.
        when: 'kind == "ipstat" && ipstat.dst_ports > 100 && ipstat.flows > 100'
        key: ipstat.ip
        alert: {severity: warning, message: '{{ key }} sent to {{ ipstat.dst_ports }} ports', resolve_after: 30s}
`)
	scanners := []string{"10.78.0.3", "fd00:78::3"}
	events := map[string][]jsonAlert{}
	ids := map[string]bool{}
	for _, a := range alerts {
		events[a.DedupKey] = append(events[a.DedupKey], a)
		if ids[a.ID] {
			t.Errorf("alert id %s repeated", a.ID)
		}
		ids[a.ID] = true
	}
	for _, rule := range []string{"port_scan", "scan_ipstat"} {
		for _, src := range scanners {
			key := rule + "/" + src
			ev := events[key]
			var states []string
			for _, a := range ev {
				states = append(states, a.State)
			}
			if !slices.Equal(states, []string{"firing", "resolved"}) {
				t.Errorf("%s: events %v, want exactly one firing then one resolved", key, states)
				continue
			}
			fire, res := ev[0], ev[1]
			if fire.Subject != src || fire.Rule != rule || !res.Time.After(fire.Time) {
				t.Errorf("%s: %+v then %+v", key, fire, res)
			}
			if rule == "port_scan" {
				if fire.Severity != "critical" || fire.Flow == nil || fire.Flow.Client.IP != src || !slices.Contains(fire.Flow.Tags, "scanner") ||
					fire.Labels["value"] != "101" || fire.Labels["threshold"] != "100" || fire.Labels["aggregate"] != "distinct" {
					t.Errorf("%s firing: %+v (flow %+v)", key, fire, fire.Flow)
				}
				if want := "port scan from " + src + ": 101 ports of " + fire.Flow.Server.IP + " in 1m0s"; fire.Message != want {
					t.Errorf("message %q, want %q", fire.Message, want)
				}
				// The scan lasted a few seconds; the window empties a minute
				// later, seen when the last traffic arrives ~70s in.
				if d := res.Time.Sub(fire.Time); d < 60*time.Second || d > 75*time.Second {
					t.Errorf("%s resolved %v after firing", key, d)
				}
			} else if fire.IPStat == nil || fire.IPStat.IP != src || fire.IPStat.DstPorts < 250 {
				t.Errorf("%s firing: %+v", key, fire.IPStat)
			}
			delete(events, key)
		}
	}
	for key, ev := range events {
		t.Errorf("unexpected alert %s: %d events, first %+v", key, len(ev), ev[0])
	}
	t.Logf("%d alert events, %d distinct ids", len(alerts), len(ids))
}

// TestRealBigTransfer runs the real mixed recording, whose only large
// flow is a 1,000,000-byte HTTP download, through a big-transfer rule;
// the flow is found in tshark's conversation table, not hard-coded.
func TestRealBigTransfer(t *testing.T) {
	f, err := os.Open(repoFile(t, "testdata/real/mixed-eth.expected-conv.csv"))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	var big [][]string
	for _, r := range rows[1:] {
		if n, _ := strconv.Atoi(r[7]); n > 500000 {
			big = append(big, r)
		}
	}
	if len(big) != 1 {
		t.Fatalf("the oracle lists %d conversations over 500 kB, want 1", len(big))
	}
	want := big[0] // file,proto,addrA,portA,addrB,portB,packets,bytes,...
	records, alerts := runCapture(t, repoFile(t, "testdata/real/mixed-eth.pcap"), `
    rules:
      - name: big_transfer
        when: 'kind == "flow" && flow.event == "end" && flow.bytes > 500000'
        tag: [big]
        alert: {severity: warning, message: '{{ flow.client_ip }} fetched {{ flow.bytes_s2c }} bytes from {{ flow.server_ip }}:{{ flow.server_port }}'}
`)
	if len(alerts) != 1 {
		t.Fatalf("%d alerts, want 1: %+v", len(alerts), alerts)
	}
	a := alerts[0]
	fl := a.Flow
	if a.State != "firing" || fl == nil || fl.Client.IP != want[2] || strconv.Itoa(fl.Client.Port) != want[3] ||
		fl.Server.IP != want[4] || strconv.Itoa(fl.Server.Port) != want[5] || strconv.Itoa(fl.C2S.Bytes+fl.S2C.Bytes) != want[7] {
		t.Fatalf("alert %+v flow %+v, want the conversation %v", a, fl, want)
	}
	if a.Subject != "tcp "+want[2]+":"+want[3]+" -> "+want[4]+":"+want[5] {
		t.Errorf("subject %q", a.Subject)
	}
	tagged := 0
	for _, r := range records {
		if r.Kind == "flow" && slices.Contains(r.Tags, "big") {
			tagged++
			if r.Client.Port != fl.Client.Port {
				t.Errorf("another flow tagged big: %+v", r)
			}
		}
	}
	if tagged != 1 {
		t.Errorf("%d flows tagged big, want 1", tagged)
	}
}
