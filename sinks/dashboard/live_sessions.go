package dashboard

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/nfpipe/nfpipe/pipeline/event"
)

// sessionSorts are the sort keys of /api/sessions.
var sessionSorts = []string{"last_seen", "first_seen", "bytes", "packets", "duration", "client", "server", "port", "proto"}

// sessionStates are the state filter values: active and ended, or a TCP
// state name.
var sessionStates = []string{"active", "ended", "SYN_SENT", "SYN_RECEIVED", "ESTABLISHED", "FIN_WAIT", "CLOSING", "CLOSED", "RESET"}

// flowQuery selects, orders and pages flows.
type flowQuery struct {
	IP      netip.Addr // either end
	Port    int        // either end; -1 for any
	Proto   int        // IP protocol; -1 for any
	State   string
	Country string // either end, alpha-2
	Text    string // free-text search
	Sort    string
	Desc    bool
	Limit   int
	Offset  int
	After   *cursor
}

// cursor is the position after the last row of a page, so the next page
// starts there even while rows move.
type cursor struct {
	Sort string `json:"s"`
	Desc bool   `json:"d"`
	Num  uint64 `json:"n,omitempty"`
	Addr string `json:"a,omitempty"`
	ID   uint64 `json:"i"`
}

func (c *cursor) encode() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (*cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("cursor is not valid: use the next_cursor of a previous response")
	}
	var c cursor
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("cursor is not valid: use the next_cursor of a previous response")
	}
	return &c, nil
}

// sortKey orders rows: by number or address, then by flow id so the
// order is total and a cursor is exact.
type sortKey struct {
	num  uint64
	addr netip.Addr
	id   uint64
}

func (a sortKey) compare(b sortKey) int {
	if c := cmp.Compare(a.num, b.num); c != 0 {
		return c
	}
	if c := a.addr.Compare(b.addr); c != 0 {
		return c
	}
	return cmp.Compare(a.id, b.id)
}

func keyOf(f *event.FlowRec, sort string) sortKey {
	k := sortKey{id: f.ID}
	switch sort {
	case "first_seen":
		k.num = uint64(f.FirstSeen)
	case "bytes":
		k.num = f.Bytes()
	case "packets":
		k.num = f.Packets()
	case "duration":
		k.num = uint64(f.LastSeen - f.FirstSeen)
	case "client":
		k.addr = f.Client.IP.Unmap()
	case "server":
		k.addr = f.Server.IP.Unmap()
	case "port":
		k.num = uint64(f.Server.Port)
	case "proto":
		k.num = uint64(f.Proto)
	default: // last_seen
		k.num = uint64(f.LastSeen)
	}
	return k
}

func (c *cursor) key() sortKey {
	k := sortKey{num: c.Num, id: c.ID}
	if c.Addr != "" {
		k.addr, _ = netip.ParseAddr(c.Addr)
	}
	return k
}

func (q *flowQuery) match(e *flowEntry) bool {
	f := &e.rec
	if q.IP.IsValid() && f.Client.IP.Unmap() != q.IP && f.Server.IP.Unmap() != q.IP {
		return false
	}
	if q.Port >= 0 && int(f.Client.Port) != q.Port && int(f.Server.Port) != q.Port {
		return false
	}
	if q.Proto >= 0 && int(f.Proto) != q.Proto {
		return false
	}
	switch q.State {
	case "":
	case "active":
		if e.ended {
			return false
		}
	case "ended":
		if !e.ended {
			return false
		}
	default:
		if f.Proto != 6 || f.TCPState.String() != q.State {
			return false
		}
	}
	if q.Country != "" && !strings.EqualFold(country(f.Client.Geo), q.Country) && !strings.EqualFold(country(f.Server.Geo), q.Country) {
		return false
	}
	if q.Text != "" && !strings.Contains(searchText(f), q.Text) {
		return false
	}
	return true
}

func country(g *event.Geo) string {
	if g == nil {
		return ""
	}
	return g.CountryCode
}

// searchText is what the free-text search looks in, lower case.
func searchText(f *event.FlowRec) string {
	var b strings.Builder
	b.WriteString(f.Client.IP.Unmap().String())
	b.WriteByte(':')
	b.WriteString(strconv.Itoa(int(f.Client.Port)))
	b.WriteByte(' ')
	b.WriteString(f.Server.IP.Unmap().String())
	b.WriteByte(':')
	b.WriteString(strconv.Itoa(int(f.Server.Port)))
	b.WriteByte(' ')
	b.WriteString(event.ProtoName(f.Proto))
	b.WriteByte(' ')
	b.WriteString(strings.ToLower(f.TCPState.String()))
	for _, g := range []*event.Geo{f.Client.Geo, f.Server.Geo} {
		if g != nil {
			b.WriteByte(' ')
			b.WriteString(strings.ToLower(g.CountryCode + " " + g.Country + " " + g.City + " " + g.ASOrg + " " + g.Label))
		}
	}
	for _, t := range f.Tags {
		b.WriteByte(' ')
		b.WriteString(strings.ToLower(t))
	}
	return b.String()
}

// flowPage is one page of a flow query.
type flowPage struct {
	Total  int // rows matching the filters
	Rows   []event.FlowRec
	Active []bool
	Next   *cursor
}

// sessions runs a query over the live flows.
func (v *liveView) sessions(q *flowQuery) flowPage {
	type row struct {
		k sortKey
		e *flowEntry
	}
	v.mu.RLock()
	defer v.mu.RUnlock()
	rows := make([]row, 0, 256)
	for e := v.head; e != nil; e = e.next {
		if q.match(e) {
			rows = append(rows, row{keyOf(&e.rec, q.Sort), e})
		}
	}
	slices.SortFunc(rows, func(a, b row) int {
		if q.Desc {
			return b.k.compare(a.k)
		}
		return a.k.compare(b.k)
	})
	page := flowPage{Total: len(rows)}
	start := q.Offset
	if q.After != nil {
		ck := q.After.key()
		start, _ = slices.BinarySearchFunc(rows, ck, func(r row, k sortKey) int {
			c := r.k.compare(k)
			if q.Desc {
				c = -c
			}
			if c == 0 {
				return -1 // rows equal to the cursor come before the next page
			}
			return c
		})
	}
	start = min(start, len(rows))
	end := min(start+q.Limit, len(rows))
	for _, r := range rows[start:end] {
		page.Rows = append(page.Rows, r.e.rec)
		page.Active = append(page.Active, !r.e.ended)
	}
	if end < len(rows) && end > start {
		last := rows[end-1].k
		c := &cursor{Sort: q.Sort, Desc: q.Desc, Num: last.num, ID: last.id}
		if last.addr.IsValid() {
			c.Addr = last.addr.String()
		}
		page.Next = c
	}
	return page
}

// peerStat is one peer or port of an address, from its live flows.
type peerStat struct {
	Key   string `json:"key"` // peer address, or "proto/port"
	Bytes uint64 `json:"bytes"`
	Flows uint64 `json:"flows"`
}

// peersOf aggregates the live flows of ip by peer and by server port.
func (v *liveView) peersOf(ip netip.Addr, n int) (peers, ports []peerStat) {
	v.mu.RLock()
	byPeer := map[string]*peerStat{}
	byPort := map[string]*peerStat{}
	for e := v.head; e != nil; e = e.next {
		f := &e.rec
		var peer netip.Addr
		switch ip {
		case f.Client.IP.Unmap():
			peer = f.Server.IP.Unmap()
		case f.Server.IP.Unmap():
			peer = f.Client.IP.Unmap()
		default:
			continue
		}
		bump(byPeer, peer.String(), f.Bytes())
		port := event.ProtoName(f.Proto)
		if f.Proto == 6 || f.Proto == 17 || f.Proto == 132 {
			port += "/" + strconv.Itoa(int(f.Server.Port))
		}
		bump(byPort, port, f.Bytes())
	}
	v.mu.RUnlock()
	return topPeers(byPeer, n), topPeers(byPort, n)
}

func bump(m map[string]*peerStat, k string, bytes uint64) {
	p := m[k]
	if p == nil {
		p = &peerStat{Key: k}
		m[k] = p
	}
	p.Bytes += bytes
	p.Flows++
}

func topPeers(m map[string]*peerStat, n int) []peerStat {
	out := make([]peerStat, 0, len(m))
	for _, p := range m {
		out = append(out, *p)
	}
	slices.SortFunc(out, func(a, b peerStat) int {
		if c := cmp.Compare(b.Bytes, a.Bytes); c != 0 {
			return c
		}
		return cmp.Compare(a.Key, b.Key)
	})
	if len(out) > n {
		out = out[:n]
	}
	return out
}
