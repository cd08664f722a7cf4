package capture

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"math"

	"github.com/gopacket/gopacket/pcapgo"

	"github.com/nfpipe/nfpipe/pipeline/event"
)

// ngIface is what the reader needs per pcapng interface, cached so the
// per-frame path does not copy pcapgo's interface records.
type ngIface struct {
	linkType uint16
	snaplen  uint32
	// For a binary timestamp resolution 2^-binExp with binExp from 10 to
	// 29, pcapgo multiplies the fraction by binScale = 1e9>>binExp, which
	// truncates (2^-20 gives 953 ns per unit instead of 953.67). Dividing
	// by binScale recovers the exact fraction. binScale is 0 otherwise.
	binScale uint64
	binExp   uint8
}

// ngReader reads pcapng files with pcapgo.
//
// Every frame carries the link type of its own interface. Interface ids
// restart in each section of a multi-section file; Frame.Iface numbers
// the interfaces of the whole file in order (the first interface of the
// second section follows the last one of the first), so frames from
// different sections never share an Iface. Simple Packet Blocks have no
// timestamp: their frames get the timestamp of the frame before them, so
// packet time never jumps back to zero. Timestamps are exact for decimal
// resolutions and for binary ones up to 2^-29; for 2^-30 and finer,
// pcapgo's integer scaling can be off by up to 7% of the sub-second part
// (about 2^-30 to 2^-33; under 1% from 2^-34), which no known capture
// tool writes.
type ngReader struct {
	r        *pcapgo.NgReader
	ifaces   []ngIface // interfaces of the current section seen so far
	base     int       // Iface of the current section's first interface
	lastTS   event.Time
	overSnap uint64
}

func newNgReader(br *bufio.Reader) (*ngReader, error) {
	// pcapgo skips sections of an unknown version (as the format
	// says to) but then reports the first section's problem as a bare
	// end of file, so check the first section's version here.
	if h, _ := br.Peek(16); len(h) == 16 {
		order := binary.ByteOrder(binary.LittleEndian)
		if binary.BigEndian.Uint32(h[8:]) == 0x1a2b3c4d {
			order = binary.BigEndian
		}
		if major, minor := order.Uint16(h[12:]), order.Uint16(h[14:]); major != 1 || minor != 0 {
			return nil, fmt.Errorf("unsupported pcapng version %d.%d; only version 1.0 exists", major, minor)
		}
	}
	n := &ngReader{}
	// WantMixedLinkType keeps frames of every interface (without it
	// pcapgo drops those whose link type differs from the first
	// interface's). It makes pcapgo box each frame's link type into an
	// interface value, which allocates 2 bytes per frame for link types
	// of 256 and above (LINUX_SLL2 is 276); smaller ones are free.
	r, err := pcapgo.NewNgReader(br, pcapgo.NgReaderOptions{
		WantMixedLinkType:  true,
		SkipUnknownVersion: true,
		SectionEndCallback: n.endSection,
	})
	if err != nil {
		if cutShort(err) {
			return nil, fmt.Errorf("the pcapng section header is cut short")
		}
		return nil, fmt.Errorf("invalid pcapng section header: %w", err)
	}
	n.r = r
	return n, nil
}

// endSection is called by pcapgo when a new section begins.
func (n *ngReader) endSection(ifaces []pcapgo.NgInterface, _ pcapgo.NgSectionInfo) {
	n.base += len(ifaces)
	n.ifaces = n.ifaces[:0]
}

func (n *ngReader) next(f *event.Frame) ([]byte, error) {
	data, ci, err := n.r.ZeroCopyReadPacketData()
	if err != nil {
		return nil, err
	}
	id := ci.InterfaceIndex
	if id >= len(n.ifaces) {
		n.loadIfaces()
		if id < 0 || id >= len(n.ifaces) {
			// pcapgo checks the id; this guards against a change there.
			return nil, fmt.Errorf("packet for interface %d, but the section has %d", id, len(n.ifaces))
		}
	}
	ifc := n.ifaces[id]
	switch {
	case ci.Timestamp.IsZero():
		f.TS = n.lastTS // a Simple Packet Block
	case ifc.binScale != 0:
		frac := uint64(ci.Timestamp.Nanosecond()) / ifc.binScale
		f.TS = event.Time(ci.Timestamp.Unix()*1e9 + int64(frac*1e9>>ifc.binExp))
		n.lastTS = f.TS
	default:
		f.TS = event.Time(ci.Timestamp.UnixNano())
		n.lastTS = f.TS
	}
	f.WireLen = uint32(ci.Length)
	f.LinkType = ifc.linkType
	f.Iface = uint16(min(n.base+id, math.MaxUint16))
	if ifc.snaplen != 0 && uint32(len(data)) > ifc.snaplen {
		n.overSnap++
	}
	return data, nil
}

// loadIfaces caches the interfaces pcapgo has read since the last call.
func (n *ngReader) loadIfaces() {
	for i := len(n.ifaces); i < n.r.NInterfaces(); i++ {
		ifc, err := n.r.Interface(i)
		if err != nil {
			return
		}
		c := ngIface{linkType: uint16(ifc.LinkType), snaplen: ifc.SnapLength}
		if res := ifc.TimestampResolution; res.Binary() && res.Exponent() >= 10 && res.Exponent() < 30 {
			c.binExp = res.Exponent()
			c.binScale = 1e9 >> c.binExp
		}
		n.ifaces = append(n.ifaces, c)
	}
}

func (n *ngReader) oversized() uint64 { return n.overSnap }
