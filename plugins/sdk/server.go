package sdk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"runtime/debug"
	"slices"

	"github.com/nfpipe/nfpipe/pipeline/event"
	"github.com/nfpipe/nfpipe/plugins/codec"
	pluginv1 "github.com/nfpipe/nfpipe/plugins/proto/nfpipe/plugin/v1"
)

// server adapts a Processor to the protocol's gRPC service.
type server struct {
	pluginv1.UnimplementedPluginServer
	spec *Spec
	proc Processor
	log  *slog.Logger
	// accepted are the kinds Process may be called with.
	accepted event.Kinds
	// counters are the spec's metrics, for the whole process: their
	// increments go out with whichever answer is sent next.
	counters *Counters
}

// NewServer returns the gRPC service for a processor, for tests that
// serve it in process (go-plugin's TestPluginGRPCConn) and for hosts that
// embed plugins. Plugin programs call Serve instead.
func NewServer(opts ServeOpts) (pluginv1.PluginServer, error) {
	if opts.Processor == nil {
		return nil, errors.New("sdk: no processor")
	}
	if err := opts.Spec.Check(); err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	spec := opts.Spec
	return &server{spec: &spec, proc: opts.Processor, log: log, accepted: event.KindsOf(spec.accepts()...),
		counters: newCounters(spec.Metrics, log)}, nil
}

func (s *server) Describe(context.Context, *pluginv1.DescribeRequest) (*pluginv1.DescribeResponse, error) {
	return &pluginv1.DescribeResponse{Spec: s.spec.toProto()}, nil
}

func (s *server) Validate(_ context.Context, req *pluginv1.ConfigRequest) (*pluginv1.ConfigResponse, error) {
	cfg, errs := checkConfig(s.spec.Fields, req.GetConfigJson())
	if len(errs) > 0 {
		return &pluginv1.ConfigResponse{Errors: fieldErrorsToProto(errs)}, nil
	}
	var err error
	if v, ok := s.proc.(Validator); ok {
		err = v.Validate(cfg)
	} else {
		err = s.proc.Configure(cfg)
	}
	return &pluginv1.ConfigResponse{Errors: fieldErrorsToProto(err)}, nil
}

func (s *server) Configure(_ context.Context, req *pluginv1.ConfigRequest) (*pluginv1.ConfigResponse, error) {
	cfg, errs := checkConfig(s.spec.Fields, req.GetConfigJson())
	if len(errs) > 0 {
		return &pluginv1.ConfigResponse{Errors: fieldErrorsToProto(errs)}, nil
	}
	return &pluginv1.ConfigResponse{Errors: fieldErrorsToProto(s.proc.Configure(cfg))}, nil
}

// Process answers every request of the stream in order. It returns when
// the host closes its side (the stage finished) or the stream's context
// ends (the stage stopped, or the host gave up on it).
func (s *server) Process(stream pluginv1.Plugin_ProcessServer) error {
	ctx := WithCounters(stream.Context(), s.counters)
	var enc codec.Encoder
	batches := map[event.Kind]*event.Batch{}
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		resp := s.processOne(ctx, req, batches, &enc)
		// Every answer, a failed batch's too, carries what was counted
		// since the previous one: work done before an error still counts.
		resp.Counters = s.counters.take()
		if err := stream.Send(resp); err != nil {
			return err
		}
	}
}

func (s *server) processOne(ctx context.Context, req *pluginv1.ProcessRequest, batches map[event.Kind]*event.Batch, enc *codec.Encoder) *pluginv1.ProcessResponse {
	resp := &pluginv1.ProcessResponse{Seq: req.GetSeq()}
	in := req.GetBatch()
	if codec.Len(in) == 0 {
		resp.Unchanged = true // nothing to do, whatever the kind
		return resp
	}
	kind, ok := codec.KindFromProto(in.GetKind())
	if !ok || !s.accepted.Has(kind) {
		resp.Error = fmt.Sprintf("this plugin does not process %s events", in.GetKind())
		return resp
	}
	b := batches[kind]
	if b == nil {
		b = event.NewBatch(kind)
		batches[kind] = b
	}
	resetBatch(b)
	if err := codec.Decode(in, b); err != nil {
		resp.Error = err.Error()
		return resp
	}
	// The records share tags, attrs and labels with the request; give the
	// processor its own so that a change made in place is seen below.
	ownCollections(b)
	alerts, err := s.call(ctx, b)
	if err != nil {
		resp.Error = err.Error()
		return resp
	}
	for i := range alerts {
		resp.Alerts = append(resp.Alerts, codec.AlertToProto(&alerts[i]))
	}
	if codec.BatchMatches(b, in) {
		resp.Unchanged = true
		return resp
	}
	out, err := enc.Encode(b)
	if err != nil {
		resp.Error = err.Error()
		return resp
	}
	resp.Batch = out
	return resp
}

// call runs Process, turning a panic into a batch error so that one bad
// record does not take the plugin down.
func (s *server) call(ctx context.Context, b *event.Batch) (alerts []event.AlertRec, err error) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("process panicked", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			err = fmt.Errorf("plugin panicked: %v", r)
		}
	}()
	return s.proc.Process(ctx, b)
}

func resetBatch(b *event.Batch) {
	clear(b.Flows)
	b.Flows = b.Flows[:0]
	clear(b.IPStats)
	b.IPStats = b.IPStats[:0]
	clear(b.Alerts)
	b.Alerts = b.Alerts[:0]
	b.Packets = b.Packets[:0]
}

func ownCollections(b *event.Batch) {
	for i := range b.Flows {
		ownFlow(&b.Flows[i])
	}
	for i := range b.Alerts {
		a := &b.Alerts[i]
		if len(a.Labels) > 0 {
			a.Labels = maps.Clone(a.Labels)
		}
		if a.Flow != nil {
			ownFlow(a.Flow)
		}
	}
}

func ownFlow(f *event.FlowRec) {
	if len(f.Tags) > 0 {
		f.Tags = slices.Clone(f.Tags)
	}
	if len(f.Attrs) > 0 {
		f.Attrs = maps.Clone(f.Attrs)
	}
}

var _ pluginv1.PluginServer = (*server)(nil)
