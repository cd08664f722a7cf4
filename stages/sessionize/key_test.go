package sessionize

import (
	"net/netip"
	"testing"

	"github.com/nfpipe/nfpipe/pipeline/event"
)

// TestFlowIDsAreStable pins the orientation and flow id of a few keys, as
// earlier versions computed them: a replay must give every flow the id it
// had, whatever the key's layout in memory.
func TestFlowIDsAreStable(t *testing.T) {
	for _, c := range []struct {
		p     event.PacketRec
		fromB bool
		id    uint64
	}{
		{event.PacketRec{Src: netip.MustParseAddr("192.0.2.10"), Dst: netip.MustParseAddr("198.51.100.7"), Proto: 6, SrcPort: 51000, DstPort: 443}, false, 0xaf480de22adcfb4b},
		{event.PacketRec{Src: netip.MustParseAddr("198.51.100.7"), Dst: netip.MustParseAddr("192.0.2.10"), Proto: 6, SrcPort: 443, DstPort: 51000}, true, 0xaf480de22adcfb4b},
		{event.PacketRec{Src: netip.MustParseAddr("2001:db8::1"), Dst: netip.MustParseAddr("2001:db8::2:1"), Proto: 17, SrcPort: 5353, DstPort: 53, VLAN: 42}, false, 0x31d3d608afbe2175},
		{event.PacketRec{Src: netip.MustParseAddr("::ffff:10.0.0.1"), Dst: netip.MustParseAddr("::ffff:10.0.0.2"), Proto: 1}, false, 0x33f07c1b306749b2},
		{event.PacketRec{Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.1"), Proto: 17, SrcPort: 9, DstPort: 7}, true, 0x10d9f43f97d11cc6},
	} {
		var k flowKey
		fromB := k.set(&c.p)
		if id := flowID(&k, 1_700_000_000_123_456_789); fromB != c.fromB || id != c.id {
			t.Errorf("%v:%d > %v:%d: fromB %v id %#x, want %v %#x", c.p.Src, c.p.SrcPort, c.p.Dst, c.p.DstPort, fromB, id, c.fromB, c.id)
		}
		if a, b := k.addr(k.A), k.addr(k.B); !(a == c.p.Src && b == c.p.Dst || a == c.p.Dst && b == c.p.Src) {
			t.Errorf("key holds %v and %v, packet %v and %v", a, b, c.p.Src, c.p.Dst)
		}
	}
}
