package capture

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nfpipe/nfpipe/pipeline"
	"github.com/nfpipe/nfpipe/pipeline/event"
)

// loopGap separates the passes of a looped replay in packet time, so the
// first frame of a pass is always later than every frame of the one
// before and timeouts downstream see time move forward.
const loopGap = event.Time(time.Second)

// output is what the replay loop needs from the pipeline. *pipeline.Env
// provides it; benchmarks provide their own.
type output interface {
	NewBatch(k event.Kind) *event.Batch
	Emit(b *event.Batch)
	Paused() bool
	WaitResumed(ctx context.Context) error
}

// counters are the stage's named counters, looked up once.
type counters struct {
	packets, bytes, readErrors, overSnap, overWire, passes *atomic.Uint64
}

func newCounters(st *pipeline.Stats) counters {
	return counters{
		packets:    st.Counter("packets_read"),
		bytes:      st.Counter("bytes_read"),
		readErrors: st.Counter("read_errors"),
		overSnap:   st.Counter("caplen_exceeds_snaplen"),
		overWire:   st.Counter("caplen_exceeds_wirelen"),
		passes:     st.Counter("passes"),
	}
}

// source is a capture stage reading a file.
type source struct {
	path      string
	speed     float64 // replay factor; 0 = as fast as downstream takes it
	loop      bool
	progress  string
	batchSize int
	stderr    io.Writer

	mu    sync.Mutex
	first *captureFile // opened by the constructor for the first pass
}

// Run replays the file until its end (or forever with loop) or until
// ctx is cancelled.
func (s *source) Run(ctx context.Context, env *pipeline.Env) error {
	return s.replay(ctx, env, env.Logger(), newCounters(env.Stats()))
}

// Close closes the file if Run never took it.
func (s *source) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.first == nil {
		return nil
	}
	err := s.first.Close()
	s.first = nil
	return err
}

// open returns the file for the next pass: the one the constructor
// opened, then a fresh open for every further pass.
func (s *source) open() (*captureFile, error) {
	s.mu.Lock()
	cf := s.first
	s.first = nil
	s.mu.Unlock()
	if cf != nil {
		return cf, nil
	}
	return openFile(s.path)
}

func (s *source) showProgress() bool {
	switch s.progress {
	case "always":
		return true
	case "never":
		return false
	}
	return s.speed == 0 && isTerminal(s.stderr)
}

func (s *source) replay(ctx context.Context, out output, log *slog.Logger, c counters) error {
	rp := &replayer{out: out, c: c, size: s.batchSize}
	if s.speed > 0 {
		rp.pace = &pacer{factor: s.speed}
	}
	bar := s.showProgress()
	start := time.Now()
	var (
		offset  event.Time
		passes  int
		runErr  error
		warned  bool
		stopped bool
	)
	for pass := 1; ; pass++ {
		cf, err := s.open()
		if err != nil {
			runErr = fmt.Errorf("cannot reopen the capture file for pass %d: %w", pass, err)
			break
		}
		rp.bar = nil
		if bar {
			rp.bar = newProgress(s.stderr, cf, pass, rp.totalPkts)
		}
		res := rp.pass(ctx, cf, offset)
		eof := errors.Is(res.err, io.EOF)
		if rp.bar != nil {
			rp.bar.done(eof)
		}
		cf.Close()
		if res.err != nil && !eof {
			c.readErrors.Add(1)
			if !warned {
				warned = true
				log.Warn("capture file is damaged; stopped reading it and delivered every packet before the damage",
					"file", s.path, "err", res.err, "packets", res.packets, "pass", pass)
			}
		}
		if res.stopped {
			stopped = true
			break
		}
		passes++
		c.passes.Add(1)
		if !s.loop {
			break
		}
		if res.packets == 0 {
			log.Warn("capture file has no packets; not looping", "file", s.path)
			break
		}
		offset += res.max - res.min + loopGap
	}
	rp.flush()
	elapsed := time.Since(start)
	msg := "finished reading capture file"
	if stopped {
		msg = "capture stopped"
	}
	log.Info(msg, "file", s.path, "packets", rp.totalPkts, "bytes", rp.totalWire,
		"duration", elapsed.Round(time.Millisecond).String(),
		"packets_per_second", int64(float64(rp.totalPkts)/max(elapsed.Seconds(), 1e-9)),
		"passes", passes)
	return runErr
}

// replayer batches frames and emits them, pacing them when asked. Its
// state spans passes so that a looped small file still fills batches.
type replayer struct {
	out  output
	c    counters
	size int
	pace *pacer
	bar  *progress
	b    *event.Batch

	r        frameReader
	overSeen uint64      // r.oversized() already added to the counter
	scratch  event.Frame // for fillFrames

	pkts, wire, overWire uint64 // since the last flush
	totalPkts, totalWire uint64
}

// passResult is how one pass over the file ended.
type passResult struct {
	packets  uint64
	min, max event.Time // raw packet times of the pass, before the loop offset
	err      error      // io.EOF at a clean end
	stopped  bool       // ctx ended
}

// pass reads r to its end, shifting packet times by offset.
func (rp *replayer) pass(ctx context.Context, r frameReader, offset event.Time) (res passResult) {
	rp.r, rp.overSeen = r, 0
	res.min, res.max = math.MaxInt64, math.MinInt64
	if rp.pace == nil {
		return rp.passBatches(ctx, r, offset, res)
	}
	var f event.Frame
	for {
		data, err := r.next(&f)
		if err != nil {
			res.err = err
			rp.publishOverSnap()
			return res
		}
		if uint32(len(data)) > f.WireLen {
			// The frame was at least as long as what was captured of it;
			// keeping len(Data) <= WireLen holds for every frame.
			rp.overWire++
			f.WireLen = uint32(len(data))
		}
		res.min, res.max = min(res.min, f.TS), max(res.max, f.TS)
		f.TS += offset
		if rp.pace != nil && !rp.wait(ctx, f.TS) {
			res.stopped = true
			return res
		}
		if rp.b == nil && !rp.begin(ctx) {
			res.stopped = true
			return res
		}
		rp.b.AddFrame(f, data)
		res.packets++
		rp.pkts++
		rp.wire += uint64(f.WireLen)
		if len(rp.b.Frames) >= rp.size {
			rp.flush()
		}
	}
}

// passBatches is pass at full speed: the reader fills each batch itself
// (a pcap file is read straight into the batch's arena), then one loop
// over the new frames does what pass does per frame.
func (rp *replayer) passBatches(ctx context.Context, r frameReader, offset event.Time, res passResult) passResult {
	bf, ok := r.(batchFiller)
	for {
		if rp.b == nil && !rp.begin(ctx) {
			res.stopped = true
			return res
		}
		b := rp.b
		from := len(b.Frames)
		var err error
		if ok {
			err = bf.fill(b, rp.size)
		} else {
			err = fillFrames(r, &rp.scratch, b, rp.size)
		}
		var wire, overWire uint64
		for i := from; i < len(b.Frames); i++ {
			f := &b.Frames[i]
			if uint32(len(f.Data)) > f.WireLen {
				overWire++
				f.WireLen = uint32(len(f.Data))
			}
			res.min, res.max = min(res.min, f.TS), max(res.max, f.TS)
			f.TS += offset
			wire += uint64(f.WireLen)
		}
		n := uint64(len(b.Frames) - from)
		res.packets += n
		rp.pkts += n
		rp.wire += wire
		rp.overWire += overWire
		if err != nil {
			res.err = err
			rp.publishOverSnap()
			return res
		}
		rp.flush()
		// Let the consumers take the batch now, while its frames are in
		// the processor's cache. Otherwise, on one core, the source runs
		// until the queue is full (64 batches, megabytes of frames) and
		// decode then reads every frame from memory: on the bench capture
		// this yield took the pipeline from about 400 to 340 CPU ns per
		// packet at GOMAXPROCS=1, and costs well under 1 ns per packet
		// where there are idle cores.
		runtime.Gosched()
	}
}

// wait holds a paced replay until the frame at ts is due, emitting what
// is already batched first. It reports false if ctx ended meanwhile.
func (rp *replayer) wait(ctx context.Context, ts event.Time) bool {
	d := rp.pace.delay(ts, time.Now())
	if d < paceSlack {
		return true
	}
	rp.flush()
	return rp.pace.sleep(ctx, d)
}

// begin starts a batch, first waiting out a pause. It reports false if
// ctx ended.
func (rp *replayer) begin(ctx context.Context) bool {
	if ctx.Err() != nil {
		return false
	}
	if rp.out.Paused() {
		t0 := time.Now()
		if rp.out.WaitResumed(ctx) != nil || ctx.Err() != nil {
			return false
		}
		if rp.pace != nil {
			rp.pace.shift(time.Since(t0))
		}
	}
	rp.b = rp.out.NewBatch(event.Raw)
	return true
}

// flush emits the current batch, blocking while downstream is full, and
// publishes the counters.
func (rp *replayer) flush() {
	if rp.b == nil {
		return
	}
	rp.c.packets.Add(rp.pkts)
	rp.c.bytes.Add(rp.wire)
	if rp.overWire > 0 {
		rp.c.overWire.Add(rp.overWire)
		rp.overWire = 0
	}
	rp.publishOverSnap()
	rp.totalPkts += rp.pkts
	rp.totalWire += rp.wire
	rp.pkts, rp.wire = 0, 0
	b := rp.b
	rp.b = nil
	rp.out.Emit(b)
	if rp.bar != nil {
		rp.bar.update(rp.totalPkts)
	}
}

func (rp *replayer) publishOverSnap() {
	if rp.r == nil {
		return
	}
	if n := rp.r.oversized(); n > rp.overSeen {
		rp.c.overSnap.Add(n - rp.overSeen)
		rp.overSeen = n
	}
}
