package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/uptrace/bun"
)

// Retention says how long each table keeps rows; 0 keeps them forever.
// Flows, ip_stats and alerts age in packet time, events and batches in
// wall-clock time.
type Retention struct {
	Flows   time.Duration
	Alerts  time.Duration
	Events  time.Duration
	Batches time.Duration
	// IPStats maps a rollup width to how long its buckets are kept.
	IPStats map[time.Duration]time.Duration
}

// DefaultRetention keeps raw flows a week and per-IP history for three
// months at hourly resolution: with default rollups that bounds a busy
// probe's database to a few GiB.
func DefaultRetention() Retention {
	return Retention{
		Flows:   7 * 24 * time.Hour,
		Alerts:  90 * 24 * time.Hour,
		Events:  90 * 24 * time.Hour,
		Batches: 7 * 24 * time.Hour,
		IPStats: map[time.Duration]time.Duration{
			time.Minute:     2 * 24 * time.Hour,
			5 * time.Minute: 14 * 24 * time.Hour,
			time.Hour:       90 * 24 * time.Hour,
		},
	}
}

// Pruned counts the rows a retention pass deleted, per table.
type Pruned struct {
	Flows, IPStats, Alerts, Events, Batches int64
	// FreedPages are the SQLite pages returned to the file system.
	FreedPages int64
}

// Total is the number of rows deleted.
func (p Pruned) Total() int64 { return p.Flows + p.IPStats + p.Alerts + p.Events + p.Batches }

// retainBlocksPerTx bounds one retention transaction, so the writer lock
// is never held long while a large backlog is deleted.
const retainBlocksPerTx = 16

// Prune deletes this store's probe's rows older than the policy allows:
// packetNow is the newest packet time written (the sink tracks it),
// wallNow the clock. In SQLite the freed pages are then returned to the
// file system (auto_vacuum is incremental), so the file shrinks without
// anyone running VACUUM.
func (s *Store) Prune(ctx context.Context, p Retention, packetNow, wallNow time.Time) (Pruned, error) {
	var out Pruned
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if p.Flows > 0 && !packetNow.IsZero() {
		n, err := s.pruneFlows(ctx, packetNow.Add(-p.Flows).UnixNano())
		out.Flows = n
		if err != nil {
			return out, err
		}
	}
	del := func(what string, n *int64, q string, args ...any) error {
		res, err := s.db.ExecContext(ctx, q, args...)
		if err != nil {
			return fmt.Errorf("prune %s: %w", what, err)
		}
		*n, _ = res.RowsAffected()
		return nil
	}
	if !packetNow.IsZero() {
		for width, keep := range p.IPStats {
			if keep <= 0 {
				continue
			}
			var n int64
			if err := del("ip_stats", &n, "DELETE FROM ip_stats WHERE res = ? AND bucket < ? AND probe = ?",
				int64(width/time.Second), packetNow.Add(-keep).UnixNano(), s.probe); err != nil {
				return out, err
			}
			out.IPStats += n
		}
		if p.Alerts > 0 {
			if err := del("alerts", &out.Alerts, "DELETE FROM alerts WHERE time < ? AND probe = ?", packetNow.Add(-p.Alerts).UnixNano(), s.probe); err != nil {
				return out, err
			}
		}
	}
	if p.Events > 0 {
		if err := del("events", &out.Events, "DELETE FROM events WHERE time < ? AND probe = ?", wallNow.Add(-p.Events).UnixNano(), s.probe); err != nil {
			return out, err
		}
	}
	if p.Batches > 0 {
		if err := del("batches", &out.Batches, "DELETE FROM batches WHERE time < ? AND probe = ?", wallNow.Add(-p.Batches).UnixNano(), s.probe); err != nil {
			return out, err
		}
	}
	if s.dialect == SQLite && out.Total() > 0 {
		var before, after int64
		_ = s.db.QueryRowContext(ctx, "PRAGMA freelist_count").Scan(&before)
		// The pragma frees one page per step: read it to the end.
		rows, err := s.db.QueryContext(ctx, "PRAGMA incremental_vacuum")
		if err != nil {
			return out, fmt.Errorf("incremental vacuum: %w", err)
		}
		for rows.Next() {
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return out, fmt.Errorf("incremental vacuum: %w", err)
		}
		_ = s.db.QueryRowContext(ctx, "PRAGMA freelist_count").Scan(&after)
		out.FreedPages = before - after
	}
	return out, nil
}

// pruneFlows deletes the flows that ended before cutoff, block by block.
// A block entirely older goes with its rows; a block straddling the
// cutoff loses its old rows and its lower time bound moves up. The open
// block may go too: writing then starts a new one.
func (s *Store) pruneFlows(ctx context.Context, cutoff int64) (int64, error) {
	var total int64
	for {
		var blocks []FlowBlock
		err := s.db.NewSelect().Model(&blocks).Column("id", "lo_id", "hi_id", "min_last", "max_last").
			Where("probe = ? AND min_last < ?", s.probe, cutoff).OrderExpr("id").Limit(retainBlocksPerTx).Scan(ctx)
		if err != nil {
			return total, fmt.Errorf("prune flows: %w", err)
		}
		if len(blocks) == 0 {
			return total, nil
		}
		var n int64
		err = s.db.RunInTx(ctx, &sql.TxOptions{}, func(ctx context.Context, tx bun.Tx) error {
			n = 0
			for _, b := range blocks {
				res, err := tx.ExecContext(ctx, "DELETE FROM flows WHERE id >= ? AND id <= ? AND probe = ? AND last_seen < ?", b.LoID, b.HiID, s.probe, cutoff)
				if err != nil {
					return err
				}
				k, _ := res.RowsAffected()
				n += k
				if b.MaxLast < cutoff {
					_, err = tx.ExecContext(ctx, "DELETE FROM flow_blocks WHERE id = ?", b.ID)
				} else {
					_, err = tx.ExecContext(ctx, "UPDATE flow_blocks SET min_last = ? WHERE id = ?", cutoff, b.ID)
				}
				if err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return total, fmt.Errorf("prune flows: %w", err)
		}
		total += n
		for _, b := range blocks {
			if s.block != nil && s.block.row.ID == b.ID {
				if b.MaxLast < cutoff {
					s.block = nil
				} else {
					s.block.row.MinLast = max(s.block.row.MinLast, cutoff)
				}
			}
		}
	}
}
