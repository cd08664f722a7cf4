package store

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/uptrace/bun"
)

// Rows is what one transaction writes. IPStats are increments: each is
// added to the row with the same (probe, res, bucket, ip), so a bucket can
// be written in any number of pieces and still sum exactly.
type Rows struct {
	Flows   []Flow
	IPStats []IPStat
	Alerts  []Alert
	Events  []Event
}

// Len is the number of rows.
func (r *Rows) Len() int { return len(r.Flows) + len(r.IPStats) + len(r.Alerts) + len(r.Events) }

// Reset empties r, keeping its memory.
func (r *Rows) Reset() {
	clear(r.Flows)
	r.Flows = r.Flows[:0]
	clear(r.IPStats)
	r.IPStats = r.IPStats[:0]
	clear(r.Alerts)
	r.Alerts = r.Alerts[:0]
	clear(r.Events)
	r.Events = r.Events[:0]
}

// insertChunk bounds the rows of one bun INSERT (ip_stats): bun writes
// the values into the SQL text, which the database parses at once.
const insertChunk = 500

// Write stores r in one transaction, together with a row in batches
// counting what it holds: after a crash the database holds whole batches
// or nothing of them. Rows without a probe get the store's. Writes are
// serialised: the store keeps the open block of its flow index between
// them.
func (s *Store) Write(ctx context.Context, r *Rows) error {
	if r.Len() == 0 {
		return nil
	}
	for i := range r.Flows {
		r.Flows[i].Probe = cmp.Or(r.Flows[i].Probe, s.probe)
	}
	for i := range r.IPStats {
		r.IPStats[i].Probe = cmp.Or(r.IPStats[i].Probe, s.probe)
	}
	for i := range r.Alerts {
		r.Alerts[i].Probe = cmp.Or(r.Alerts[i].Probe, s.probe)
	}
	for i := range r.Events {
		r.Events[i].Probe = cmp.Or(r.Events[i].Probe, s.probe)
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	// One connection for the whole transaction, so that flows can be
	// inserted through the driver directly (see insertFlowsSingle).
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	var next *openBlock
	err = conn.RunInTx(ctx, &sql.TxOptions{}, func(ctx context.Context, tx bun.Tx) error {
		var err error
		next, err = s.writeFlows(ctx, conn.Conn, tx, r.Flows)
		if err != nil {
			return err
		}
		if len(r.IPStats) > 0 {
			if err := s.upsertIPStats(ctx, tx, MergeIPStats(r.IPStats)); err != nil {
				return fmt.Errorf("upsert ip_stats: %w", err)
			}
		}
		// Ids come from the database; a retried write asks again.
		for i := range r.Alerts {
			r.Alerts[i].ID = 0
		}
		for i := range r.Events {
			r.Events[i].ID = 0
		}
		if len(r.Alerts) > 0 {
			if _, err := tx.NewInsert().Model(&r.Alerts).Exec(ctx); err != nil {
				return fmt.Errorf("insert alerts: %w", err)
			}
		}
		if len(r.Events) > 0 {
			if _, err := tx.NewInsert().Model(&r.Events).Exec(ctx); err != nil {
				return fmt.Errorf("insert events: %w", err)
			}
		}
		b := &Batch{
			Probe:   s.probe,
			Time:    time.Now().UnixNano(),
			Flows:   int64(len(r.Flows)),
			IPStats: int64(len(r.IPStats)),
			Alerts:  int64(len(r.Alerts)),
			Events:  int64(len(r.Events)),
		}
		if _, err := tx.NewInsert().Model(b).Exec(ctx); err != nil {
			return fmt.Errorf("insert batch: %w", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	// Only a committed transaction moves the open block forward; a failed
	// one is retried from the same state.
	s.block = next
	return nil
}

// writeFlows gives the flows ids, inserts them and updates the skip index.
// It returns the new state of the open block without touching s.block.
func (s *Store) writeFlows(ctx context.Context, conn *sql.Conn, tx bun.Tx, flows []Flow) (*openBlock, error) {
	ob := s.block.clone()
	if len(flows) == 0 {
		return ob, nil
	}
	if err := s.allocIDs(ctx, tx, flows); err != nil {
		return nil, fmt.Errorf("allocate flow ids: %w", err)
	}
	var err error
	if s.dialect == Postgres {
		err = s.copyFlows(ctx, conn, flows)
	} else {
		err = s.insertFlowsSingle(ctx, conn, flows)
	}
	if err != nil {
		return nil, fmt.Errorf("insert flows: %w", err)
	}
	for start := 0; start < len(flows); {
		if ob == nil || ob.row.Rows >= blockRows {
			// A full block got its final filter when it filled up.
			ob = &openBlock{bits: newBloom(), row: FlowBlock{Probe: s.probe, LoID: flows[start].ID, MinLast: flows[start].LastSeen, MaxLast: flows[start].LastSeen}}
		}
		n := min(len(flows)-start, int(blockRows-ob.row.Rows))
		for i := start; i < start+n; i++ {
			f := &flows[i]
			ob.bits.addFlow(f)
			ob.row.HiID = max(ob.row.HiID, f.ID)
			ob.row.MinLast = min(ob.row.MinLast, f.LastSeen)
			ob.row.MaxLast = max(ob.row.MaxLast, f.LastSeen)
		}
		ob.row.Rows += int64(n)
		start += n
		if err := s.saveBlock(ctx, tx, ob, ob.row.Rows >= blockRows); err != nil {
			return nil, err
		}
	}
	return ob, nil
}

// bloomRefresh is how often the filter of the open block is rewritten
// while it fills. Between rewrites its newest rows are scanned by every
// query, which costs little; rewriting 16 KiB at every small live
// transaction would cost more.
const bloomRefresh = 30 * time.Second

// openBlock is the block the store is filling.
type openBlock struct {
	row     FlowBlock
	bits    bloom
	bloomAt time.Time // when the filter was last written
}

func (ob *openBlock) clone() *openBlock {
	if ob == nil {
		return nil
	}
	c := *ob
	c.bits = append(bloom(nil), ob.bits...)
	return &c
}

// saveBlock inserts or updates the block's row. The filter is written
// when final, when the block is new, or when it is older than
// bloomRefresh; otherwise only the bounds move.
func (s *Store) saveBlock(ctx context.Context, tx bun.Tx, ob *openBlock, final bool) error {
	writeBloom := final || ob.row.ID == 0 || time.Since(ob.bloomAt) >= bloomRefresh
	if writeBloom {
		ob.row.Bloom = ob.bits.bytes()
		ob.row.BloomHi = ob.row.HiID
		ob.bloomAt = time.Now()
	}
	insert := func() error {
		// Parameters, not bun's inlined SQL: the filter is 16 KiB.
		return tx.Tx.QueryRowContext(ctx, s.rebind("INSERT INTO flow_blocks (probe, lo_id, hi_id, rows, min_last, max_last, bloom_hi, bloom) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id"),
			ob.row.Probe, ob.row.LoID, ob.row.HiID, ob.row.Rows, ob.row.MinLast, ob.row.MaxLast, ob.row.BloomHi, ob.bits.bytes()).Scan(&ob.row.ID)
	}
	var err error
	var res sql.Result
	switch {
	case ob.row.ID == 0:
		err = insert()
	case writeBloom:
		res, err = tx.Tx.ExecContext(ctx, s.rebind("UPDATE flow_blocks SET hi_id = ?, rows = ?, min_last = ?, max_last = ?, bloom_hi = ?, bloom = ? WHERE id = ?"),
			ob.row.HiID, ob.row.Rows, ob.row.MinLast, ob.row.MaxLast, ob.row.BloomHi, ob.row.Bloom, ob.row.ID)
	default:
		res, err = tx.Tx.ExecContext(ctx, s.rebind("UPDATE flow_blocks SET hi_id = ?, rows = ?, min_last = ?, max_last = ? WHERE id = ?"),
			ob.row.HiID, ob.row.Rows, ob.row.MinLast, ob.row.MaxLast, ob.row.ID)
	}
	if res != nil {
		if n, _ := res.RowsAffected(); n == 0 {
			// The row is gone (deleted by hand, or by another tool): index
			// the block again, filter included, rather than lose its rows.
			ob.row.BloomHi = ob.row.HiID
			err = insert()
		}
	}
	ob.row.Bloom = nil // the bits are the live copy
	if err != nil {
		return fmt.Errorf("update flow_blocks: %w", err)
	}
	return nil
}

// Flush writes the filter of the open block, so that queries skip it
// fully. The sink calls it when it stops.
func (s *Store) Flush(ctx context.Context) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.block == nil || s.block.row.BloomHi == s.block.row.HiID {
		return nil
	}
	next := s.block.clone()
	err := s.db.RunInTx(ctx, &sql.TxOptions{}, func(ctx context.Context, tx bun.Tx) error {
		return s.saveBlock(ctx, tx, next, true)
	})
	if err == nil {
		s.block = next
	}
	return err
}

// allocIDs numbers the flows. SQLite: the transaction holds the write
// lock, so the ids after the current maximum are free. PostgreSQL: ids
// come from the table's sequence, shared safely by every probe.
func (s *Store) allocIDs(ctx context.Context, tx bun.Tx, flows []Flow) error {
	if s.dialect == Postgres {
		if s.flowSeq == "" {
			// Resolved once: looking it up per row costs more than the
			// ids themselves.
			if err := tx.QueryRowContext(ctx, "SELECT pg_get_serial_sequence('flows', 'id')").Scan(&s.flowSeq); err != nil {
				return err
			}
		}
		rows, err := tx.QueryContext(ctx, "SELECT nextval(?::regclass) FROM generate_series(1, ?)", s.flowSeq, len(flows))
		if err != nil {
			return err
		}
		defer rows.Close()
		i := 0
		for rows.Next() && i < len(flows) {
			if err := rows.Scan(&flows[i].ID); err != nil {
				return err
			}
			i++
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if i != len(flows) {
			return fmt.Errorf("got %d ids for %d flows", i, len(flows))
		}
		return nil
	}
	var last int64
	if err := tx.QueryRowContext(ctx, "SELECT COALESCE(MAX(id), 0) FROM flows").Scan(&last); err != nil {
		return err
	}
	for i := range flows {
		last++
		flows[i].ID = last
	}
	return nil
}

// upsertIPStats adds increments to existing buckets. Distinct counts keep
// the larger value, geo keeps the newest known.
func (s *Store) upsertIPStats(ctx context.Context, tx bun.Tx, rows []IPStat) error {
	greatest := "MAX"
	if s.dialect == Postgres {
		greatest = "GREATEST"
	}
	for start := 0; start < len(rows); start += insertChunk {
		chunk := rows[start:min(start+insertChunk, len(rows))]
		// No table alias, so that SET can name ip_stats; no RETURNING.
		q := tx.NewInsert().Model(&chunk).ModelTableExpr("ip_stats").Returning("NULL").
			On("CONFLICT (res, bucket, ip, probe) DO UPDATE").
			Set("bytes_in = ip_stats.bytes_in + EXCLUDED.bytes_in").
			Set("bytes_out = ip_stats.bytes_out + EXCLUDED.bytes_out").
			Set("packets_in = ip_stats.packets_in + EXCLUDED.packets_in").
			Set("packets_out = ip_stats.packets_out + EXCLUDED.packets_out").
			Set("flows = ip_stats.flows + EXCLUDED.flows").
			Set("intervals = ip_stats.intervals + EXCLUDED.intervals").
			Set("peers = " + greatest + "(ip_stats.peers, EXCLUDED.peers)").
			Set("dst_ports = " + greatest + "(ip_stats.dst_ports, EXCLUDED.dst_ports)")
		for _, c := range []string{"geo_label", "cc", "country", "city", "lat", "lon", "asn", "as_org"} {
			q = q.Set(c + " = COALESCE(EXCLUDED." + c + ", ip_stats." + c + ")")
		}
		if _, err := q.Exec(ctx); err != nil {
			return err
		}
	}
	return nil
}

type ipStatKey struct {
	probe  string
	res    int64
	bucket int64
	ip     string
}

// MergeIPStats folds increments for the same (probe, res, bucket, ip) into
// one, as the database would: one INSERT … ON CONFLICT may not touch a row
// twice. It returns a new slice and leaves rows as they are, so a write
// that failed can be retried with the same rows.
func MergeIPStats(rows []IPStat) []IPStat {
	idx := make(map[ipStatKey]int, len(rows))
	out := make([]IPStat, 0, len(rows))
	for i := range rows {
		r := &rows[i]
		k := ipStatKey{r.Probe, r.Res, r.Bucket, r.IP}
		if j, ok := idx[k]; ok {
			out[j].Add(r)
			continue
		}
		idx[k] = len(out)
		out = append(out, *r)
	}
	return out
}

// Add folds the increment o into r: counters add up, distinct counts
// keep the larger value, geo the newest known.
func (r *IPStat) Add(o *IPStat) {
	r.BytesIn += o.BytesIn
	r.BytesOut += o.BytesOut
	r.PacketsIn += o.PacketsIn
	r.PacketsOut += o.PacketsOut
	r.Flows += o.Flows
	r.Intervals += o.Intervals
	r.Peers = max(r.Peers, o.Peers)
	r.DstPorts = max(r.DstPorts, o.DstPorts)
	if o.Geo != (GeoCols{}) {
		r.Geo = o.Geo
	}
}

// rebind turns ? placeholders into PostgreSQL's $1, $2, … for SQL passed
// straight to database/sql.
func (s *Store) rebind(q string) string {
	if s.dialect != Postgres {
		return q
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}
