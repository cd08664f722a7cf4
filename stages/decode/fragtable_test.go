package decode

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/nfpipe/nfpipe/pipeline/event"
)

// fragModel is the fragment table's specification written plainly: a map
// plus the insertion order, the oldest entry replaced when full.
type fragModel struct {
	size      int
	timeout   event.Time
	order     []fragKey
	vals      map[fragKey]fragEntry
	evictions uint64
}

func (m *fragModel) put(k fragKey, p *event.PacketRec) {
	if e, ok := m.vals[k]; ok {
		e.ts, e.sport = p.TS, p.SrcPort
		m.vals[k] = e
		return
	}
	if len(m.order) == m.size {
		old := m.order[0]
		m.order = m.order[1:]
		if p.TS-m.vals[old].ts <= m.timeout {
			m.evictions++
		}
		delete(m.vals, old)
	}
	m.order = append(m.order, k)
	m.vals[k] = fragEntry{ts: p.TS, sport: p.SrcPort}
}

func (m *fragModel) get(k fragKey, now event.Time) (uint16, bool) {
	e, ok := m.vals[k]
	if !ok || now-e.ts > m.timeout {
		return 0, false
	}
	return e.sport, true
}

// TestFragTableMatchesModel runs random puts and gets with a small table
// and a small key space, so that buckets chain, entries are replaced and
// expire, and compares every answer with the model.
func TestFragTableMatchesModel(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		rng := rand.New(rand.NewPCG(seed, seed))
		const size = 16
		var tab fragTable
		tab.init(size, time.Second)
		m := &fragModel{size: size, timeout: event.Time(time.Second), vals: map[fragKey]fragEntry{}}
		now := event.Time(0)
		for op := 0; op < 5000; op++ {
			// Mostly forward, sometimes back: merged interfaces.
			now += event.Time(rng.IntN(int(50*time.Millisecond))) - event.Time(5*time.Millisecond)
			k := fragKey{ver: 4, proto: 17, id: uint32(rng.IntN(48))}
			k.src[0] = byte(rng.IntN(2))
			if rng.IntN(2) == 0 {
				p := event.PacketRec{TS: now, SrcPort: uint16(rng.IntN(65536))}
				tab.put(&k, &p)
				m.put(k, &p)
				continue
			}
			want, ok := m.get(k, now)
			e := tab.get(&k, now)
			if ok != (e != nil) || ok && e.sport != want {
				t.Fatalf("seed %d op %d: get(%v) = %+v, model says %d %v", seed, op, k.id, e, want, ok)
			}
		}
		if tab.evictions != m.evictions {
			t.Fatalf("seed %d: %d evictions, model %d", seed, tab.evictions, m.evictions)
		}
	}
}

// fragments returns the first and a later fragment of the UDP datagram in
// valid/zeek_ipv4_fragmented-1.pcap, and a function that sets the IP
// identification and time of a copy.
func fragments(t testing.TB) (first, later event.Frame, with func(f event.Frame, id uint16, ts event.Time) event.Frame) {
	frames := mustRead(t, "valid/zeek_ipv4_fragmented-1.pcap")
	with = func(f event.Frame, id uint16, ts event.Time) event.Frame {
		f.Data = append([]byte(nil), f.Data...)
		binary.BigEndian.PutUint16(f.Data[14+4:], id)
		f.TS = ts
		return f
	}
	return frames[0], frames[1], with
}

func TestFragmentTable(t *testing.T) {
	first, later, with := fragments(t)
	sec := event.Time(time.Second)
	decode := func(d *Decoder, f event.Frame) event.PacketRec {
		t.Helper()
		var p event.PacketRec
		if r := d.Decode(&f, &p); r != OK {
			t.Fatalf("decode: %v", r)
		}
		return p
	}

	t.Run("later fragment before the first", func(t *testing.T) {
		d := NewDecoder(Options{})
		if p := decode(d, with(later, 7, 0)); p.SrcPort != 0 || p.DstPort != 0 || p.Frag != event.FragLater {
			t.Errorf("got %+v, want ports 0", p)
		}
		decode(d, with(first, 7, 1))
		if p := decode(d, with(later, 7, 2)); p.SrcPort != 123 || p.DstPort != 137 {
			t.Errorf("got ports %d>%d, want 123>137", p.SrcPort, p.DstPort)
		}
		if s := d.Stats(); s.Fragments != 3 || s.FragmentsUnmatched != 1 {
			t.Errorf("stats %+v", s)
		}
	})

	t.Run("expiry in packet time", func(t *testing.T) {
		d := NewDecoder(Options{FragmentTimeout: 30 * time.Second})
		decode(d, with(first, 9, 100*sec))
		if p := decode(d, with(later, 9, 130*sec)); p.SrcPort != 123 {
			t.Errorf("at the timeout: ports %d>%d, want 123>137", p.SrcPort, p.DstPort)
		}
		if p := decode(d, with(later, 9, 130*sec+1)); p.SrcPort != 0 {
			t.Errorf("after the timeout: ports %d>%d, want 0", p.SrcPort, p.DstPort)
		}
	})

	t.Run("oldest replaced when full", func(t *testing.T) {
		d := NewDecoder(Options{FragmentTableSize: 16})
		for id := uint16(1); id <= 17; id++ {
			decode(d, with(first, id, event.Time(id)))
		}
		if p := decode(d, with(later, 1, 20)); p.SrcPort != 0 {
			t.Errorf("evicted datagram: ports %d, want 0", p.SrcPort)
		}
		if p := decode(d, with(later, 2, 20)); p.SrcPort != 123 {
			t.Errorf("kept datagram: ports %d, want 123", p.SrcPort)
		}
		if s := d.Stats(); s.FragmentEvictions != 1 || s.FragmentsUnmatched != 1 {
			t.Errorf("stats %+v", s)
		}
	})

	t.Run("other addresses do not match", func(t *testing.T) {
		d := NewDecoder(Options{})
		decode(d, with(first, 5, 0))
		l := with(later, 5, 1)
		l.Data[14+15]++ // last byte of the source address
		if p := decode(d, l); p.SrcPort != 0 {
			t.Errorf("ports %d from another source's datagram", p.SrcPort)
		}
	})
}
