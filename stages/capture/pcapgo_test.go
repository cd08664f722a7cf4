package capture

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/gopacket/gopacket/pcapgo"

	"github.com/nfpipe/nfpipe/pipeline/event"
)

// pcapgoReader is how classic pcap files were read before pcapReader:
// through pcapgo. It stays as the reference pcapReader is compared with
// (TestPcapReaderMatchesPcapgo, FuzzPcapReaderMatchesPcapgo).
//
// pcapgo rejects a record whose captured length exceeds its original
// length and then stops in the middle of it, so the rest of the file is
// lost. Such records come from buggy writers and fuzzers; tcpdump and
// Wireshark read them. When pcapgo reads straight from our buffered
// stream (checked when the file is opened), pcapgoReader peeks at each
// record header and reads those records itself, keeping the stream in
// step; the replay loop then counts them and raises their wire length to
// the captured length.
type pcapgoReader struct {
	r        *pcapgo.Reader
	br       *bufio.Reader // pcapgo's stream, or nil if peeking is not safe
	order    binary.ByteOrder
	fracNS   int64 // nanoseconds per unit of the timestamp fraction
	snaplen  uint32
	linkType uint16
	own      []byte // buffer for the records read here
	overSnap uint64
}

func newPcapgoReader(br *bufio.Reader, cnt *countingReader) (*pcapgoReader, error) {
	head, _ := br.Peek(4)
	p := &pcapgoReader{order: binary.LittleEndian, fracNS: 1000}
	switch binary.LittleEndian.Uint32(head) {
	case magicPcapMicroBE:
		p.order = binary.BigEndian
	case magicPcapNanoLE:
		p.fracNS = 1
	case magicPcapNanoBE:
		p.order, p.fracNS = binary.BigEndian, 1
	}
	before := cnt.n - int64(br.Buffered())
	r, err := pcapgo.NewReader(br)
	if err != nil {
		if cutShort(err) {
			return nil, fmt.Errorf("the pcap file header is cut short (a pcap file starts with %d header bytes)", pcapHeaderLen)
		}
		return nil, fmt.Errorf("invalid pcap file header: %w", err)
	}
	p.r = r
	p.snaplen = r.Snaplen()
	// The low 16 bits are the link type; libpcap keeps FCS information
	// in the upper bits.
	p.linkType = uint16(r.LinkType())
	if cnt.n-int64(br.Buffered())-before == pcapHeaderLen {
		p.br = br
	}
	return p, nil
}

func (p *pcapgoReader) next(f *event.Frame) ([]byte, error) {
	if p.br != nil {
		if h, err := p.br.Peek(pcapRecordLen); err == nil {
			caplen, wire := p.order.Uint32(h[8:]), p.order.Uint32(h[12:])
			if caplen > wire && caplen <= maxOwnRecord {
				return p.readRecord(f, h, caplen, wire)
			}
		}
	}
	data, ci, err := p.r.ZeroCopyReadPacketData()
	if err != nil {
		if err == io.EOF && ci.CaptureLength > 0 {
			// pcapgo read the record header, then found no data at all,
			// and reports that as a clean end: it is a cut.
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	f.TS = event.Time(ci.Timestamp.UnixNano())
	f.WireLen = uint32(ci.Length)
	f.LinkType = p.linkType
	f.Iface = 0
	if p.snaplen != 0 && uint32(len(data)) > p.snaplen {
		p.overSnap++
	}
	return data, nil
}

// readRecord reads a record pcapgo would reject, whose header h has been
// peeked.
func (p *pcapgoReader) readRecord(f *event.Frame, h []byte, caplen, wire uint32) ([]byte, error) {
	sec, frac := int64(p.order.Uint32(h[0:])), int64(p.order.Uint32(h[4:]))
	if _, err := p.br.Discard(pcapRecordLen); err != nil {
		return nil, err
	}
	if uint32(cap(p.own)) < caplen {
		p.own = make([]byte, caplen)
	}
	data := p.own[:caplen]
	if _, err := io.ReadFull(p.br, data); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	f.TS = event.Time(sec*1e9 + frac*p.fracNS)
	f.WireLen = wire
	f.LinkType = p.linkType
	f.Iface = 0
	if p.snaplen != 0 && caplen > p.snaplen {
		p.overSnap++
	}
	return data, nil
}

func (p *pcapgoReader) oversized() uint64 { return p.overSnap }
