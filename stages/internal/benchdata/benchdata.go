// Package benchdata gives the stages' benchmarks the packets of the
// capture nfpipe-bench measures: the generator's capture, decoded by the
// decode stage's decoder, held in memory so that a benchmark times its
// own stage only.
package benchdata

import (
	"encoding/binary"
	"fmt"

	"github.com/nfpipe/nfpipe/cmd/pcapgen/gen"
	"github.com/nfpipe/nfpipe/pipeline/event"
	"github.com/nfpipe/nfpipe/stages/decode"
)

// Fifth is the nfpipe-bench capture's shape at a fifth of its size: one
// flow per 25 packets, 20,000 open at once, about a microsecond apart.
var Fifth = gen.Config{Packets: 1_000_000, Flows: 40_000, Concurrent: 20_000, Seed: 1}

// Full is the nfpipe-bench capture itself: 5,000,000 packets of 200,000
// flows. Generating it takes a few seconds and about a gigabyte.
var Full = gen.Config{Packets: 5_000_000, Flows: 200_000, Concurrent: 20_000, Seed: 1}

// Packets generates the capture cfg describes and returns its decoded
// packets, in capture order. Every frame the generator writes decodes,
// so a count that differs from the generator's is an error.
func Packets(cfg gen.Config) ([]event.PacketRec, error) {
	w := &decodingWriter{d: decode.NewDecoder(decode.Options{}), out: make([]event.PacketRec, 0, cfg.Packets)}
	truth, err := gen.Generate(w, cfg)
	if err != nil {
		return nil, err
	}
	if uint64(len(w.out)) != truth.Packets {
		return nil, fmt.Errorf("decoded %d of the %d generated packets", len(w.out), truth.Packets)
	}
	return w.out, nil
}

// decodingWriter takes the generator's classic little-endian microsecond
// pcap stream and decodes its frames as they arrive, keeping only the
// packets.
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
