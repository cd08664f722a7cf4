package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// Query conventions shared by every method:
//   - Since and Until bound a half-open range [Since, Until) of packet time;
//     a zero Since or Until leaves that side open.
//   - Probe selects one writing instance; "" means every probe.
//   - Limit 0 means the method's default; larger values are capped.

const (
	defaultLimit = 100
	maxLimit     = 100000
	// maxPoints bounds a time series: more buckets than this is a
	// request for a coarser bucket.
	maxPoints = 10000
)

func limitOf(n int) int {
	switch {
	case n <= 0:
		return defaultLimit
	case n > maxLimit:
		return maxLimit
	}
	return n
}

// ns converts a range bound to nanoseconds, open sides to the extremes.
func sinceNS(t time.Time) int64 {
	if t.IsZero() {
		return math.MinInt64
	}
	return t.UnixNano()
}

func untilNS(t time.Time) int64 {
	if t.IsZero() {
		return math.MaxInt64
	}
	return t.UnixNano()
}

// where collects SQL conditions and their arguments, in bun's ? syntax.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

func (w *where) sql() string {
	if len(w.conds) == 0 {
		return "TRUE"
	}
	return strings.Join(w.conds, " AND ")
}

// ErrBadQuery wraps invalid query parameters (an unparsable IP, an
// unknown protocol), so an API can answer 400 rather than 500.
var ErrBadQuery = errors.New("invalid query")

func badQuery(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadQuery, fmt.Sprintf(format, args...))
}

// level is one stored ip_stats resolution and the oldest bucket it holds.
type level struct {
	res    int64 // seconds
	oldest int64 // ns
}

// levels lists the stored ip_stats resolutions, finest first. Each step
// is an index seek on the primary key (res, bucket, …), not a scan.
func (s *Store) levels(ctx context.Context) ([]level, error) {
	var out []level
	prev := int64(0)
	for {
		var res sql.NullInt64
		if err := s.db.NewRaw("SELECT MIN(res) FROM ip_stats WHERE res > ?", prev).Scan(ctx, &res); err != nil {
			return nil, err
		}
		if !res.Valid {
			return out, nil
		}
		var oldest int64
		if err := s.db.NewRaw("SELECT MIN(bucket) FROM ip_stats WHERE res = ?", res.Int64).Scan(ctx, &oldest); err != nil {
			return nil, err
		}
		out = append(out, level{res: res.Int64, oldest: oldest})
		prev = res.Int64
	}
}

// pickLevel chooses the resolution to answer a range from. Without want
// (a ranking), the finest level that still holds data back to since, so
// range edges are as exact as the data allows and retention of the fine
// levels silently hands long ranges to the coarse ones. With want (the
// bucket of a series), the coarsest level dividing want that reaches back
// to since: whole buckets sum the same at any resolution dividing them,
// and coarser rows are fewer. When no level reaches since, the one
// reaching furthest back. ok is false when ip_stats is empty.
func pickLevel(levels []level, since int64, want time.Duration) (level, bool) {
	var cands []level
	for _, l := range levels {
		if want <= 0 || int64(want/time.Second)%l.res == 0 {
			cands = append(cands, l)
		}
	}
	if len(cands) == 0 {
		if len(levels) == 0 {
			return level{}, false
		}
		cands = levels[:1]
	}
	covers := func(i int) bool {
		l := cands[i]
		if l.oldest <= since {
			return true
		}
		// Nothing older than l.oldest exists at all unless a coarser
		// level has a bucket ending before it (retention of l removed it).
		for _, c := range levels {
			if c.res > l.res && c.oldest+c.res*int64(time.Second) <= l.oldest {
				return false
			}
		}
		return true
	}
	if want > 0 {
		for i := len(cands) - 1; i >= 0; i-- {
			if covers(i) {
				return cands[i], true
			}
		}
	} else {
		for i := range cands {
			if covers(i) {
				return cands[i], true
			}
		}
	}
	best := cands[0]
	for _, l := range cands[1:] {
		if l.oldest < best.oldest {
			best = l
		}
	}
	return best, true
}

// Latest returns the newest packet time in the store (flows, ip_stats,
// alerts) for a probe or all; zero if the store is empty. The CLI
// measures relative ranges ("--since 1h") back from it, so a replayed
// capture from years ago is queried like a live one.
func (s *Store) Latest(ctx context.Context, probe string) (time.Time, error) {
	var w where
	if probe != "" {
		w.add("probe = ?", probe)
	}
	var a, b, c sql.NullInt64
	if err := s.db.NewRaw("SELECT MAX(max_last) FROM flow_blocks WHERE "+w.sql(), w.args...).Scan(ctx, &a); err != nil {
		return time.Time{}, err
	}
	// The newest bucket of the finest level ends at bucket + res.
	if err := s.db.NewRaw("SELECT MAX(bucket + res * 1000000000) FROM ip_stats WHERE res = (SELECT MIN(res) FROM ip_stats) AND "+w.sql(), w.args...).Scan(ctx, &b); err != nil {
		return time.Time{}, err
	}
	if err := s.db.NewRaw("SELECT MAX(time) FROM alerts WHERE "+w.sql(), w.args...).Scan(ctx, &c); err != nil {
		return time.Time{}, err
	}
	latest := int64(math.MinInt64)
	for _, v := range []sql.NullInt64{a, b, c} {
		if v.Valid && v.Int64 > latest {
			latest = v.Int64
		}
	}
	if latest == math.MinInt64 {
		return time.Time{}, nil
	}
	return time.Unix(0, latest).UTC(), nil
}

// Probes lists the probes that have written to the store, sorted.
func (s *Store) Probes(ctx context.Context) ([]string, error) {
	var out []string
	err := s.db.NewRaw("SELECT DISTINCT probe FROM batches ORDER BY probe").Scan(ctx, &out)
	return out, err
}
