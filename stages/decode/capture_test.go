package decode

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/nfpipe/nfpipe/pipeline/event"
)

// corpus is the shared capture corpus (see its README and INDEX.csv).
const corpus = "../../testdata/corpus"

// readCapture reads every frame of a corpus capture with pcapgo.
// Malformed files end with a read error; the frames read before it are
// returned with that error. A missing file fails the test.
func readCapture(t testing.TB, name string) ([]event.Frame, error) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(corpus, name))
	if err != nil {
		t.Fatal(err)
	}
	return parseCapture(raw)
}

// parseCapture reads a pcap or pcapng file held in memory.
func parseCapture(raw []byte) ([]event.Frame, error) {
	var frames []event.Frame
	add := func(data []byte, ts int64, wire int, link layers.LinkType, iface int) {
		frames = append(frames, event.Frame{
			TS: event.Time(ts), WireLen: uint32(wire), LinkType: uint16(link),
			Iface: uint16(iface), Data: bytes.Clone(data),
		})
	}
	if len(raw) >= 4 && binary.LittleEndian.Uint32(raw) == 0x0a0d0d0a {
		r, err := pcapgo.NewNgReader(bufio.NewReader(bytes.NewReader(raw)), pcapgo.NgReaderOptions{WantMixedLinkType: true})
		if err != nil {
			return nil, err
		}
		for {
			data, ci, err := r.ReadPacketData()
			if err != nil {
				return frames, eofIsNil(err)
			}
			link := r.LinkType()
			if len(ci.AncillaryData) > 0 {
				if l, ok := ci.AncillaryData[0].(layers.LinkType); ok {
					link = l
				}
			}
			add(data, ci.Timestamp.UnixNano(), ci.Length, link, ci.InterfaceIndex)
		}
	}
	r, err := pcapgo.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	for {
		data, ci, err := r.ReadPacketData()
		if err != nil {
			return frames, eofIsNil(err)
		}
		add(data, ci.Timestamp.UnixNano(), ci.Length, r.LinkType(), 0)
	}
}

func eofIsNil(err error) error {
	if errors.Is(err, io.EOF) {
		return nil
	}
	return err
}

// mustRead reads a capture that must read without error.
func mustRead(t testing.TB, name string) []event.Frame {
	t.Helper()
	frames, err := readCapture(t, name)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if len(frames) == 0 {
		t.Fatalf("%s: no frames", name)
	}
	return frames
}

// corpusFiles lists the capture files of a corpus folder.
func corpusFiles(t testing.TB, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(corpus, dir))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if !e.IsDir() {
			out = append(out, dir+"/"+e.Name())
		}
	}
	if len(out) == 0 {
		t.Fatalf("no files in %s", dir)
	}
	return out
}
