package capture

import (
	"encoding/binary"
	"fmt"
	"math/bits"

	"github.com/nfpipe/nfpipe/pipeline/event"
)

// This file is an independent reading of well-formed pcap and pcapng
// files, written from the format specifications, to check the readers
// frame by frame. It trusts its input: use it on valid/ and exotic/
// files only.

// oracleFrame is a frame as the oracle reads it; exactTS is false where
// the file's timestamp resolution (2^-30 or finer) makes pcapgo's
// integer scaling inexact.
type oracleFrame struct {
	frameRec
	exactTS bool
}

func oracleRead(data []byte) ([]oracleFrame, error) {
	if len(data) < 4 {
		return nil, fmt.Errorf("too short")
	}
	if binary.LittleEndian.Uint32(data) == magicPcapng {
		return oraclePcapng(data)
	}
	return oraclePcap(data)
}

func oraclePcap(data []byte) ([]oracleFrame, error) {
	var order binary.ByteOrder = binary.LittleEndian
	fracNS := int64(1000)
	switch binary.LittleEndian.Uint32(data) {
	case magicPcapMicroLE:
	case magicPcapMicroBE:
		order = binary.BigEndian
	case magicPcapNanoLE:
		fracNS = 1
	case magicPcapNanoBE:
		order, fracNS = binary.BigEndian, 1
	default:
		return nil, fmt.Errorf("not pcap")
	}
	link := uint16(order.Uint32(data[20:]))
	var out []oracleFrame
	for off := 24; off+16 <= len(data); {
		h := data[off:]
		caplen, wire := int(order.Uint32(h[8:])), order.Uint32(h[12:])
		if off+16+caplen > len(data) {
			return out, fmt.Errorf("record at %d cut short", off)
		}
		ts := int64(order.Uint32(h[0:]))*1e9 + int64(order.Uint32(h[4:]))*fracNS
		out = append(out, oracleFrame{frameRec{event.Time(ts), wire, link, 0, h[16 : 16+caplen]}, true})
		off += 16 + caplen
	}
	return out, nil
}

type oracleIface struct {
	link    uint16
	snaplen uint32
	units   uint64 // timestamp units per second
	binary  bool
	offset  int64 // seconds
}

func oraclePcapng(data []byte) ([]oracleFrame, error) {
	var (
		order  binary.ByteOrder = binary.LittleEndian
		ifaces []oracleIface
		base   int
		lastTS event.Time
		out    []oracleFrame
	)
	for off := 0; off+12 <= len(data); {
		typ := binary.LittleEndian.Uint32(data[off:]) // SHB's type reads the same either way
		if typ == magicPcapng {
			if binary.BigEndian.Uint32(data[off+8:]) == 0x1a2b3c4d {
				order = binary.BigEndian
			} else {
				order = binary.LittleEndian
			}
			base += len(ifaces)
			ifaces = nil
		}
		blen := int(order.Uint32(data[off+4:]))
		if blen < 12 || off+blen > len(data) {
			return out, fmt.Errorf("block at %d: bad length %d", off, blen)
		}
		body := data[off+8 : off+blen-4]
		switch order.Uint32(data[off:]) {
		case 1: // Interface Description Block
			ifc := oracleIface{link: order.Uint16(body), snaplen: order.Uint32(body[4:]), units: 1e6}
			for opts := body[8:]; len(opts) >= 4; {
				code, n := order.Uint16(opts), int(order.Uint16(opts[2:]))
				if code == 0 {
					break
				}
				v := opts[4 : 4+n]
				switch code {
				case 9: // if_tsresol
					ifc.units, ifc.binary = 1, v[0]&0x80 != 0
					for range v[0] & 0x7f {
						if ifc.binary {
							ifc.units *= 2
						} else {
							ifc.units *= 10
						}
					}
				case 14: // if_tsoffset
					ifc.offset = int64(order.Uint64(v))
				}
				opts = opts[4+(n+3)&^3:]
			}
			ifaces = append(ifaces, ifc)
		case 6, 2: // Enhanced Packet Block, obsolete Packet Block
			var id int
			if order.Uint32(data[off:]) == 6 {
				id = int(order.Uint32(body))
			} else {
				id = int(order.Uint16(body))
			}
			ifc := ifaces[id]
			ts := uint64(order.Uint32(body[4:]))<<32 | uint64(order.Uint32(body[8:]))
			caplen, wire := int(order.Uint32(body[12:])), order.Uint32(body[16:])
			hi, lo := bits.Mul64(ts%ifc.units, 1e9)
			frac, _ := bits.Div64(hi, lo, ifc.units)
			t := event.Time((int64(ts/ifc.units)+ifc.offset)*1e9 + int64(frac))
			lastTS = t
			exact := !ifc.binary || ifc.units < 1<<30 // see ngIface
			out = append(out, oracleFrame{frameRec{t, wire, ifc.link, uint16(base + id), body[20 : 20+caplen]}, exact})
		case 3: // Simple Packet Block: first interface, no timestamp
			ifc := ifaces[0]
			wire := order.Uint32(body)
			caplen := wire
			if ifc.snaplen != 0 && caplen > ifc.snaplen {
				caplen = ifc.snaplen
			}
			out = append(out, oracleFrame{frameRec{lastTS, wire, ifc.link, uint16(base), body[4 : 4+caplen]}, true})
		}
		off += blen
	}
	return out, nil
}

// ngBuilder writes little-endian pcapng blocks for tests.
type ngBuilder struct{ buf []byte }

func (b *ngBuilder) u16(v uint16) { b.buf = binary.LittleEndian.AppendUint16(b.buf, v) }
func (b *ngBuilder) u32(v uint32) { b.buf = binary.LittleEndian.AppendUint32(b.buf, v) }

// block appends a block of the given type around body (padded to 4).
func (b *ngBuilder) block(typ uint32, body []byte) {
	for len(body)%4 != 0 {
		body = append(body, 0)
	}
	n := uint32(12 + len(body))
	b.u32(typ)
	b.u32(n)
	b.buf = append(b.buf, body...)
	b.u32(n)
}

func (b *ngBuilder) section() {
	var body ngBuilder
	body.u32(0x1a2b3c4d)
	body.u16(1)
	body.u16(0)
	body.buf = binary.LittleEndian.AppendUint64(body.buf, ^uint64(0))
	b.block(magicPcapng, body.buf)
}

// iface appends an IDB with the given if_tsresol byte.
func (b *ngBuilder) iface(link uint16, tsresol byte) {
	var body ngBuilder
	body.u16(link)
	body.u16(0)
	body.u32(0)
	body.u16(9) // if_tsresol
	body.u16(1)
	body.buf = append(body.buf, tsresol, 0, 0, 0)
	body.u32(0) // opt_endofopt
	b.block(1, body.buf)
}

// packet appends an EPB with a raw timestamp in the interface's units.
func (b *ngBuilder) packet(iface uint32, ts uint64, data []byte) {
	var body ngBuilder
	body.u32(iface)
	body.u32(uint32(ts >> 32))
	body.u32(uint32(ts))
	body.u32(uint32(len(data)))
	body.u32(uint32(len(data)))
	body.buf = append(body.buf, data...)
	b.block(6, body.buf)
}
