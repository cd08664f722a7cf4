package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/nfpipe/nfpipe/pipeline/event"
)

// FlowQuery selects flows. Every field is optional.
type FlowQuery struct {
	// Since and Until bound last_seen (when the flow's last packet was
	// seen).
	Since, Until time.Time
	// IP matches either end.
	IP string
	// Port matches either end's port; 0 matches any.
	Port int
	// Proto is "tcp", "udp", "icmp", "icmpv6", "sctp" or a number.
	Proto string
	// State is a TCP state as in the JSON contract ("ESTABLISHED",
	// "CLOSED", "RESET", …), case-insensitive.
	State string
	// Probe selects one writer; "" means all.
	Probe string
	// Limit is the page size: default 100.
	Limit int
	// Cursor continues a previous page (FlowPage.Next).
	Cursor string
}

// FlowPage is one page of flows, newest first, and the cursor of the next
// page ("" when this is the last).
type FlowPage struct {
	Flows []Flow `json:"flows"`
	Next  string `json:"next,omitempty"`
}

// blockRef is a candidate block of the skip index.
type blockRef struct {
	ID      int64  `bun:"id"`
	Probe   string `bun:"probe"`
	LoID    int64  `bun:"lo_id"`
	HiID    int64  `bun:"hi_id"`
	BloomHi int64  `bun:"bloom_hi"`
	bloom   []byte // loaded on demand
	loaded  bool
}

// maxBloomChunk bounds how many filters (16 KiB each) one query loads.
// Chunks start small, since a page is often full after a block or two,
// and double as a search goes further back, so a long one costs a few
// queries rather than one per block.
const maxBloomChunk = 64

// loadBlooms fetches the filters of the blocks from i on not yet loaded.
func (s *Store) loadBlooms(ctx context.Context, blocks []blockRef, i int) error {
	n := min(maxBloomChunk, max(2, i))
	var ids []int64
	at := map[int64]int{}
	for j := i; j < min(len(blocks), i+n); j++ {
		if !blocks[j].loaded {
			ids = append(ids, blocks[j].ID)
			at[blocks[j].ID] = j
			blocks[j].loaded = true
		}
	}
	if len(ids) == 0 {
		return nil
	}
	var rows []struct {
		ID    int64  `bun:"id"`
		Bloom []byte `bun:"bloom"`
	}
	if err := s.db.NewRaw("SELECT id, bloom FROM flow_blocks WHERE id IN (?)", bun.In(ids)).Scan(ctx, &rows); err != nil {
		return err
	}
	for _, r := range rows {
		blocks[at[r.ID]].bloom = r.Bloom
	}
	return nil
}

// flowCursor is where a page stopped: blocks are visited in descending
// (lo_id, id) order, rows within a block in descending id.
type flowCursor struct {
	lo, block, row int64
}

func (c flowCursor) String() string {
	return fmt.Sprintf("%d.%d.%d", c.lo, c.block, c.row)
}

func parseFlowCursor(s string) (flowCursor, error) {
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return flowCursor{}, badQuery("cursor %q is not one this store returned", s)
	}
	var v [3]int64
	for i, p := range parts {
		n, err := strconv.ParseInt(p, 10, 64)
		if err != nil {
			return flowCursor{}, badQuery("cursor %q is not one this store returned", s)
		}
		v[i] = n
	}
	return flowCursor{v[0], v[1], v[2]}, nil
}

// flowFilter is a validated FlowQuery.
type flowFilter struct {
	since, until int64
	ip           string
	port         int
	proto        int
	state        string
	probe        string
}

func (q *FlowQuery) filter() (flowFilter, error) {
	f := flowFilter{since: sinceNS(q.Since), until: untilNS(q.Until), port: -1, proto: -1, probe: q.Probe}
	if q.IP != "" {
		ip, ok := normalizeIP(q.IP)
		if !ok {
			return f, badQuery("%q is not an IP address", q.IP)
		}
		f.ip = ip
	}
	if q.Port != 0 {
		if q.Port < 0 || q.Port > 65535 {
			return f, badQuery("port %d is out of range 1-65535", q.Port)
		}
		f.port = q.Port
	}
	if q.Proto != "" {
		p, ok := event.ParseProto(strings.ToLower(q.Proto))
		if !ok {
			return f, badQuery("unknown protocol %q; use tcp, udp, icmp, icmpv6, sctp or a number", q.Proto)
		}
		f.proto = int(p)
	}
	if q.State != "" {
		st, ok := ParseTCPState(q.State)
		if !ok {
			return f, badQuery("unknown TCP state %q; use one of SYN_SENT, SYN_RECEIVED, ESTABLISHED, FIN_WAIT, CLOSING, CLOSED, RESET", q.State)
		}
		f.state = st.String()
	}
	return f, nil
}

// rowConds are the exact per-row conditions.
func (f *flowFilter) rowConds(w *where) {
	w.add("last_seen >= ?", f.since)
	w.add("last_seen < ?", f.until)
	if f.ip != "" {
		w.add("(client_ip = ? OR server_ip = ?)", f.ip, f.ip)
	}
	if f.port >= 0 {
		w.add("(client_port = ? OR server_port = ?)", f.port, f.port)
	}
	if f.proto >= 0 {
		w.add("proto = ?", f.proto)
	}
	if f.state != "" {
		w.add("tcp_state = ?", f.state)
	}
}

// candidateBlocks lists the blocks whose time bounds meet the range,
// newest first.
func (s *Store) candidateBlocks(ctx context.Context, f *flowFilter, cur *flowCursor) ([]blockRef, error) {
	var w where
	w.add("max_last >= ?", f.since)
	w.add("min_last < ?", f.until)
	if f.probe != "" {
		w.add("probe = ?", f.probe)
	}
	if cur != nil {
		w.add("(lo_id < ? OR (lo_id = ? AND id <= ?))", cur.lo, cur.lo, cur.block)
	}
	var out []blockRef
	err := s.db.NewRaw("SELECT id, probe, lo_id, hi_id, bloom_hi FROM flow_blocks WHERE "+w.sql()+" ORDER BY lo_id DESC, id DESC", w.args...).Scan(ctx, &out)
	return out, err
}

// scanRange narrows blocks[i] to the rows that can match: all of it, or
// when its filter excludes the IP or port, only the rows written after
// the filter. ok is false when nothing can match.
func (s *Store) scanRange(ctx context.Context, f *flowFilter, blocks []blockRef, i int) (lo, hi int64, ok bool, err error) {
	b := &blocks[i]
	lo, hi = b.LoID, b.HiID
	if f.ip == "" && f.port < 0 {
		return lo, hi, true, nil
	}
	if !b.loaded {
		if err := s.loadBlooms(ctx, blocks, i); err != nil {
			return 0, 0, false, err
		}
	}
	if b.bloom == nil {
		return lo, hi, true, nil
	}
	match := true
	if f.ip != "" && !storedMayContain(b.bloom, ipKey(f.ip)) {
		match = false
	}
	if f.port >= 0 && !storedMayContain(b.bloom, portKey(int32(f.port))) {
		match = false
	}
	if match {
		return lo, hi, true, nil
	}
	if b.BloomHi >= hi {
		return 0, 0, false, nil
	}
	return max(lo, b.BloomHi+1), hi, true, nil
}

// Flows returns a page of flows matching q, newest first (by the order
// they were stored, which follows their end time). The skip index limits
// the rows read to the blocks that can match; see bloom.go.
func (s *Store) Flows(ctx context.Context, q FlowQuery) (FlowPage, error) {
	f, err := q.filter()
	if err != nil {
		return FlowPage{}, err
	}
	var cur *flowCursor
	if q.Cursor != "" {
		c, err := parseFlowCursor(q.Cursor)
		if err != nil {
			return FlowPage{}, err
		}
		cur = &c
	}
	limit := limitOf(q.Limit)
	blocks, err := s.candidateBlocks(ctx, &f, cur)
	if err != nil {
		return FlowPage{}, err
	}
	var page FlowPage
	var lastBlock *blockRef
	for i := range blocks {
		b := &blocks[i]
		lo, hi, ok, err := s.scanRange(ctx, &f, blocks, i)
		if err != nil {
			return FlowPage{}, err
		}
		if !ok {
			continue
		}
		var w where
		w.add("id >= ?", lo)
		w.add("id <= ?", hi)
		w.add("probe = ?", b.Probe)
		if cur != nil && b.ID == cur.block {
			w.add("id < ?", cur.row)
		}
		f.rowConds(&w)
		// One row more than the page holds tells whether a next page
		// exists.
		need := limit + 1 - len(page.Flows)
		var rows []Flow
		if err := s.db.NewSelect().Model(&rows).Where(w.sql(), w.args...).OrderExpr("id DESC").Limit(int64(need)).Scan(ctx); err != nil {
			return FlowPage{}, err
		}
		for j := range rows {
			if len(page.Flows) == limit {
				last := page.Flows[limit-1]
				page.Next = flowCursor{lo: lastBlock.LoID, block: lastBlock.ID, row: last.ID}.String()
				return page, nil
			}
			page.Flows = append(page.Flows, rows[j])
			lastBlock = b
		}
	}
	return page, nil
}
