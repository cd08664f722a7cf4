package capture

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/nfpipe/nfpipe/pipeline"
	"github.com/nfpipe/nfpipe/pipeline/event"
)

// liveCounters are the stage's counters, in total and per worker.
type liveCounters struct {
	packets, bytes, kPackets, kDrops, kFreezes, ifDrops, reopens *atomic.Uint64
	wPackets, wDrops, wFreezes                                   []*atomic.Uint64
}

// newLiveCounters publishes the counters the backend has figures for:
// ring freezes are AF_PACKET's alone, interface drops libpcap's; the
// other backend's counter is a private one that stays 0, so the status
// never shows a figure nobody measured.
func newLiveCounters(st *pipeline.Stats, workers int, backend string) *liveCounters {
	c := &liveCounters{
		packets:  st.Counter("packets_read"),
		bytes:    st.Counter("bytes_read"),
		kPackets: st.Counter("kernel_packets"),
		kDrops:   st.Counter("kernel_drops"),
		kFreezes: new(atomic.Uint64),
		ifDrops:  new(atomic.Uint64),
		reopens:  st.Counter("reopens"),
	}
	pcap := backend == "pcap"
	if pcap {
		c.ifDrops = st.Counter("interface_drops")
	} else {
		c.kFreezes = st.Counter("kernel_freezes")
	}
	for i := 0; i < workers; i++ {
		c.wPackets = append(c.wPackets, st.Counter(fmt.Sprintf("packets_read_w%d", i)))
		c.wDrops = append(c.wDrops, st.Counter(fmt.Sprintf("kernel_drops_w%d", i)))
		if pcap {
			c.wFreezes = append(c.wFreezes, new(atomic.Uint64))
		} else {
			c.wFreezes = append(c.wFreezes, st.Counter(fmt.Sprintf("kernel_freezes_w%d", i)))
		}
	}
	return c
}

// dropWarnEvery limits drop warnings to one per worker per period.
const dropWarnEvery = 10 * time.Second

// worker reads one socket and emits its frames in batches tagged with
// its index as the shard.
type worker struct {
	idx   int
	r     liveReader
	env   *pipeline.Env
	c     *liveCounters
	size  int
	log   *slog.Logger
	total *kernelStats // the stage's totals for its end summary

	b          *event.Batch
	pkts, wire uint64 // since the last flush

	lastStats   time.Time
	lastWarn    time.Time
	dropsAtWarn uint64
	drops       uint64 // kernel drops of this worker so far
}

// run reads until ctx ends (nil) or the socket fails (the error).
func (w *worker) run(ctx context.Context) error {
	defer w.readStats()
	defer w.flush()
	w.lastStats = time.Now()
	var fi frameInfo
	link := w.r.link()
	for {
		data, err := w.r.next(&fi)
		if err == nil {
			if w.b == nil {
				w.b = w.env.NewBatch(event.Raw)
				w.b.Shard = uint16(w.idx)
			}
			w.b.AddFrame(event.Frame{TS: event.Time(fi.ts), WireLen: fi.wireLen, LinkType: link}, data)
			w.pkts++
			w.wire += uint64(fi.wireLen)
			if len(w.b.Frames) >= w.size {
				w.flush()
				w.tick()
				if ctx.Err() != nil {
					return nil
				}
			}
			continue
		}
		if !errors.Is(err, errWouldBlock) {
			return err
		}
		// Nothing more ready: send what we have before waiting.
		w.flush()
		w.tick()
		if ctx.Err() != nil {
			return nil
		}
		if w.env.Paused() {
			if err := w.pause(ctx); err != nil {
				return err
			}
			continue
		}
		if err := w.r.wait(pollMs); err != nil {
			return err
		}
	}
}

// flush emits the current batch and publishes the counters.
func (w *worker) flush() {
	if w.b == nil {
		return
	}
	w.c.packets.Add(w.pkts)
	w.c.bytes.Add(w.wire)
	w.c.wPackets[w.idx].Add(w.pkts)
	w.pkts, w.wire = 0, 0
	b := w.b
	w.b = nil
	w.env.Emit(b)
}

// tick reads the kernel counters when they are due.
func (w *worker) tick() {
	if time.Since(w.lastStats) >= statsEvery {
		w.readStats()
	}
}

// readStats adds the kernel's counters since the last read and warns
// when the ring overflowed.
func (w *worker) readStats() {
	w.lastStats = time.Now()
	st, err := w.r.stats()
	if err != nil {
		return
	}
	w.c.kPackets.Add(st.packets)
	w.c.kDrops.Add(st.drops)
	w.c.kFreezes.Add(st.freezes)
	w.c.ifDrops.Add(st.ifDrops)
	w.c.wDrops[w.idx].Add(st.drops)
	w.c.wFreezes[w.idx].Add(st.freezes)
	w.total.add(st)
	w.drops += st.drops
	if w.drops > w.dropsAtWarn && time.Since(w.lastWarn) >= dropWarnEvery {
		w.log.Warn("the kernel dropped packets: the capture ring was full; raise ring_size or workers, or narrow bpf",
			"worker", w.idx, "dropped", w.drops-w.dropsAtWarn, "dropped_total", w.drops)
		w.lastWarn, w.dropsAtWarn = time.Now(), w.drops
	}
}

// pause stops the socket from taking packets, delivers what it took
// before, and waits for resume; then it takes packets again. Nothing is
// closed, so a process that switched user can still resume.
func (w *worker) pause(ctx context.Context) error {
	if err := w.r.hold(); err != nil {
		return err
	}
	// A block the kernel is filling is handed over at its timeout: give
	// it the time, and deliver the frames captured before the pause.
	deadline := time.Now().Add(2 * pollMs * time.Millisecond)
	var fi frameInfo
	link := w.r.link()
	for time.Now().Before(deadline) {
		data, err := w.r.next(&fi)
		if errors.Is(err, errWouldBlock) {
			if err := w.r.wait(20); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		if w.b == nil {
			w.b = w.env.NewBatch(event.Raw)
			w.b.Shard = uint16(w.idx)
		}
		w.b.AddFrame(event.Frame{TS: event.Time(fi.ts), WireLen: fi.wireLen, LinkType: link}, data)
		w.pkts++
		w.wire += uint64(fi.wireLen)
	}
	w.flush()
	w.readStats()
	if err := w.env.WaitResumed(ctx); err != nil {
		return nil
	}
	return w.r.release()
}

// add sums kernel counters; only the stage's end summary reads it.
func (k *kernelStats) add(o kernelStats) {
	atomic.AddUint64(&k.packets, o.packets)
	atomic.AddUint64(&k.drops, o.drops)
	atomic.AddUint64(&k.freezes, o.freezes)
	atomic.AddUint64(&k.ifDrops, o.ifDrops)
}
