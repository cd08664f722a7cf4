package sqlite

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// fault is what a failed write means for the writer.
type fault int

const (
	// transient: locked, busy, unreachable, out of resources. Retry.
	transient fault = iota
	// diskFull: retry (space may be freed) but say so loudly.
	diskFull
	// permanent: the database rejects these rows; retrying cannot help.
	permanent
)

// SQLite result codes (the low byte of an extended code).
const (
	sqliteBusy     = 5
	sqliteLocked   = 6
	sqliteReadOnly = 8
	sqliteIOErr    = 10
	sqliteFull     = 13
	sqliteCantOpen = 14
	sqliteProtocol = 15
)

// classify sorts a write error. SQLite errors carry a result code (read
// through an interface, so the driver stays behind sqliteshim);
// PostgreSQL errors an SQLSTATE; anything else from PostgreSQL is a
// connection problem.
func classify(err error) fault {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return transient
	}
	var coded interface{ Code() int }
	if errors.As(err, &coded) {
		switch coded.Code() & 0xff {
		case sqliteBusy, sqliteLocked, sqliteIOErr, sqliteCantOpen, sqliteProtocol, sqliteReadOnly:
			return transient
		case sqliteFull:
			return diskFull
		}
		return permanent
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		switch {
		case pg.Code == "53100": // disk_full
			return diskFull
		case strings.HasPrefix(pg.Code, "08"), // connection exception
			strings.HasPrefix(pg.Code, "53"),       // insufficient resources
			strings.HasPrefix(pg.Code, "57P"),      // shutdown, cannot connect now
			pg.Code == "40001", pg.Code == "40P01", // serialization failure, deadlock
			pg.Code == "55P03": // lock not available
			return transient
		}
		return permanent
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, driver.ErrBadConn) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return transient
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return transient
	}
	// Unknown errors are retried: dropping data on a misread error is
	// worse than retrying a hopeless write, which the health, the log and
	// the drop counters make visible.
	return transient
}

// backoff is exponential with full jitter between min and max.
type backoff struct {
	min, max time.Duration
	cur      time.Duration
}

// Retry delays: short enough that a lock held for a moment costs little,
// long enough that a server down for minutes is not hammered.
const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 10 * time.Second
)

func newBackoff() *backoff { return &backoff{min: minBackoff, max: maxBackoff} }

func (b *backoff) next() time.Duration {
	if b.cur == 0 {
		b.cur = b.min
	} else {
		b.cur = min(2*b.cur, b.max)
	}
	return b.cur/2 + rand.N(b.cur/2+1)
}

func (b *backoff) reset() { b.cur = 0 }

// logEvery bounds repeated log lines about the same trouble.
const logEvery = 10 * time.Second

// rateLog logs a message at most every logEvery per key, with the count
// of those suppressed in between.
type rateLog struct {
	log   *slog.Logger
	mu    sync.Mutex
	last  map[string]time.Time
	count map[string]int
}

func newRateLog(l *slog.Logger) *rateLog {
	return &rateLog{log: l, last: map[string]time.Time{}, count: map[string]int{}}
}

func (r *rateLog) logf(level slog.Level, key, msg string, args ...any) {
	r.mu.Lock()
	now := time.Now()
	if t, ok := r.last[key]; ok && now.Sub(t) < logEvery {
		r.count[key]++
		r.mu.Unlock()
		return
	}
	if n := r.count[key]; n > 0 {
		args = append(args, "repeated", n)
	}
	r.last[key], r.count[key] = now, 0
	r.mu.Unlock()
	r.log.Log(context.Background(), level, msg, args...)
}
