package capture

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/nfpipe/nfpipe/pipeline/event"
)

// boundedReader fails a read loop that yields more frames than its input
// could hold, instead of letting it run forever.
type boundedReader struct {
	frameReader
	n, limit int
}

var errTooMany = errors.New("more frames than the input can hold")

func (b *boundedReader) next(f *event.Frame) ([]byte, error) {
	if b.n++; b.n > b.limit {
		return nil, errTooMany
	}
	return b.frameReader.next(f)
}

// FuzzReadCapture feeds arbitrary bytes through format detection, the
// pcap and pcapng readers and the replay loop. They must never panic,
// must yield no more frames than the input can hold (every record or
// block takes at least 8 bytes), and every emitted frame must keep its
// data within its wire length; reading batch by batch (fill) must give
// what reading frame by frame gives.
func FuzzReadCapture(f *testing.F) {
	for _, dir := range []string{"malformed", "truncated", "exotic"} {
		paths, _ := filepath.Glob(filepath.Join(corpus, dir, "*"))
		for _, p := range paths {
			data, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	for _, name := range []string{"malformed/tcpdump_pim_header_asan-2.pcap", "exotic/pcapngtg_le_difficult_test202.pcapng"} {
		data, err := os.ReadFile(filepath.Join(corpus, name))
		if err != nil {
			f.Fatal(err)
		}
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(data)
		zw.Close()
		f.Add(buf.Bytes())
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := openStream(bytes.NewReader(data))
		if err != nil {
			return
		}
		limit := len(data)/8 + 1
		if s.compressed {
			limit = len(data)*1100/8 + 1 // deflate expands at most about 1032 times
		}
		br := &boundedReader{frameReader: s, limit: limit}
		out := newFakeOut()
		out.onEmit = func(b *event.Batch) {
			for _, fr := range b.Frames {
				if len(fr.Data) > int(fr.WireLen) {
					t.Fatalf("frame with %d bytes of data and wire length %d", len(fr.Data), fr.WireLen)
				}
			}
		}
		c := testCounters()
		rp := &replayer{out: out, c: c, size: 64}
		res := rp.pass(context.Background(), br, 0)
		rp.flush()
		if res.err == errTooMany {
			t.Fatalf("more than %d frames from %d bytes", limit, len(data))
		}
		if c.packets.Load() != uint64(out.frames) || res.packets != uint64(out.frames) {
			t.Fatalf("counted %d frames, emitted %d", c.packets.Load(), out.frames)
		}
		if res.err == errTooMany {
			return
		}
		// The stream read through its own fill (a pcap file straight into
		// the batches' arenas) must give the same frames and counts as
		// frame by frame.
		s2, err := openStream(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("second open: %v", err)
		}
		out2 := newFakeOut()
		var wire uint64
		out2.onEmit = func(b *event.Batch) {
			for _, fr := range b.Frames {
				wire += uint64(fr.WireLen)
				if len(fr.Data) > int(fr.WireLen) {
					t.Fatalf("fill: frame with %d bytes of data and wire length %d", len(fr.Data), fr.WireLen)
				}
			}
		}
		c2 := testCounters()
		rp2 := &replayer{out: out2, c: c2, size: 64}
		res2 := rp2.pass(context.Background(), s2, 0)
		rp2.flush()
		if out2.frames != out.frames || c2.bytes.Load() != c.bytes.Load() || wire != c.bytes.Load() ||
			c2.overWire.Load() != c.overWire.Load() || c2.overSnap.Load() != c.overSnap.Load() ||
			(res2.err == nil) != (res.err == nil) || (res2.err != nil && res2.err.Error() != res.err.Error()) {
			t.Fatalf("fill: %d frames, %d bytes, %d over wire, %d over snap, ended with %v; frame by frame: %d, %d, %d, %d, %v",
				out2.frames, c2.bytes.Load(), c2.overWire.Load(), c2.overSnap.Load(), res2.err,
				out.frames, c.bytes.Load(), c.overWire.Load(), c.overSnap.Load(), res.err)
		}
	})
}
