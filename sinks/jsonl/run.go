package jsonl

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nfpipe/nfpipe/pipeline"
	"github.com/nfpipe/nfpipe/pipeline/event"
)

// bufSize is the write buffer: a few hundred flow lines, so a batch
// usually costs one write system call. A batch larger than the buffer
// goes straight to the file.
const bufSize = 256 << 10

// maxKeep bounds the encode buffer kept between batches, so one huge
// batch does not pin its memory for the life of the pipeline.
const maxKeep = 4 << 20

// maxLogged bounds the distinct write errors remembered for logging once.
const maxLogged = 32

// writer is Run's state.
type writer struct {
	s      *jsonl
	env    *pipeline.Env
	log    *slog.Logger
	bw     *bufio.Writer
	buf    []byte
	dirty  bool // data in bw since the last flush
	failed bool // the last write or flush failed
	logged map[string]bool

	lines, bytes, skipped, flushes *atomic.Uint64
}

// Run writes every batch until the input ends, flushing on a timer, then
// flushes, syncs and closes the file.
func (s *jsonl) Run(ctx context.Context, env *pipeline.Env) error {
	st := env.Stats()
	w := &writer{
		s: s, env: env, log: env.Logger(),
		bw:      bufio.NewWriterSize(s.out, bufSize),
		logged:  map[string]bool{},
		lines:   st.Counter("lines"),
		bytes:   st.Counter("bytes"),
		skipped: st.Counter("skipped"),
		flushes: st.Counter("flushes"),
	}
	if s.file != nil && !s.append {
		if err := s.file.Truncate(0); err != nil {
			w.fail("truncate", err)
		}
	}
	var tick <-chan time.Time
	if s.flush > 0 {
		t := time.NewTicker(s.flush)
		defer t.Stop()
		tick = t.C
	}
	in := env.Input()
	for {
		select {
		case b, ok := <-in:
			if !ok {
				return w.finish()
			}
			env.Received(b)
			start := time.Now()
			w.batch(b)
			b.Release()
			if s.flush == 0 {
				w.flush()
			}
			st.AddBusy(time.Since(start))
		case <-tick:
			w.flush()
		case <-ctx.Done():
			// A forced stop: keep what has been received.
			return w.finish()
		}
	}
}

// batch encodes one batch into the reused buffer and writes it.
func (w *writer) batch(b *event.Batch) {
	n := b.Len()
	if !w.s.kinds.Has(b.Kind) {
		w.skipped.Add(uint64(n))
		return
	}
	if n == 0 {
		return
	}
	w.buf = b.AppendJSONLines(w.buf[:0])
	if _, err := w.bw.Write(w.buf); err != nil {
		w.fail("write", err)
	} else {
		w.dirty = true
		w.lines.Add(uint64(n))
		w.bytes.Add(uint64(len(w.buf)))
	}
	if cap(w.buf) > maxKeep {
		w.buf = nil
	}
}

// flush writes out the buffer if it holds anything.
func (w *writer) flush() {
	if !w.dirty {
		return
	}
	w.dirty = false
	if err := w.bw.Flush(); err != nil {
		w.fail("flush", err)
		return
	}
	w.flushes.Add(1)
	if w.failed {
		w.failed = false
		w.env.Stats().SetHealth(pipeline.Healthy, "")
		w.log.Info("writing works again", "path", w.s.path)
	}
}

// fail counts and reports a write error, and drops the buffered lines so
// that the next batch is written afresh: bufio.Writer otherwise repeats
// its first error forever.
func (w *writer) fail(op string, err error) {
	w.env.Stats().Errors.Add(1)
	w.failed = true
	w.dirty = false
	w.bw.Reset(w.s.out)
	msg := err.Error()
	w.env.Stats().SetHealth(pipeline.Degraded, fmt.Sprintf("%s %s: %s", op, w.s.path, msg))
	if !w.logged[msg] && len(w.logged) < maxLogged {
		w.logged[msg] = true
		w.log.Error("cannot write events; they are dropped until writing works again", "path", w.s.path, "op", op, "err", err)
	}
}

// finish flushes, syncs the file to disk and closes it. Standard output
// is flushed only: it may be a pipe, which cannot be synced, and it is
// not ours to close.
func (w *writer) finish() error {
	w.flush()
	if w.s.file == nil {
		return nil
	}
	// EINVAL: the path is a device or pipe (e.g. /dev/stdout), which has
	// nothing to sync.
	if err := w.s.file.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		w.fail("sync", err)
	}
	if err := w.s.Close(); err != nil {
		w.fail("close", err)
	}
	return nil
}
