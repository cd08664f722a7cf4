package sdk_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/go-plugin"

	"github.com/nfpipe/nfpipe/pipeline/event"
	pluginv1 "github.com/nfpipe/nfpipe/plugins/proto/nfpipe/plugin/v1"
	"github.com/nfpipe/nfpipe/plugins/sdk"
)

// portCounter counts flows to port 443 in "https", and flows in all in
// "flows"; a batch of exactly 7 flows adds to a name the spec does not
// declare, and a batch of 5 fails after counting.
type portCounter struct{}

func (portCounter) Configure([]byte) error { return nil }

func (portCounter) Process(ctx context.Context, b *event.Batch) ([]event.AlertRec, error) {
	c := sdk.CountersFrom(ctx)
	for i := range b.Flows {
		if b.Flows[i].Server.Port == 443 {
			c.Add("https", 1)
		}
	}
	c.Add("flows", uint64(len(b.Flows)))
	switch len(b.Flows) {
	case 7:
		c.Add("htps", 1)
	case 5:
		return nil, errors.New("five is a bad number")
	}
	return nil, nil
}

var countingSpec = sdk.Spec{
	Name:    "port_counter",
	Summary: "Counts flows.",
	Metrics: []sdk.Metric{
		{Name: "https", Doc: "flows to port 443"},
		{Name: "flows", Doc: "flows seen"},
	},
}

// lockedBuffer is a log destination the server's goroutines may write to.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestCountersTravelWithAnswers checks that each answer carries exactly
// what its batch counted, failed batches included, that an answer with
// nothing counted carries nothing, and that an undeclared name is logged
// once and never sent.
func TestCountersTravelWithAnswers(t *testing.T) {
	var logs lockedBuffer
	srv, err := sdk.NewServer(sdk.ServeOpts{Processor: portCounter{}, Spec: countingSpec,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	client, _ := plugin.TestPluginGRPCConn(t, false, pluginv1.PluginSet(srv))
	t.Cleanup(func() { client.Close() })
	raw, err := client.Dispense(pluginv1.PluginName)
	if err != nil {
		t.Fatal(err)
	}
	c := raw.(pluginv1.PluginClient)
	configure(t, c, `{}`)
	stream, err := c.Process(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// flows(n) sends flow i to port 80 or 443 alternately: n/2 to 443.
	for i, tc := range []struct {
		n           int
		https, all  uint64
		wantFailure bool
	}{
		{n: 10, https: 5, all: 10},
		{n: 7, https: 3, all: 7},
		{n: 7, https: 3, all: 7},
		{n: 5, https: 2, all: 5, wantFailure: true},
		{n: 0}, // empty: Process is not called, nothing counted
		{n: 1, all: 1},
	} {
		if err := stream.Send(request(t, uint64(i+1), flows(tc.n))); err != nil {
			t.Fatal(err)
		}
		resp, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if failed := resp.GetError() != ""; failed != tc.wantFailure {
			t.Errorf("batch %d: error %q", i, resp.GetError())
		}
		got := resp.GetCounters()
		want := map[string]uint64{}
		if tc.https > 0 {
			want["https"] = tc.https
		}
		if tc.all > 0 {
			want["flows"] = tc.all
		}
		if len(got) != len(want) || got["https"] != want["https"] || got["flows"] != want["flows"] {
			t.Errorf("batch %d of %d flows: counters %v, want %v", i, tc.n, got, want)
		}
	}
	if n := strings.Count(logs.String(), "counter not declared"); n != 1 || !strings.Contains(logs.String(), "counter=htps") ||
		!strings.Contains(logs.String(), `declared="flows, https"`) {
		t.Errorf("undeclared name logged %d times, want once with the declared names:\n%s", n, logs.String())
	}
}

// TestCountersClaimEachIncrementOnce adds from several goroutines while
// others take: every increment must be taken exactly once.
func TestCountersClaimEachIncrementOnce(t *testing.T) {
	c := sdk.NewCounters(sdk.Metric{Name: "a", Doc: "a"}, sdk.Metric{Name: "b", Doc: "b"})
	const adders, adds = 4, 5000
	var mu sync.Mutex
	sums := map[string]uint64{}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var takers sync.WaitGroup
	for range 2 {
		takers.Add(1)
		go func() {
			defer takers.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				for k, v := range sdk.TakeCounters(c) {
					mu.Lock()
					sums[k] += v
					mu.Unlock()
				}
			}
		}()
	}
	for range adders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range adds {
				c.Add("a", 1)
				c.Add("b", uint64(i%3))
			}
		}()
	}
	wg.Wait()
	close(stop)
	takers.Wait()
	for k, v := range sdk.TakeCounters(c) {
		sums[k] += v
	}
	var wantB uint64
	for i := range adds {
		wantB += adders * uint64(i%3)
	}
	if sums["a"] != adders*adds || sums["b"] != wantB || c.Value("a") != adders*adds || c.Value("b") != wantB {
		t.Errorf("taken %v, values a=%d b=%d; want a=%d b=%d", sums, c.Value("a"), c.Value("b"), adders*adds, wantB)
	}
}

func TestNilCountersIgnoreCalls(t *testing.T) {
	c := sdk.CountersFrom(context.Background())
	if c != nil {
		t.Fatalf("counters from a plain context: %v", c)
	}
	c.Add("x", 1) // must not panic
	if c.Value("x") != 0 {
		t.Error("nil counters have a value")
	}
}

func TestSpecCheckRejectsBadMetrics(t *testing.T) {
	for _, tc := range []struct {
		metrics []sdk.Metric
		want    string
	}{
		{[]sdk.Metric{{Name: "Matches", Doc: "d"}}, `spec s: metric name "Matches" must be snake_case`},
		{[]sdk.Metric{{Name: "", Doc: "d"}}, `spec s: metric name "" must be snake_case`},
		{[]sdk.Metric{{Name: "m", Doc: "d"}, {Name: "m", Doc: "e"}}, "spec s: duplicate metric m"},
		{[]sdk.Metric{{Name: "m", Doc: " "}}, "spec s: metric m has no doc"},
	} {
		s := sdk.Spec{Name: "s", Summary: "S.", Metrics: tc.metrics}
		if err := s.Check(); err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want %s", tc.metrics, err, tc.want)
		}
	}
	s := sdk.Spec{Name: "s", Summary: "S.", Metrics: []sdk.Metric{{Name: "matches", Doc: "flows that matched"}}}
	if err := s.Check(); err != nil {
		t.Errorf("valid metrics rejected: %v", err)
	}
}
