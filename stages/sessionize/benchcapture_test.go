package sessionize

import (
	"encoding/binary"
	"sync"
	"testing"
	"time"

	"github.com/nfpipe/nfpipe/cmd/pcapgen/gen"
	"github.com/nfpipe/nfpipe/pipeline/event"
	"github.com/nfpipe/nfpipe/stages/decode"
)

// benchCapture returns the decoded packets of a generated capture shaped
// like nfpipe-bench's (one flow per 25 packets, 20,000 open at once,
// about a microsecond apart), a fifth of its size. It is generated once
// per test binary.
var benchCapture = sync.OnceValues(func() ([]event.PacketRec, error) {
	w := &decodingWriter{d: decode.NewDecoder(decode.Options{}), out: make([]event.PacketRec, 0, 1_000_000)}
	if _, err := gen.Generate(w, gen.Config{Packets: 1_000_000, Flows: 40_000, Concurrent: 20_000, Seed: 1}); err != nil {
		return nil, err
	}
	return w.out, nil
})

// decodingWriter takes a classic little-endian microsecond pcap stream
// and decodes its frames as they arrive, keeping only the packets.
type decodingWriter struct {
	d       *decode.Decoder
	buf     []byte
	started bool
	out     []event.PacketRec
}

func (w *decodingWriter) Write(b []byte) (int, error) {
	w.buf = append(w.buf, b...)
	data := w.buf
	if !w.started {
		if len(data) < 24 {
			return len(b), nil
		}
		data, w.started = data[24:], true
	}
	for len(data) >= 16 {
		caplen := int(binary.LittleEndian.Uint32(data[8:]))
		if len(data) < 16+caplen {
			break
		}
		f := event.Frame{
			TS:       event.Time(int64(binary.LittleEndian.Uint32(data[0:]))*1e9 + int64(binary.LittleEndian.Uint32(data[4:]))*1e3),
			WireLen:  binary.LittleEndian.Uint32(data[12:]),
			LinkType: 1,
			Data:     data[16 : 16+caplen],
		}
		var p event.PacketRec
		if w.d.Decode(&f, &p) == decode.OK {
			w.out = append(w.out, p)
		}
		data = data[16+caplen:]
	}
	w.buf = append(w.buf[:0], data...)
	return len(b), nil
}

// BenchmarkBenchCapture feeds the generated capture through AddBatch in
// batches of 256, as the stage does, pass after pass; each pass starts
// later than the last flow's idle timeout, so its first packet ends the
// flows of the pass before, and the table runs at the bench's size.
func BenchmarkBenchCapture(b *testing.B) {
	ps, err := benchCapture()
	if err != nil {
		b.Fatal(err)
	}
	d := &discard{}
	tb := NewTable(DefaultConfig(), d.emit)
	span := ps[len(ps)-1].TS - ps[0].TS + event.Time(DefaultConfig().IdleTimeout+time.Minute)
	pass := func() {
		for i := 0; i < len(ps); i += 256 {
			tb.AddBatch(ps[i:min(i+256, len(ps))])
		}
		for i := range ps {
			ps[i].TS += span
		}
	}
	pass() // grow the table
	b.ReportAllocs()
	b.ResetTimer()
	cpu := startCPU()
	for n := 0; n < b.N; n += len(ps) {
		pass()
	}
	cpu.report(b, "packet")
}
