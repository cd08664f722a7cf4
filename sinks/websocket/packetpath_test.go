package websocket

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nfpipe/nfpipe/pipeline"
	"github.com/nfpipe/nfpipe/pipeline/config"

	// The real packet path and the jsonl sink the stream is compared with.
	_ "github.com/nfpipe/nfpipe/sinks/jsonl"
	_ "github.com/nfpipe/nfpipe/stages/capture"
	_ "github.com/nfpipe/nfpipe/stages/decode"
	_ "github.com/nfpipe/nfpipe/stages/ipstats"
	_ "github.com/nfpipe/nfpipe/stages/sessionize"
)

// TestRealCaptureStreamsWhatJSONLWrites replays corpus captures through
// capture, decode, sessionize and ipstats into both the websocket sink
// and a jsonl sink, and checks that a client taking everything receives
// exactly the lines the jsonl sink wrote, and a filtered client exactly
// the TCP flows among them, selected here from the JSON itself.
func TestRealCaptureStreamsWhatJSONLWrites(t *testing.T) {
	for _, name := range []string{"zeek_ftp_ipv6.pcap", "zeek_mixed-vlan-mpls.pcap", "zeek_tunnels_Teredo.pcap", "zeek_tcp_reassembly.pcap"} {
		t.Run(name, func(t *testing.T) {
			pcap, err := filepath.Abs(filepath.Join("..", "..", "testdata", "corpus", "valid", name))
			if err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(t.TempDir(), "events.jsonl")
			yml := fmt.Sprintf(`
stages:
  capture: {type: capture, file: %q, progress: never}
  decode: {type: decode, inputs: [capture]}
  sessions: {type: sessionize, inputs: [decode], update_interval: 1s}
  stats: {type: ipstats, inputs: [decode], interval: 1s}
sinks:
  file: {type: jsonl, inputs: [sessions, stats], path: %q}
  ws:
    type: websocket
    inputs: [sessions, stats]
    listen: 127.0.0.1:0
    buffer: {when_full: block}
`, pcap, out)
			cfg, errs := config.Parse("test.yaml", []byte(yml), func(string) (string, bool) { return "", false })
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			p, errs := pipeline.FromConfig(cfg, pipeline.WithLogger(slog.New(slog.DiscardHandler)))
			if len(errs.Fatal()) > 0 {
				t.Fatal(errs)
			}
			// Paused, the capture emits nothing until the clients are in.
			p.Pause()
			done := make(chan error, 1)
			go func() { done <- p.Run(context.Background()) }()
			t.Cleanup(p.Kill)
			comp, _ := p.Component("ws")
			sink := comp.(*Sink)
			<-sink.Ready()
			base := "ws://" + sink.Addr().String() + "/events"
			all := mustDial(t, base, dialOpts{})
			tcp := mustDial(t, base+"?kinds=flow&format=array&filter="+url.QueryEscape(`flow.proto == "tcp"`), dialOpts{})
			p.Resume()
			select {
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(eventually):
				t.Fatal("the pipeline did not finish")
			}
			all.wait(t)
			tcp.wait(t)

			data, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
			var wantTCP []string
			flows := 0
			for _, l := range lines {
				var e struct{ Kind, Proto string }
				if err := json.Unmarshal([]byte(l), &e); err != nil {
					t.Fatalf("jsonl line is not JSON: %v", err)
				}
				if e.Kind == "flow" {
					flows++
					if e.Proto == "tcp" {
						wantTCP = append(wantTCP, l)
					}
				}
			}
			if flows == 0 {
				t.Fatal("no flows: the test proves nothing")
			}
			got := slices.Clone(all.raw)
			slices.Sort(got)
			slices.Sort(lines)
			if !slices.Equal(got, lines) {
				t.Errorf("client received %d messages, jsonl wrote %d lines; they differ", len(got), len(lines))
			}
			var gotTCP []string
			for _, m := range tcp.raw {
				var arr []json.RawMessage
				if err := json.Unmarshal([]byte(m), &arr); err != nil {
					t.Fatalf("array message: %v", err)
				}
				for _, e := range arr {
					gotTCP = append(gotTCP, string(e))
				}
			}
			slices.Sort(gotTCP)
			slices.Sort(wantTCP)
			if !slices.Equal(gotTCP, wantTCP) {
				t.Errorf("filtered client received %d flows, jsonl has %d TCP flows; they differ", len(gotTCP), len(wantTCP))
			}
			t.Logf("%d events (%d flows, %d tcp)", len(lines), flows, len(wantTCP))
		})
	}
}
