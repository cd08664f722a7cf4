package capture

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progressEvery is how often the packet rate in the bar's description is
// refreshed; formatting it allocates, so not per batch.
const progressEvery = 500 * time.Millisecond

// progress is a progress bar for one pass over a capture file: bytes of
// the file read (compressed bytes for a gzip file, so the ETA is right),
// throughput, ETA, and packets per second in the description.
type progress struct {
	bar   *progressbar.ProgressBar
	name  string
	start time.Time
	last  time.Time
	base  uint64 // packets emitted before this pass
}

func newProgress(w io.Writer, cf *captureFile, pass int, packetsBefore uint64) *progress {
	name := filepath.Base(cf.path)
	if pass > 1 {
		name = fmt.Sprintf("%s (pass %d)", name, pass)
	}
	bar := progressbar.NewOptions64(cf.size,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(name),
		progressbar.OptionShowBytes(true),
		progressbar.OptionShowTotalBytes(true),
		progressbar.OptionShowCount(),
		progressbar.OptionSetWidth(10),
		progressbar.OptionFullWidth(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
	)
	// The header and the first buffer were read when the file was opened.
	_ = bar.Add64(cf.meter.n)
	cf.meter.onRead = func(n int) { _ = bar.Add(n) }
	now := time.Now()
	return &progress{bar: bar, name: name, start: now, last: now, base: packetsBefore}
}

// update shows the packet count and rate, at most every progressEvery.
func (p *progress) update(packets uint64) {
	now := time.Now()
	if now.Sub(p.last) < progressEvery {
		return
	}
	p.last = now
	n := packets - p.base
	rate := float64(n) / now.Sub(p.start).Seconds()
	p.bar.Describe(fmt.Sprintf("%s: %d packets, %.0f packets/s", p.name, n, rate))
}

// done completes the bar: full at the end of the file, left where it
// stopped otherwise.
func (p *progress) done(eof bool) {
	if eof {
		_ = p.bar.Finish()
	} else if !p.bar.IsFinished() {
		_ = p.bar.Exit()
	}
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
