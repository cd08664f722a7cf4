package capture

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nfpipe/nfpipe/pipeline/event"
)

// readOutcome is everything a reader yields from one file.
type readOutcome struct {
	frames    []frameRec
	err       error
	oversized uint64
}

// openPcapgo opens data (pcap, maybe gzip-compressed) with the pcapgo
// reader the way openStream opens it for pcapReader.
func openPcapgo(data []byte) (*pcapgoReader, error) {
	cnt := &countingReader{r: bytes.NewReader(data)}
	br := bufio.NewReaderSize(cnt, bufSize)
	if h, _ := br.Peek(2); len(h) == 2 && h[0] == 0x1f && h[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return nil, err
		}
		cnt = &countingReader{r: gz}
		br = bufio.NewReaderSize(cnt, bufSize)
	}
	return newPcapgoReader(br, cnt)
}

// openPcap opens data with openStream and returns its pcap reader, or
// nil if it is not a pcap stream.
func openPcap(data []byte) (*pcapReader, error) {
	s, err := openStream(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	pr, _ := s.frameReader.(*pcapReader)
	return pr, nil
}

// readNext reads r to its end frame by frame, at most limit frames.
func readNext(r frameReader, limit int) readOutcome {
	var out readOutcome
	var f event.Frame
	for len(out.frames) < limit {
		data, err := r.next(&f)
		if err != nil {
			out.err = err
			break
		}
		out.frames = append(out.frames, frameRec{f.TS, f.WireLen, f.LinkType, f.Iface, bytes.Clone(data)})
	}
	out.oversized = r.oversized()
	return out
}

// readFill reads r to its end with fill, in batches whose sizes cycle
// through sizes, reusing three batches as a pool does. Two of every three
// batches start with a frame left from before, as a looped replay's batch
// does at the start of a pass, whose bytes must survive the fill; one of
// them has room in its arena, the other has not.
func readFill(t testing.TB, r *pcapReader, sizes []int, limit int) readOutcome {
	var out readOutcome
	batches := [3]*event.Batch{event.NewBatch(event.Raw), event.NewBatch(event.Raw), event.NewBatch(event.Raw)}
	old := []byte("left from the previous pass")
	for i := 0; len(out.frames) < limit; i++ {
		b := batches[i%3]
		b.Frames, b.Arena = b.Frames[:0], b.Arena[:0]
		from := 0
		switch i % 3 {
		case 1:
			if cap(b.Arena) < 200<<10 {
				b.Arena = make([]byte, 0, 200<<10)
			}
			fallthrough
		case 2:
			b.AddFrame(event.Frame{WireLen: uint32(len(old))}, old)
			from = 1
		}
		n := sizes[i%len(sizes)] + from
		err := r.fill(b, n)
		if err == nil && len(b.Frames) == 0 {
			t.Fatalf("fill returned no frame and no error")
		}
		if len(b.Frames) > n {
			t.Fatalf("fill returned %d frames, asked for at most %d", len(b.Frames), n)
		}
		if from == 1 && !bytes.Equal(b.Frames[0].Data, old) {
			t.Fatalf("fill overwrote a frame already in the batch")
		}
		for _, f := range b.Frames[from:] {
			if len(out.frames) == limit {
				break
			}
			out.frames = append(out.frames, frameRec{f.TS, f.WireLen, f.LinkType, f.Iface, bytes.Clone(f.Data)})
		}
		if err != nil {
			out.err = err
			break
		}
	}
	out.oversized = r.oversized()
	return out
}

// sameOutcome fails the test if two readings differ: frames, the error
// that ended them (identical sentinel values, or the same message) and
// the oversized count.
func sameOutcome(t testing.TB, what string, got, want readOutcome) {
	t.Helper()
	if len(got.frames) != len(want.frames) {
		t.Fatalf("%s: %d frames (ended with %v), pcapgo %d (ended with %v)", what, len(got.frames), got.err, len(want.frames), want.err)
	}
	for i, w := range want.frames {
		g := got.frames[i]
		if g.TS != w.TS || g.WireLen != w.WireLen || g.LinkType != w.LinkType || g.Iface != w.Iface || !bytes.Equal(g.Data, w.Data) {
			t.Fatalf("%s: frame %d: got ts %d wire %d link %d caplen %d; pcapgo ts %d wire %d link %d caplen %d",
				what, i, g.TS, g.WireLen, g.LinkType, len(g.Data), w.TS, w.WireLen, w.LinkType, len(w.Data))
		}
	}
	sameErr := got.err == want.err || (got.err != nil && want.err != nil && got.err.Error() == want.err.Error() &&
		got.err != io.EOF && want.err != io.EOF && got.err != io.ErrUnexpectedEOF && want.err != io.ErrUnexpectedEOF)
	if !sameErr {
		t.Fatalf("%s: ended with %v, pcapgo with %v", what, got.err, want.err)
	}
	if got.oversized != want.oversized {
		t.Fatalf("%s: %d oversized frames, pcapgo %d", what, got.oversized, want.oversized)
	}
}

// comparePcap reads data with pcapgo, with pcapReader frame by frame and
// with pcapReader in batches of several sizes, and fails on any
// difference. It reports false if data is not a pcap file both open.
func comparePcap(t testing.TB, data []byte, limit int) bool {
	t.Helper()
	pr, err := openPcap(data)
	if err != nil {
		// Not a capture, or a pcap file whose header is bad: pcapgo
		// must refuse the latter too.
		if strings.Contains(err.Error(), "pcap file header") {
			if _, refErr := openPcapgo(data); refErr == nil {
				t.Fatalf("open: %v; pcapgo opened it", err)
			}
		}
		return false
	}
	if pr == nil {
		return false // pcapng
	}
	ref, err := openPcapgo(data)
	if err != nil {
		t.Fatalf("pcapgo cannot open what pcapReader opened: %v", err)
	}
	want := readNext(ref, limit)
	sameOutcome(t, "next", readNext(pr, limit), want)
	for _, sizes := range [][]int{{256}, {1}, {3, 64, 7}} {
		pr, err := openPcap(data)
		if err != nil {
			t.Fatal(err)
		}
		sameOutcome(t, fmt.Sprintf("fill %v", sizes), readFill(t, pr, sizes, limit), want)
	}
	// Frame by frame after a batch: the reader allows it (a paced pass
	// reads frame by frame, a full-speed one in batches).
	pr, _ = openPcap(data)
	b := event.NewBatch(event.Raw)
	mixed := readOutcome{err: pr.fill(b, 5)}
	for _, f := range b.Frames {
		mixed.frames = append(mixed.frames, frameRec{f.TS, f.WireLen, f.LinkType, f.Iface, bytes.Clone(f.Data)})
	}
	if mixed.err == nil {
		rest := readNext(pr, limit)
		mixed.frames, mixed.err = append(mixed.frames, rest.frames...), rest.err
	}
	mixed.oversized = pr.oversized()
	if len(mixed.frames) > limit {
		mixed.frames = mixed.frames[:limit]
	}
	sameOutcome(t, "fill then next", mixed, want)
	return true
}

// pcapFile builds a pcap file: little-endian microsecond unless big,
// with the given snaplen and records.
type pcapFile struct {
	big     bool
	nano    bool
	snaplen uint32
	buf     []byte
}

func (p *pcapFile) order() binary.AppendByteOrder {
	if p.big {
		return binary.BigEndian
	}
	return binary.LittleEndian
}

func (p *pcapFile) header() *pcapFile {
	magic := uint32(0xa1b2c3d4)
	if p.nano {
		magic = 0xa1b23c4d
	}
	o := p.order()
	p.buf = o.AppendUint32(p.buf, magic)
	p.buf = o.AppendUint16(p.buf, 2)
	p.buf = o.AppendUint16(p.buf, 4)
	p.buf = append(p.buf, make([]byte, 8)...)
	p.buf = o.AppendUint32(p.buf, p.snaplen)
	p.buf = o.AppendUint32(p.buf, 1)
	return p
}

// record appends a record claiming caplen and wire, with data of len(data)
// (which may differ from caplen to make a damaged record).
func (p *pcapFile) record(sec, frac, caplen, wire uint32, data []byte) *pcapFile {
	o := p.order()
	p.buf = o.AppendUint32(p.buf, sec)
	p.buf = o.AppendUint32(p.buf, frac)
	p.buf = o.AppendUint32(p.buf, caplen)
	p.buf = o.AppendUint32(p.buf, wire)
	p.buf = append(p.buf, data...)
	return p
}

func frameBytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + n)
	}
	return b
}

// syntheticPcaps are files that exercise every branch of the reader:
// both byte orders and resolutions, records longer than the snapshot
// length, than the original length, than 262144 bytes, than an arena,
// bogus lengths and invalid fractions.
func syntheticPcaps() map[string][]byte {
	out := map[string][]byte{}
	mixed := func(big, nano bool) []byte {
		p := (&pcapFile{big: big, nano: nano, snaplen: 65535}).header()
		for i := range 3000 {
			n := 60 + (i*131)%1455
			p.record(1_700_000_000+uint32(i/100), uint32(i*37)%1_000_000, uint32(n), uint32(n+i%3), frameBytes(n))
		}
		return p.buf
	}
	out["mixed-le-micro"] = mixed(false, false)
	out["mixed-be-nano"] = mixed(true, true)
	small := (&pcapFile{snaplen: 128}).header()
	for i := range 50 {
		n := 100 + i*20 // beyond the snaplen from the third record on
		small.record(1, uint32(i), uint32(n), uint32(n), frameBytes(n))
	}
	out["caplen>snaplen"] = small.buf
	over := (&pcapFile{snaplen: 65535}).header().
		record(1, 2, 100, 60, frameBytes(100)).
		record(1, 3, 60, 60, frameBytes(60)).
		record(1, 4_500_000, 70, 10, frameBytes(70)). // invalid fraction, caplen > wire
		record(1, 4_500_000, 60, 60, frameBytes(60)). // invalid fraction
		record(1, 5, 262144, 1000, frameBytes(262144)).
		record(1, 6, 64, 64, frameBytes(64))
	out["caplen>wire"] = over.buf
	big := (&pcapFile{snaplen: 262144}).header()
	for i := range 40 {
		n := 70000 + i*4000 // longer than the smallest arena
		big.record(2, uint32(i), uint32(n), uint32(n), frameBytes(n))
		big.record(2, uint32(i), 60, 60, frameBytes(60))
	}
	out["long records"] = big.buf
	out["too long for max snaplen"] = (&pcapFile{snaplen: 65535}).header().
		record(1, 1, 60, 60, frameBytes(60)).
		record(1, 2, 262145, 262145, frameBytes(100)).buf
	out["huge snaplen, caplen>wire"] = (&pcapFile{snaplen: 1 << 30}).header().
		record(1, 1, 60, 60, frameBytes(60)).
		record(1, 2, 300000, 200, frameBytes(100)).buf
	out["huge snaplen, long record"] = (&pcapFile{snaplen: 1 << 30}).header().
		record(1, 1, 300000, 300000, frameBytes(300000)).
		record(1, 2, 60, 60, frameBytes(60)).buf
	out["bogus length"] = (&pcapFile{snaplen: 0xffffffff}).header().
		record(1, 1, 60, 60, frameBytes(60)).
		record(1, 2, 0xfffffff0, 0xfffffff0, frameBytes(1000)).buf
	out["empty records"] = (&pcapFile{snaplen: 65535}).header().
		record(1, 1, 0, 0, nil).
		record(1, 2, 0, 60, nil).
		record(1, 3, 60, 60, frameBytes(60)).buf
	out["no records"] = (&pcapFile{snaplen: 65535}).header().buf
	return out
}

// TestPcapReaderMatchesPcapgo reads every classic pcap file of the
// corpus, the synthetic files, gzip-compressed copies and every
// truncation of a small file with pcapReader (frame by frame and in
// batches of several sizes) and with pcapgo, and requires the same
// frames, the same end and the same counts.
func TestPcapReaderMatchesPcapgo(t *testing.T) {
	files := map[string][]byte{}
	for _, row := range loadIndex(t) {
		data, err := os.ReadFile(row.path())
		if err != nil {
			t.Fatal(err)
		}
		files[row.file] = data
	}
	for name, data := range syntheticPcaps() {
		files[name] = data
	}
	compressed := map[string][]byte{}
	for name, data := range files {
		if len(data) > 0 && len(data) < 1<<20 {
			var buf bytes.Buffer
			zw := gzip.NewWriter(&buf)
			zw.Write(data)
			zw.Close()
			compressed[name+".gz"] = buf.Bytes()
			compressed[name+".gz cut"] = buf.Bytes()[:buf.Len()*2/3]
		}
	}
	maps.Copy(files, compressed)
	compared := 0
	for name, data := range files {
		t.Run(filepath.ToSlash(name), func(t *testing.T) {
			if comparePcap(t, data, 1<<30) {
				compared++
			}
		})
	}
	if compared < 150 {
		t.Errorf("only %d files compared", compared)
	}
	whole := syntheticPcaps()["caplen>wire"]
	for cut := 0; cut < len(whole); cut += 1 + cut/64 {
		t.Run(fmt.Sprintf("cut at %d", cut), func(t *testing.T) {
			comparePcap(t, whole[:cut], 1<<30)
		})
	}
}

// FuzzPcapReaderMatchesPcapgo: on any input, pcapReader reads what
// pcapgo reads.
func FuzzPcapReaderMatchesPcapgo(f *testing.F) {
	for _, dir := range []string{"valid", "malformed", "truncated", "exotic"} {
		paths, _ := filepath.Glob(filepath.Join(corpus, dir, "*.pcap"))
		for _, p := range paths {
			if data, err := os.ReadFile(p); err == nil && len(data) < 64<<10 {
				f.Add(data)
			}
		}
	}
	for _, data := range syntheticPcaps() {
		if len(data) < 64<<10 {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		comparePcap(t, data, len(data)/16+1)
	})
}

// BenchmarkPcapRead compares reading a generated 10,000-frame pcap file
// from memory into batches: pcapgo plus a copy into the arena, as the
// source read before, against pcapReader's fill. One op is one frame.
func BenchmarkPcapRead(b *testing.B) {
	data := genCapture(b, formatPcap, 10000)
	run := func(b *testing.B, open func() frameReader, read func(r frameReader, bt *event.Batch) error) {
		bt := event.NewBatch(event.Raw)
		b.SetBytes(int64(len(data)) / 10000)
		b.ReportAllocs()
		b.ResetTimer()
		for n := 0; n < b.N; {
			r := open()
			for n < b.N {
				bt.Frames, bt.Arena = bt.Frames[:0], bt.Arena[:0]
				err := read(r, bt)
				n += len(bt.Frames)
				if err != nil {
					break
				}
			}
		}
	}
	b.Run("pcapgo", func(b *testing.B) {
		var f event.Frame
		run(b, func() frameReader {
			r, err := openPcapgo(data)
			if err != nil {
				b.Fatal(err)
			}
			return r
		}, func(r frameReader, bt *event.Batch) error { return fillFrames(r, &f, bt, 256) })
	})
	b.Run("pcapReader", func(b *testing.B) {
		run(b, func() frameReader {
			r, err := openPcap(data)
			if err != nil {
				b.Fatal(err)
			}
			return r
		}, func(r frameReader, bt *event.Batch) error { return r.(*pcapReader).fill(bt, 256) })
	})
}
