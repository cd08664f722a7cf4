package gen

import (
	"fmt"
	"io"
	"time"
)

// PrintSummary writes a human summary of a truth.
func PrintSummary(w io.Writer, t *Truth) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	dur := time.Duration(t.LastNS - t.FirstNS)
	p("  packets   %d (%d bytes on the wire, %d-byte file), %s of packet time\n", t.Packets, t.Bytes, t.FileBytes, dur.Round(time.Millisecond))
	p("  flows     %d: tcp %d, udp %d, icmp %d, icmpv6 %d\n", t.Flows,
		t.FlowsByProto["tcp"], t.FlowsByProto["udp"], t.FlowsByProto["icmp"], t.FlowsByProto["icmpv6"])
	p("  packets   tcp %d, udp %d, icmp %d, icmpv6 %d\n",
		t.PacketsByProto["tcp"], t.PacketsByProto["udp"], t.PacketsByProto["icmp"], t.PacketsByProto["icmpv6"])
	p("  ipv6      %d flows, %d packets; vlan %d flows, %d packets\n", t.IPv6Flows, t.IPv6Packets, t.VLANFlows, t.VLANPackets)
	p("  tcp close %d fin, %d rst (%d refused)\n", t.TCPFinCloses, t.TCPRSTCloses, t.TCPRefused)
	p("  idle gaps %d flows pause >= %s; other gaps <= %s\n", t.IdleGapFlows,
		time.Duration(t.IdleGapMinNS).Round(time.Second), time.Duration(t.MaxActiveGapNS).Round(time.Millisecond))
	p("  open      peak %d flows open, %d tracked (not closed by FIN/RST) after %d packets\n",
		t.PeakOpenFlows, t.PeakTrackedFlows, t.PeakTrackedAt)
	small, mid, large, other := t.FrameSizes["64"], t.FrameSizes["594"], t.FrameSizes["1518"], uint64(0)
	for _, n := range t.FrameSizes {
		other += n
	}
	other -= small + mid + large
	p("  sizes     64: %d, 594: %d, 1518: %d, other (IPv6/VLAN minimums): %d\n", small, mid, large, other)
}
