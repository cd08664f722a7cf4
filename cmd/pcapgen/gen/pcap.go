package gen

import (
	"bufio"
	"encoding/binary"
	"io"
)

// Classic pcap layout: a 24-byte file header, then per frame a 16-byte
// record header and the frame. Written little-endian; readers detect the
// byte order from the magic.
const (
	pcapHeaderLen   = 24
	pcapRecordLen   = 16
	magicMicro      = 0xa1b2c3d4
	magicNano       = 0xa1b23c4d
	linkTypeEther   = 1
	pcapSnapLen     = 65535
	writeBufferSize = 1 << 20
)

// pcapWriter writes frames to a classic pcap stream without allocating.
type pcapWriter struct {
	w    *bufio.Writer
	nano bool
	rec  [pcapRecordLen]byte
}

func newPcapWriter(w io.Writer, nano bool) (*pcapWriter, error) {
	p := &pcapWriter{w: bufio.NewWriterSize(w, writeBufferSize), nano: nano}
	var h [pcapHeaderLen]byte
	magic := uint32(magicMicro)
	if nano {
		magic = magicNano
	}
	le := binary.LittleEndian
	le.PutUint32(h[0:], magic)
	le.PutUint16(h[4:], 2) // version 2.4
	le.PutUint16(h[6:], 4)
	// h[8:16]: thiszone and sigfigs, zero.
	le.PutUint32(h[16:], pcapSnapLen)
	le.PutUint32(h[20:], linkTypeEther)
	_, err := p.w.Write(h[:])
	return p, err
}

// write appends one frame with its timestamp in Unix nanoseconds.
func (p *pcapWriter) write(ts int64, frame []byte) error {
	le := binary.LittleEndian
	sec, frac := ts/1e9, ts%1e9
	if !p.nano {
		frac /= 1e3
	}
	le.PutUint32(p.rec[0:], uint32(sec))
	le.PutUint32(p.rec[4:], uint32(frac))
	le.PutUint32(p.rec[8:], uint32(len(frame)))
	le.PutUint32(p.rec[12:], uint32(len(frame)))
	if _, err := p.w.Write(p.rec[:]); err != nil {
		return err
	}
	_, err := p.w.Write(frame)
	return err
}

func (p *pcapWriter) flush() error { return p.w.Flush() }
