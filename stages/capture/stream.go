package capture

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/nfpipe/nfpipe/pipeline/event"
)

// bufSize is the read buffer of a capture stream. Anything of 4 KiB or
// more makes bufio.NewReader inside pcapgo reuse this buffer instead of
// stacking its own on top; 64 KiB keeps read system calls rare. The pcap
// reader reads past it once it is drained.
const bufSize = 64 << 10

// Magic numbers at the start of the supported formats, read as
// little-endian 32-bit words.
const (
	magicPcapMicroLE = 0xa1b2c3d4 // written on a little-endian host
	magicPcapMicroBE = 0xd4c3b2a1
	magicPcapNanoLE  = 0xa1b23c4d
	magicPcapNanoBE  = 0x4d3cb2a1
	magicPcapng      = 0x0a0d0d0a // a Section Header Block; the same in both byte orders
)

// format is a capture file format.
type format uint8

const (
	formatPcap format = iota + 1
	formatPcapng
)

func (f format) String() string {
	if f == formatPcapng {
		return "pcapng"
	}
	return "pcap"
}

// stream is an opened capture: its format and the reader of its frames.
type stream struct {
	frameReader
	format     format
	compressed bool
	scratch    event.Frame // fill's, for readers without their own
}

// fill reads frames into b: in place if the format's reader can, else
// frame by frame.
func (s *stream) fill(b *event.Batch, n int) error {
	if bf, ok := s.frameReader.(batchFiller); ok {
		return bf.fill(b, n)
	}
	return fillFrames(s.frameReader, &s.scratch, b, n)
}

// openStream detects gzip compression and the capture format from the
// first bytes of src (never from a file name), reads the file header and
// returns a reader positioned at the first record. Its errors say what is
// wrong with the data; the caller adds which file it was.
func openStream(src io.Reader) (*stream, error) {
	cnt := &countingReader{r: src}
	br := bufio.NewReaderSize(cnt, bufSize)
	s := &stream{}
	head, err := br.Peek(2)
	if len(head) == 0 {
		if err != nil && err != io.EOF {
			return nil, err
		}
		return nil, errors.New("the file is empty; give a pcap or pcapng capture")
	}
	if len(head) == 2 && head[0] == 0x1f && head[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("the file starts like gzip but its gzip header is unreadable: %w", err)
		}
		// Count decompressed bytes: the pcap reader checks its position
		// in this stream, not in the file.
		cnt = &countingReader{r: gz}
		br = bufio.NewReaderSize(cnt, bufSize)
		s.compressed = true
	}
	what := "the file"
	if s.compressed {
		what = "the decompressed file"
	}
	magic, err := br.Peek(4)
	if len(magic) < 4 {
		if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
			return nil, fmt.Errorf("cannot read %s: %w", what, err)
		}
		return nil, fmt.Errorf("%s is %d bytes long, too short to be a pcap or pcapng capture", what, len(magic))
	}
	switch binary.LittleEndian.Uint32(magic) {
	case magicPcapMicroLE, magicPcapMicroBE, magicPcapNanoLE, magicPcapNanoBE:
		s.format = formatPcap
		s.frameReader, err = newPcapReader(br, cnt)
	case magicPcapng:
		s.format = formatPcapng
		s.frameReader, err = newNgReader(br)
	default:
		return nil, fmt.Errorf("%s is not a pcap or pcapng capture (it starts with % x); give a .pcap or .pcapng file, optionally gzip-compressed", what, magic)
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

// cutShort reports whether err means the data ended too early.
func cutShort(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}
