package ipstats

import (
	"encoding/csv"
	"errors"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/nfpipe/nfpipe/pipeline/event"
)

const corpus = "../../testdata/corpus"

// readPcap decodes a capture with gopacket, independently of nfpipe's own
// decoder, into packet records: the outermost IP header's addresses and
// the first TCP or UDP header's ports. Frames without IP come back with
// invalid addresses.
func readPcap(t *testing.T, name string) []event.PacketRec {
	t.Helper()
	f, err := os.Open(filepath.Join(corpus, name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var out []event.PacketRec
	for {
		data, ci, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		p := event.PacketRec{TS: event.TimeOf(ci.Timestamp), WireLen: uint32(ci.Length), CapLen: uint32(ci.CaptureLength)}
		pk := gopacket.NewPacket(data, r.LinkType(), gopacket.Default)
		switch ip := pk.NetworkLayer().(type) {
		case *layers.IPv4:
			p.Src, _ = netip.AddrFromSlice(ip.SrcIP.To4())
			p.Dst, _ = netip.AddrFromSlice(ip.DstIP.To4())
			p.Proto, p.IPVer = uint8(ip.Protocol), 4
		case *layers.IPv6:
			p.Src, _ = netip.AddrFromSlice(ip.SrcIP)
			p.Dst, _ = netip.AddrFromSlice(ip.DstIP)
			p.Proto, p.IPVer = uint8(ip.NextHeader), 6
		}
		switch l4 := pk.TransportLayer().(type) {
		case *layers.TCP:
			p.SrcPort, p.DstPort = uint16(l4.SrcPort), uint16(l4.DstPort)
			if l4.SYN {
				p.TCPFlags |= event.FlagSYN
			}
			if l4.ACK {
				p.TCPFlags |= event.FlagACK
			}
		case *layers.UDP:
			p.SrcPort, p.DstPort = uint16(l4.SrcPort), uint16(l4.DstPort)
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		t.Fatalf("%s: no packets", name)
	}
	return out
}

// totals sums records over every interval, per address.
func totals(recs []event.IPStatRec) map[string]*event.IPStatRec {
	m := map[string]*event.IPStatRec{}
	for _, r := range recs {
		s := m[r.IP.String()]
		if s == nil {
			s = &event.IPStatRec{IP: r.IP}
			m[r.IP.String()] = s
		}
		s.BytesIn += r.BytesIn
		s.BytesOut += r.BytesOut
		s.PacketsIn += r.PacketsIn
		s.PacketsOut += r.PacketsOut
		s.Flows += r.Flows
	}
	return m
}

func TestCaptureTotalsMatchWireLengths(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(corpus, "valid", "*.pcap"))
	if err != nil || len(files) < 10 {
		t.Fatalf("corpus not found: %v (%d files)", err, len(files))
	}
	for _, path := range files {
		name, _ := filepath.Rel(corpus, path)
		t.Run(filepath.Base(name), func(t *testing.T) {
			pkts := readPcap(t, name)
			var ipBytes, ipPkts uint64
			for _, p := range pkts {
				if p.Src.IsValid() {
					ipBytes += uint64(p.WireLen)
					ipPkts++
				}
			}
			c := &collector{}
			tb := newTable(int64(time.Second), 0, 1_000_000, 1_000_000, c)
			addAll(tb, pkts...)
			tb.finish()
			var in, out, pin, pout uint64
			for _, r := range c.recs {
				in += r.BytesIn
				out += r.BytesOut
				pin += r.PacketsIn
				pout += r.PacketsOut
			}
			if out != ipBytes || in != ipBytes || pout != ipPkts || pin != ipPkts {
				t.Errorf("bytes out/in %d/%d, packets out/in %d/%d; the capture has %d IP packets of %d bytes", out, in, pout, pin, ipPkts, ipBytes)
			}
			if tb.cnt.nonIP != uint64(len(pkts))-ipPkts {
				t.Errorf("non_ip = %d, want %d", tb.cnt.nonIP, uint64(len(pkts))-ipPkts)
			}
		})
	}
}

// TestHTTPSessionMatchesTshark checks one TCP session against tshark's
// conversation table in expected-conv.csv: exact bytes and packets per
// direction, one flow started by the client.
func TestHTTPSessionMatchesTshark(t *testing.T) {
	const name = "valid/zeek_http_get.pcap"
	row := convRow(t, name)
	c := &collector{}
	// One long interval so the session is not split.
	tb := newTable(int64(24*time.Hour), 0, 100, 100, c)
	pkts := readPcap(t, name)
	addAll(tb, pkts...)
	tb.finish()
	got := totals(c.recs)
	if len(got) != 2 {
		t.Fatalf("got %d addresses, want 2", len(got))
	}
	a, b := got[row[2]], got[row[4]]
	if a == nil || b == nil {
		t.Fatalf("no records for %s and %s: %v", row[2], row[4], got)
	}
	n := func(i int) uint64 {
		v, err := strconv.ParseUint(row[i], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	// Columns: packets_AtoB, bytes_AtoB, packets_BtoA, bytes_BtoA.
	if a.PacketsOut != n(8) || a.BytesOut != n(9) || a.PacketsIn != n(10) || a.BytesIn != n(11) {
		t.Errorf("%s: out %d pkts %d bytes, in %d pkts %d bytes; tshark: %s", a.IP, a.PacketsOut, a.BytesOut, a.PacketsIn, a.BytesIn, row)
	}
	if b.PacketsOut != n(10) || b.BytesOut != n(11) {
		t.Errorf("%s: out %d pkts %d bytes; tshark: %s", b.IP, b.PacketsOut, b.BytesOut, row)
	}
	if a.Flows != 1 || b.Flows != 0 {
		t.Errorf("flows: client %d, server %d; want 1 and 0", a.Flows, b.Flows)
	}
	for _, r := range c.recs {
		if r.Peers != 1 || r.DstPorts != 1 {
			t.Errorf("%s: peers %d, dst_ports %d; want 1 and 1", r.IP, r.Peers, r.DstPorts)
		}
	}
}

// convRow returns the single conversation row of a file.
func convRow(t *testing.T, file string) []string {
	t.Helper()
	f, err := os.Open(filepath.Join(corpus, "expected-conv.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var found [][]string
	for _, r := range rows {
		if r[0] == file {
			found = append(found, r)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%s: %d conversation rows, want 1", file, len(found))
	}
	return found[0]
}
