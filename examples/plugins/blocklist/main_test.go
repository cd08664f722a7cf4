package main

import (
	"context"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nfpipe/nfpipe/pipeline/event"
	"github.com/nfpipe/nfpipe/plugins/sdk"
)

func flow(client, server string) event.FlowRec {
	return event.FlowRec{ID: 7, Event: event.FlowEnd, Proto: 6,
		Client: event.Endpoint{IP: netip.MustParseAddr(client), Port: 40000},
		Server: event.Endpoint{IP: netip.MustParseAddr(server), Port: 443}}
}

func newBlocklist(t *testing.T, cfg string) *blocklist {
	t.Helper()
	b := &blocklist{log: slog.New(slog.DiscardHandler)}
	if err := b.Configure([]byte(cfg)); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestMatchesMostSpecificPrefixOnEitherEnd(t *testing.T) {
	dir := t.TempDir()
	list := filepath.Join(dir, "l.txt")
	os.WriteFile(list, []byte("# c\n10.0.0.0/8\n10.1.0.0/16 # more specific\n2001:db8::1\n::ffff:192.0.2.0/120\n"), 0o644)
	b := newBlocklist(t, `{"lists": ["`+list+`"], "tag": "bad", "rule": "bl", "severity": "critical", "reload_interval": 0}`)
	batch := event.NewBatch(event.Flow)
	batch.Flows = []event.FlowRec{
		flow("10.1.2.3", "93.184.216.34"),      // client in 10.1/16
		flow("172.16.0.1", "10.200.0.1"),       // server in 10/8
		flow("172.16.0.1", "172.16.0.2"),       // neither
		flow("2001:db8::2", "2001:db8::1"),     // single address
		flow("172.16.0.1", "::ffff:192.0.2.9"), // IPv4-mapped
		flow("192.0.2.200", "172.16.0.2"),      // IPv4 in a mapped prefix
	}
	counters := sdk.NewCounters(spec.Metrics...)
	alerts, err := b.Process(sdk.WithCounters(context.Background(), counters), batch)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"10.1.0.0/16", "10.0.0.0/8", "", "2001:db8::1/128", "::ffff:192.0.2.0/120", "::ffff:192.0.2.0/120"}
	n := 0
	for i, f := range batch.Flows {
		got := f.Attrs["blocklist"]
		if got != want[i] || (got != "") != (len(f.Tags) == 1 && f.Tags[0] == "bad") {
			t.Errorf("flow %d: attr %q tags %v, want %q", i, got, f.Tags, want[i])
		}
		if want[i] != "" {
			n++
		}
	}
	if len(alerts) != n || counters.Value("matches") != uint64(n) {
		t.Fatalf("%d alerts, %d matches counted, want %d", len(alerts), counters.Value("matches"), n)
	}
	a := alerts[0]
	if a.Rule != "bl" || a.Severity != "critical" || a.DedupKey != "bl/10.1.2.3" || a.Flow == nil || a.Flow.ID != 7 ||
		!strings.Contains(a.Message, "10.1.2.3 is in 10.1.0.0/16") || a.Subject != "10.1.2.3:40000 → 93.184.216.34:443" {
		t.Errorf("alert: %+v", a)
	}
}

func TestReloadsChangedLists(t *testing.T) {
	list := filepath.Join(t.TempDir(), "l.txt")
	os.WriteFile(list, []byte("192.0.2.0/24\n"), 0o644)
	b := newBlocklist(t, `{"lists": ["`+list+`"], "tag": "x", "rule": "r", "severity": "info", "reload_interval": 0}`)
	counters := sdk.NewCounters(spec.Metrics...)
	check := func(server string, want int, reloads, errors uint64) {
		t.Helper()
		batch := &event.Batch{Kind: event.Flow, Flows: []event.FlowRec{flow("10.0.0.1", server)}}
		alerts, _ := b.Process(sdk.WithCounters(context.Background(), counters), batch)
		if len(alerts) != want {
			t.Errorf("%s: %d alerts, want %d", server, len(alerts), want)
		}
		if r, e := counters.Value("reloads"), counters.Value("reload_errors"); r != reloads || e != errors {
			t.Errorf("%s: %d reloads, %d reload errors counted, want %d, %d", server, r, e, reloads, errors)
		}
	}
	check("198.51.100.1", 0, 0, 0)
	// A new version of the file (another size, a later time) is read.
	os.WriteFile(list, []byte("192.0.2.0/24\n198.51.100.0/24\n"), 0o644)
	os.Chtimes(list, time.Now(), time.Now().Add(time.Second))
	check("198.51.100.1", 1, 1, 0)
	// A broken version is ignored; the last good lists stay.
	os.WriteFile(list, []byte("not an address\n"), 0o644)
	os.Chtimes(list, time.Now(), time.Now().Add(2*time.Second))
	check("198.51.100.1", 1, 1, 1)
}

func TestConfigErrorsNameTheList(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.txt")
	bad := filepath.Join(dir, "bad.txt")
	os.WriteFile(good, []byte("192.0.2.1\n"), 0o644)
	os.WriteFile(bad, []byte("192.0.2.1\n\n# fine\n300.1.2.3\n"), 0o644)
	b := &blocklist{log: slog.New(slog.DiscardHandler)}
	err := b.Configure([]byte(`{"lists": ["` + good + `", "` + bad + `"], "reload_interval": 0}`))
	if err == nil || !strings.HasPrefix(err.Error(), "lists[1]: "+bad+": line 4: \"300.1.2.3\" is not an address") {
		t.Errorf("got %v", err)
	}
	err = b.Configure([]byte(`{"lists": ["` + filepath.Join(dir, "none.txt") + `"]}`))
	if err == nil || !strings.HasPrefix(err.Error(), "lists[0]: cannot read") {
		t.Errorf("got %v", err)
	}
}
