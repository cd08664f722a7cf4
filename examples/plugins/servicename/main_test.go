package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nfpipe/nfpipe/pipeline/event"
)

func TestBuiltinTableParses(t *testing.T) {
	tb := table{}
	if err := parseServices(strings.NewReader(builtin), tb); err != nil {
		t.Fatal(err)
	}
	if len(tb) < 100 || tb[key{6, 443}] != "https" || tb[key{17, 53}] != "domain" || tb[key{132, 80}] != "http" {
		t.Errorf("table of %d entries: 443/tcp=%q 53/udp=%q", len(tb), tb[key{6, 443}], tb[key{17, 53}])
	}
}

func TestTagsByServerPortAndProtocol(t *testing.T) {
	services := filepath.Join(t.TempDir(), "services")
	os.WriteFile(services, []byte("# local\nmyapp 9999/tcp app # alias\nweird 1/ddp\n"), 0o644)
	tg := &tagger{}
	if err := tg.Configure([]byte(`{"tag_prefix": "svc:", "attr": "service", "services_file": "` + services + `", "ports": {"443/udp": "quic"}}`)); err != nil {
		t.Fatal(err)
	}
	b := event.NewBatch(event.Flow)
	for _, f := range []struct {
		proto uint8
		port  uint16
	}{{6, 443}, {17, 443}, {6, 9999}, {17, 9999}, {1, 0}, {6, 53}} {
		b.Flows = append(b.Flows, event.FlowRec{Proto: f.proto, Client: event.Endpoint{Port: 443}, Server: event.Endpoint{Port: f.port}})
	}
	b.Flows[5].Tags = []string{"svc:domain"} // already tagged
	if _, err := tg.Process(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"svc:https"}, {"svc:quic"}, {"svc:myapp"}, nil, nil, {"svc:domain"}}
	for i, f := range b.Flows {
		if !slices.Equal(f.Tags, want[i]) {
			t.Errorf("flow %d: tags %v, want %v", i, f.Tags, want[i])
		}
	}
	if b.Flows[1].Attrs["service"] != "quic" || b.Flows[3].Attrs != nil {
		t.Errorf("attrs: %v %v", b.Flows[1].Attrs, b.Flows[3].Attrs)
	}
}

func TestBadEntriesAreBlamed(t *testing.T) {
	for cfg, want := range map[string]string{
		`{"ports": {"http": "x"}}`:                   `ports.http: "http" is not port/protocol`,
		`{"ports": {"80/icmp": "x"}}`:                `ports.80/icmp: the protocol must be tcp, udp or sctp`,
		`{"services_file": "/nonexistent/services"}`: "services_file: cannot read /nonexistent/services",
	} {
		err := (&tagger{}).Configure([]byte(cfg))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want %q", cfg, err, want)
		}
	}
}
