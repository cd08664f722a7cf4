//go:build pcap

package capture

import (
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/gopacket/gopacket/pcap"
)

// This file is the libpcap backend (backend: pcap), built with -tags pcap
// (cgo and libpcap-dev). Without the tag libpcapOpen stays nil and the
// backend is refused with a message saying how to build it.

func init() { libpcapOpen = openLibpcap }

// libpcapReader is one libpcap handle as the worker loop sees it. libpcap
// has no fanout, so a pcap capture has this one reader.
type libpcapReader struct {
	h        *pcap.Handle
	ifindex  int
	linkType uint16
	prog     []pcap.BPFInstruction // the capture filter, put back on release

	// pcap_stats reports totals since the handle opened, in 32 bits;
	// stats reports what was added since the last call.
	last [3]uint32
	// ifDrops is false when ps_ifdrop cannot be trusted: libpcap reads
	// it from /sys/class/net, which shows nfpipe's own namespace, not
	// the one of a netns: capture.
	ifDrops bool
}

// pcapDropAll accepts nothing: it holds the handle quiet while capture is
// paused, as dropAll does for an AF_PACKET ring.
var pcapDropAll = []pcap.BPFInstruction{{Code: 0x06, K: 0}} // BPF_RET|BPF_K, 0

// pcapMaxTimeout caps the handle's timeout: a read waits that long for a
// packet, so it bounds how late a stop or a pause is noticed (an
// AF_PACKET worker polls for at most pollMs too).
const pcapMaxTimeout = pollMs * time.Millisecond

// openLibpcap opens ifi with libpcap: snaplen, promiscuous mode, the
// block timeout as libpcap's packet buffer timeout (immediate mode off,
// so the kernel hands packets over a block at a time), ring_size as the
// buffer, and the filter compiled by libpcap for this very handle. It
// runs in the interface's network namespace.
func openLibpcap(ifi *net.Interface, cfg *Config) (liveReader, error) {
	h, err := activatePcap(ifi.Name, cfg.Snaplen, cfg.Promiscuous, min(cfg.BlockTimeout, pcapMaxTimeout), int(cfg.RingSize))
	if err != nil {
		return nil, err
	}
	r := &libpcapReader{h: h, ifindex: ifi.Index, ifDrops: cfg.Netns == ""}
	// Whatever libpcap captures is passed on: decode counts (and logs)
	// a link type it does not read, and portability to interfaces an
	// AF_PACKET ring refuses is what this backend is for.
	r.linkType = linkTypeOfDLT(int(h.LinkType()))
	// An empty expression compiles to a program that keeps every packet,
	// which release can put back like any other.
	r.prog, err = h.CompileBPFFilter(cfg.BPF)
	if err != nil {
		h.Close()
		return nil, fmt.Errorf("bpf %q: %w", cfg.BPF, err)
	}
	if err := h.SetBPFInstructionFilter(r.prog); err != nil {
		h.Close()
		return nil, fmt.Errorf("libpcap: set the packet filter: %w", err)
	}
	// Start the counters from the handle's totals now, so that
	// nothing from before the filter was set is counted.
	if _, err := r.stats(); err != nil {
		h.Close()
		return nil, err
	}
	return r, nil
}

// activatePcap creates and activates a libpcap handle on an interface of
// the calling thread's network namespace. A timeout of zero or less
// leaves libpcap's default, and so does a bufSize of zero.
func activatePcap(iface string, snaplen int, promisc bool, timeout time.Duration, bufSize int) (*pcap.Handle, error) {
	in, err := pcap.NewInactiveHandle(iface)
	if err != nil {
		return nil, fmt.Errorf("libpcap: %s: %w", iface, err)
	}
	defer in.CleanUp()
	var serr error
	set := func(what string, err error) {
		if err != nil && serr == nil {
			serr = fmt.Errorf("libpcap: %s: set %s: %w", iface, what, err)
		}
	}
	set("snaplen", in.SetSnapLen(snaplen))
	set("promiscuous mode", in.SetPromisc(promisc))
	set("immediate mode", in.SetImmediateMode(false))
	if timeout > 0 {
		set("timeout", in.SetTimeout(timeout))
	}
	if bufSize > 0 {
		set("buffer size", in.SetBufferSize(bufSize))
	}
	if serr != nil {
		return nil, serr
	}
	h, err := in.Activate()
	if err != nil {
		return nil, activateError(iface, err, in.Error())
	}
	return h, nil
}

// activateError turns pcap_activate's status into an error the retry
// loop understands: missing privileges and a missing interface are
// recognised as such, and libpcap's own message is kept.
func activateError(iface string, status, detail error) error {
	msg := status.Error()
	if d := detail.Error(); d != "" {
		msg = d
	}
	// gopacket reports pcap_activate's status as an unexported type
	// with fixed messages.
	switch status.Error() {
	case "Permission Denied":
		return fmt.Errorf("libpcap: %s: %s (%w)", iface, msg, errPermission)
	case "No Such Device":
		return &ifaceError{msg: fmt.Sprintf("%s %q (libpcap: %s)", errNoInterface, iface, msg)}
	case "Interface Not Up":
		return fmt.Errorf("interface %s is down", iface)
	}
	return fmt.Errorf("libpcap: open %s: %s", iface, msg)
}

// next reads the next frame, waiting for it up to the handle's timeout.
// The data points into libpcap's buffer and is valid until the next
// call; the worker copies it into its batch.
func (r *libpcapReader) next(f *frameInfo) ([]byte, error) {
	data, ci, err := r.h.ZeroCopyReadPacketData()
	if err == nil {
		f.ts = ci.Timestamp.UnixNano()
		f.wireLen = uint32(ci.Length)
		return data, nil
	}
	if errors.Is(err, pcap.NextErrorTimeoutExpired) {
		return nil, errWouldBlock
	}
	if errors.Is(err, io.EOF) {
		return nil, errors.New("libpcap: the capture handle was closed")
	}
	// libpcap's message says what happened ("The interface disappeared").
	if msg := r.h.Error().Error(); msg != "" {
		return nil, fmt.Errorf("libpcap: %s", msg)
	}
	return nil, fmt.Errorf("libpcap: read: %w", err)
}

// wait returns at once: next already waits up to the handle's timeout,
// inside libpcap, and reports the errors a poll would.
func (r *libpcapReader) wait(int) error { return nil }

// stats returns pcap_stats' growth since the last call: ps_recv is what
// the kernel's tp_packets is to an AF_PACKET ring (packets that passed
// the filter, dropped ones included), ps_drop its tp_drops, and
// ps_ifdrop the interface's own drops. libpcap has no freeze count.
func (r *libpcapReader) stats() (kernelStats, error) {
	st, err := r.h.Stats()
	if err != nil {
		return kernelStats{}, fmt.Errorf("libpcap: read statistics: %w", err)
	}
	cur := [3]uint32{uint32(st.PacketsReceived), uint32(st.PacketsDropped), uint32(st.PacketsIfDropped)}
	// Unsigned differences stay right when a 32-bit total wraps.
	d := kernelStats{packets: uint64(cur[0] - r.last[0]), drops: uint64(cur[1] - r.last[1])}
	if r.ifDrops {
		d.ifDrops = uint64(cur[2] - r.last[2])
	}
	r.last = cur
	return d, nil
}

// hold swaps the filter for one that accepts nothing, so nothing is kept
// or dropped while capture is paused; the handle stays open, so a
// process that switched user can still resume.
//
// libpcap runs frames already in its buffer through the new filter, so
// the worker checks for a pause only once a read found nothing ready.
func (r *libpcapReader) hold() error {
	if err := r.h.SetBPFInstructionFilter(pcapDropAll); err != nil {
		return fmt.Errorf("libpcap: set the pause filter: %w", err)
	}
	return nil
}

// release puts the capture filter back.
func (r *libpcapReader) release() error {
	if err := r.h.SetBPFInstructionFilter(r.prog); err != nil {
		return fmt.Errorf("libpcap: put the packet filter back: %w", err)
	}
	return nil
}

func (r *libpcapReader) link() uint16 { return r.linkType }

func (r *libpcapReader) index() int { return r.ifindex }

func (r *libpcapReader) close() { r.h.Close() }

// linkTypeOfDLT maps the DLT_ value pcap_datalink returns to the
// LINKTYPE_ value of capture files, which frames carry. The two differ
// only for a few old types whose DLT_ numbers vary between systems.
func linkTypeOfDLT(dlt int) uint16 {
	switch dlt {
	case 11: // DLT_ATM_RFC1483
		return 100
	case 12: // DLT_RAW
		return linkTypeRaw
	case 19: // DLT_ATM_CLIP
		return 106
	}
	return uint16(dlt)
}
