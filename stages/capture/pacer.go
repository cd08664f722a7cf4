package capture

import (
	"context"
	"time"

	"github.com/nfpipe/nfpipe/pipeline/event"
)

// paceSlack is how early a frame may be emitted. Sleeping for less than
// this costs more in timer wake-ups and tiny batches than the jitter is
// worth, so frames due within it go out at once.
const paceSlack = time.Millisecond

// pacer spaces frames by their timestamps, divided by the speed factor.
// The first frame it sees fixes the mapping of packet time to wall time.
type pacer struct {
	factor  float64
	started bool
	wall0   time.Time
	ts0     event.Time
	timer   *time.Timer
}

// delay is how long before the frame with packet time ts is due. Frames
// whose time is already past (the replay fell behind, or timestamps go
// backwards) get a negative delay and go out at once.
func (p *pacer) delay(ts event.Time, now time.Time) time.Duration {
	if !p.started {
		p.started, p.wall0, p.ts0 = true, now, ts
		return 0
	}
	due := p.wall0.Add(time.Duration(float64(ts-p.ts0) / p.factor))
	return due.Sub(now)
}

// shift moves the schedule later by d, after a pause, so the replay
// resumes where it stopped instead of rushing to catch up.
func (p *pacer) shift(d time.Duration) { p.wall0 = p.wall0.Add(d) }

// sleep waits d or until ctx ends; it reports whether the wait completed.
func (p *pacer) sleep(ctx context.Context, d time.Duration) bool {
	if p.timer == nil {
		p.timer = time.NewTimer(d)
	} else {
		p.timer.Reset(d)
	}
	select {
	case <-p.timer.C:
		return true
	case <-ctx.Done():
		p.timer.Stop()
		return false
	}
}
