package sdk_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/nfpipe/nfpipe/pipeline/event"
	"github.com/nfpipe/nfpipe/plugins/codec"
	pluginv1 "github.com/nfpipe/nfpipe/plugins/proto/nfpipe/plugin/v1"
	"github.com/nfpipe/nfpipe/plugins/sdk"
)

// portTagger tags flows to a port; with block set, Process waits for its
// context instead, to test cancellation.
type portTagger struct {
	port     uint16
	tag      string
	block    bool
	entered  chan struct{}
	canceled atomic.Bool
	calls    atomic.Int64
}

func (p *portTagger) Configure(raw []byte) error {
	var cfg struct {
		Port  uint16        `json:"port"`
		Tag   string        `json:"tag"`
		Every time.Duration `json:"every"`
	}
	if err := sdk.DecodeConfig(raw, &cfg); err != nil {
		return err
	}
	if cfg.Tag == "forbidden" {
		return sdk.Errorf("tag", "this tag is reserved; pick another")
	}
	p.port, p.tag = cfg.Port, cfg.Tag
	return nil
}

func (p *portTagger) Process(ctx context.Context, b *event.Batch) ([]event.AlertRec, error) {
	p.calls.Add(1)
	if p.block {
		close(p.entered)
		<-ctx.Done()
		p.canceled.Store(true)
		return nil, ctx.Err()
	}
	var alerts []event.AlertRec
	for i := range b.Flows {
		if b.Flows[i].Server.Port == p.port {
			b.Flows[i].Tags = append(b.Flows[i].Tags, p.tag)
		}
		if b.Flows[i].Server.Port == 666 {
			alerts = append(alerts, event.AlertRec{Rule: "evil", Subject: fmt.Sprint(b.Flows[i].ID)})
		}
	}
	return alerts, nil
}

var testSpec = sdk.Spec{
	Name:         "port_tagger",
	Summary:      "Tags flows to one port.",
	RaisesAlerts: true,
	Fields: []*sdk.Field{
		sdk.Int("port").Range(1, 65535).Description("Server port to tag."),
		sdk.String("tag").Default("tagged").Description("Tag to add."),
		sdk.Duration("every").Default("5s").Description("Unused duration, to test defaults."),
	},
}

// connect serves p in process with go-plugin's test helper and returns
// the client the host would use.
func connect(t *testing.T, p sdk.Processor) pluginv1.PluginClient {
	t.Helper()
	srv, err := sdk.NewServer(sdk.ServeOpts{Processor: p, Spec: testSpec})
	if err != nil {
		t.Fatal(err)
	}
	client, _ := plugin.TestPluginGRPCConn(t, false, pluginv1.PluginSet(srv))
	// Closing the client asks the server to shut down (go-plugin's
	// controller); stopping it here as well would race with that.
	t.Cleanup(func() { client.Close() })
	raw, err := client.Dispense(pluginv1.PluginName)
	if err != nil {
		t.Fatal(err)
	}
	return raw.(pluginv1.PluginClient)
}

func configure(t *testing.T, c pluginv1.PluginClient, cfg string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := c.Configure(ctx, &pluginv1.ConfigRequest{ConfigJson: []byte(cfg)})
	if err != nil || len(resp.Errors) > 0 {
		t.Fatalf("configure: %v %v", err, resp.GetErrors())
	}
}

func flows(n int) *event.Batch {
	b := event.NewBatch(event.Flow)
	for i := 0; i < n; i++ {
		b.Flows = append(b.Flows, event.FlowRec{
			ID: uint64(i), Proto: 6,
			Client: event.Endpoint{IP: netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), Port: 40000},
			Server: event.Endpoint{IP: netip.AddrFrom4([4]byte{192, 0, 2, 1}), Port: uint16(80 + i%2*363)},
		})
	}
	return b
}

func request(t *testing.T, seq uint64, b *event.Batch) *pluginv1.ProcessRequest {
	t.Helper()
	var enc codec.Encoder
	m, err := enc.Encode(b)
	if err != nil {
		t.Fatal(err)
	}
	return &pluginv1.ProcessRequest{Seq: seq, Batch: m}
}

func TestDescribeSendsTheSpec(t *testing.T) {
	c := connect(t, &portTagger{})
	resp, err := c.Describe(context.Background(), &pluginv1.DescribeRequest{})
	if err != nil {
		t.Fatal(err)
	}
	s := resp.GetSpec()
	if s.GetName() != "port_tagger" || len(s.GetFields()) != 3 || !s.GetRaisesAlerts() {
		t.Fatalf("spec: %v", s)
	}
	if got := s.GetAccepts(); len(got) != 1 || got[0] != pluginv1.Kind_KIND_FLOW {
		t.Errorf("accepts %v, want flows only by default", got)
	}
	port := s.GetFields()[0]
	if port.GetType() != "int" || port.GetMinInt() != 1 || port.GetMaxInt() != 65535 || port.GetHasDefault() {
		t.Errorf("port field: %v", port)
	}
}

func TestValidateReportsFieldErrors(t *testing.T) {
	c := connect(t, &portTagger{})
	for _, tc := range []struct{ cfg, field, msg string }{
		{`{}`, "", `missing required field "port"`},
		{`{"port": 0}`, "port", "0 is too small; the minimum is 1"},
		{`{"port": "http"}`, "port", `expected an integer, got "http"`},
		{`{"port": 80, "tga": "x"}`, "tga", `unknown field "tga"; did you mean "tag"?`},
		{`{"port": 80, "every": "soon"}`, "every", `invalid duration "soon"`},
		{`{"port": 80, "tag": "forbidden"}`, "tag", "this tag is reserved; pick another"},
		{`[1, 2]`, "", "expected a mapping of fields, got a list"},
	} {
		resp, err := c.Validate(context.Background(), &pluginv1.ConfigRequest{ConfigJson: []byte(tc.cfg)})
		if err != nil {
			t.Fatal(err)
		}
		errs := resp.GetErrors()
		if len(errs) != 1 || errs[0].GetField() != tc.field || !strings.Contains(errs[0].GetMessage(), tc.msg) {
			t.Errorf("%s: got %v, want %s: %s", tc.cfg, errs, tc.field, tc.msg)
		}
	}
	resp, err := c.Validate(context.Background(), &pluginv1.ConfigRequest{ConfigJson: []byte(`{"port": 443}`)})
	if err != nil || len(resp.GetErrors()) != 0 {
		t.Errorf("valid config rejected: %v %v", err, resp.GetErrors())
	}
}

func TestEmptyBatches(t *testing.T) {
	p := &portTagger{}
	c := connect(t, p)
	configure(t, c, `{"port": 80}`)
	stream, err := c.Process(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// An empty batch of an accepted kind, one of another kind and one
	// with no kind at all: each gets its answer, unchanged.
	for i, m := range []*pluginv1.Batch{
		{Kind: pluginv1.Kind_KIND_FLOW},
		{Kind: pluginv1.Kind_KIND_IPSTAT},
		{},
		nil,
	} {
		if err := stream.Send(&pluginv1.ProcessRequest{Seq: uint64(i + 1), Batch: m}); err != nil {
			t.Fatal(err)
		}
		resp, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if resp.GetSeq() != uint64(i+1) || !resp.GetUnchanged() || resp.GetError() != "" || len(resp.GetAlerts()) != 0 {
			t.Errorf("batch %d: %v", i, resp)
		}
	}
	if n := p.calls.Load(); n != 0 {
		t.Errorf("Process called %d times for empty batches", n)
	}
	// A non-empty batch of a kind the plugin did not ask for is an error.
	if err := stream.Send(&pluginv1.ProcessRequest{Seq: 9, Batch: &pluginv1.Batch{Kind: pluginv1.Kind_KIND_IPSTAT, Ipstats: []*pluginv1.IPStat{{}}}}); err != nil {
		t.Fatal(err)
	}
	if resp, err := stream.Recv(); err != nil || resp.GetError() == "" || resp.GetSeq() != 9 {
		t.Errorf("ipstats to a flow plugin: %v %v", resp, err)
	}
	if err := stream.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); !errors.Is(err, io.EOF) {
		t.Errorf("after CloseSend the plugin must end the stream, got %v", err)
	}
}

// TestHugeBatch sends 100,000 flows in one message (the host cuts its
// batches at max_batch records, but the protocol has no such limit) and
// checks every record's answer.
func TestHugeBatch(t *testing.T) {
	c := connect(t, &portTagger{})
	configure(t, c, `{"port": 443, "tag": "t"}`)
	stream, err := c.Process(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	const n = 100_000
	in := flows(n)
	if err := stream.Send(request(t, 1, in)); err != nil {
		t.Fatal(err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetUnchanged() || resp.GetError() != "" {
		t.Fatalf("answer: unchanged=%v error=%q", resp.GetUnchanged(), resp.GetError())
	}
	out := event.NewBatch(event.Flow)
	if err := codec.Decode(resp.GetBatch(), out); err != nil {
		t.Fatal(err)
	}
	if len(out.Flows) != n {
		t.Fatalf("%d flows back, want %d", len(out.Flows), n)
	}
	tagged := 0
	for i, f := range out.Flows {
		want := in.Flows[i].Server.Port == 443
		got := len(f.Tags) == 1 && f.Tags[0] == "t"
		if got != want || f.ID != uint64(i) || f.Client.IP != in.Flows[i].Client.IP {
			t.Fatalf("flow %d: %+v", i, f)
		}
		if got {
			tagged++
		}
	}
	if tagged != n/2 {
		t.Errorf("%d tagged, want %d", tagged, n/2)
	}
	// The same batch with nothing to tag comes back as "unchanged".
	configure(t, c, `{"port": 1}`)
	if err := stream.Send(request(t, 2, in)); err != nil {
		t.Fatal(err)
	}
	if resp, err := stream.Recv(); err != nil || !resp.GetUnchanged() || resp.GetBatch() != nil {
		t.Errorf("untouched batch: unchanged=%v batch=%v err=%v", resp.GetUnchanged(), resp.GetBatch() != nil, err)
	}
}

func TestAlertsAndPipelinedRequests(t *testing.T) {
	c := connect(t, &portTagger{})
	configure(t, c, `{"port": 80}`)
	stream, err := c.Process(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// Several requests in flight before reading any answer.
	const k = 16
	for i := 1; i <= k; i++ {
		b := flows(10)
		b.Flows[3].Server.Port = 666
		if err := stream.Send(request(t, uint64(i), b)); err != nil {
			t.Fatal(err)
		}
	}
	for i := 1; i <= k; i++ {
		resp, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if resp.GetSeq() != uint64(i) {
			t.Fatalf("answer %d has seq %d", i, resp.GetSeq())
		}
		if len(resp.GetAlerts()) != 1 || resp.GetAlerts()[0].GetRule() != "evil" || resp.GetAlerts()[0].GetSubject() != "3" {
			t.Errorf("alerts: %v", resp.GetAlerts())
		}
	}
}

// TestCancellation cancels the stream while the plugin is inside Process:
// the plugin's context must end and the host must get Canceled at once.
func TestCancellation(t *testing.T) {
	p := &portTagger{block: true, entered: make(chan struct{})}
	c := connect(t, p)
	configure(t, c, `{"port": 80}`)
	ctx, cancel := context.WithCancel(context.Background())
	stream, err := c.Process(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(request(t, 1, flows(5))); err != nil {
		t.Fatal(err)
	}
	<-p.entered
	cancel()
	_, err = stream.Recv()
	if status.Code(err) != codes.Canceled {
		t.Fatalf("Recv after cancel: %v, want Canceled", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !p.canceled.Load() {
		if time.Now().After(deadline) {
			t.Fatal("the plugin's Process never saw its context end")
		}
		time.Sleep(time.Millisecond)
	}
	// A deadline on a unary call is honoured the same way.
	dctx, dcancel := context.WithTimeout(context.Background(), time.Nanosecond)
	defer dcancel()
	if _, err := c.Describe(dctx, &pluginv1.DescribeRequest{}); status.Code(err) != codes.DeadlineExceeded {
		t.Errorf("expired deadline: %v", err)
	}
}

type panicky struct{ portTagger }

func (p *panicky) Process(ctx context.Context, b *event.Batch) ([]event.AlertRec, error) {
	if len(b.Flows) == 2 {
		panic("two is too many")
	}
	return p.portTagger.Process(ctx, b)
}

func TestPanicFailsOnlyTheBatch(t *testing.T) {
	c := connect(t, &panicky{})
	configure(t, c, `{"port": 80}`)
	stream, err := c.Process(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range []int{2, 3} {
		if err := stream.Send(request(t, uint64(i), flows(n))); err != nil {
			t.Fatal(err)
		}
		resp, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if failed := resp.GetError() != ""; failed != (n == 2) {
			t.Errorf("batch of %d: error %q", n, resp.GetError())
		}
	}
}
