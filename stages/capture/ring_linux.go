package capture

import (
	"errors"
	"fmt"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ring is one AF_PACKET socket with a TPACKET_V3 receive ring mapped into
// memory. The kernel fills blocks of packets; the reader walks a block,
// hands it back and moves to the next, so a busy interface costs one
// poll per block rather than one system call per packet.
//
// It is written against the kernel ABI directly rather than through a
// wrapper so that the hot path takes no lock and allocates nothing, also
// for VLAN-tagged frames, and so that the socket itself stays reachable
// for the error status, fanout ids and statistics.
type ring struct {
	fd        int
	mem       []byte
	blockSize int
	numBlocks int
	ifindex   int
	linkType  uint16

	cur  int    // block being read
	held bool   // the current block is ours until handed back
	left uint32 // packets of the block not read yet
	pkt  int    // offset of the next packet header in mem

	vlanBuf []byte            // scratch for a frame with its VLAN tag put back
	filter  []unix.SockFilter // the capture filter, put back on release
}

// hold makes the socket take no packets: nothing is kept, and nothing is
// counted as dropped, while capture is paused.
func (r *ring) hold() error { return r.setFilter(dropAll) }

// release puts the capture filter back.
func (r *ring) release() error { return r.setFilter(r.filter) }

// link is the link type of the ring's frames.
func (r *ring) link() uint16 { return r.linkType }

// index is the index of the interface the socket is bound to.
func (r *ring) index() int { return r.ifindex }

// ringOptions size and tune one ring.
type ringOptions struct {
	ifindex      int
	blockSize    int
	numBlocks    int
	blockTimeout int // milliseconds
	promiscuous  bool
}

// Offsets into struct tpacket_block_desc and struct tpacket3_hdr
// (linux/if_packet.h), which are stable kernel ABI.
const (
	bdBlockStatus  = 8  // hdr.bh1.block_status
	bdNumPkts      = 12 // hdr.bh1.num_pkts
	bdOffsetFirst  = 16 // hdr.bh1.offset_to_first_pkt
	phNextOffset   = 0  // tp_next_offset
	phSec          = 4  // tp_sec
	phNsec         = 8  // tp_nsec
	phSnaplen      = 12 // tp_snaplen
	phLen          = 16 // tp_len
	phStatus       = 20 // tp_status
	phMac          = 24 // tp_mac
	phVlanTCI      = 32 // hv1.tp_vlan_tci
	phVlanTPID     = 36 // hv1.tp_vlan_tpid
	ethAddrLen     = 12 // destination and source MAC addresses
	vlanTagLen     = 4
	tpacketV3Frame = 2048 // nominal frame size; TPACKET_V3 packs packets of any size into blocks
)

// dropAll is a filter that accepts nothing: it holds a socket quiet while
// it is set up, and while capture is paused.
var dropAll = []unix.SockFilter{{Code: unix.BPF_RET | unix.BPF_K, K: 0}}

// openRing opens a socket that receives nothing until bind, sets up its
// ring behind a filter that drops everything, and binds it to the
// interface. The caller joins a fanout group, then sets the real filter:
// no frame reaches the ring before the socket is where it belongs.
func openRing(o ringOptions) (*ring, error) {
	// Protocol 0: the socket is not hooked into the receive path until
	// bind names the protocol.
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open packet socket: %w", err)
	}
	r := &ring{fd: fd, blockSize: o.blockSize, numBlocks: o.numBlocks, ifindex: o.ifindex}
	if err := r.setup(o); err != nil {
		r.close()
		return nil, err
	}
	return r, nil
}

func (r *ring) setup(o ringOptions) error {
	if err := unix.SetsockoptInt(r.fd, unix.SOL_PACKET, unix.PACKET_VERSION, unix.TPACKET_V3); err != nil {
		return fmt.Errorf("set TPACKET_V3: %w", err)
	}
	if err := r.setFilter(dropAll); err != nil {
		return err
	}
	req := unix.TpacketReq3{
		Block_size:     uint32(o.blockSize),
		Block_nr:       uint32(o.numBlocks),
		Frame_size:     tpacketV3Frame,
		Frame_nr:       uint32(o.blockSize / tpacketV3Frame * o.numBlocks),
		Retire_blk_tov: uint32(o.blockTimeout),
	}
	if err := unix.SetsockoptTpacketReq3(r.fd, unix.SOL_PACKET, unix.PACKET_RX_RING, &req); err != nil {
		return fmt.Errorf("set up a receive ring of %d blocks of %d bytes: %w", o.numBlocks, o.blockSize, err)
	}
	mem, err := unix.Mmap(r.fd, 0, o.blockSize*o.numBlocks, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_LOCKED)
	if err != nil {
		// MAP_LOCKED needs RLIMIT_MEMLOCK room; fall back to pageable memory.
		mem, err = unix.Mmap(r.fd, 0, o.blockSize*o.numBlocks, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
		if err != nil {
			return fmt.Errorf("map the receive ring: %w", err)
		}
	}
	r.mem = mem
	sa := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: o.ifindex}
	if err := unix.Bind(r.fd, sa); err != nil {
		return fmt.Errorf("bind to interface index %d: %w", o.ifindex, err)
	}
	name, err := unix.Getsockname(r.fd)
	if err != nil {
		return fmt.Errorf("read the socket's link type: %w", err)
	}
	ll, ok := name.(*unix.SockaddrLinklayer)
	if !ok {
		return errors.New("read the socket's link type: not a link-layer address")
	}
	lt, ok := linkTypeOf(ll.Hatype)
	if !ok {
		return fmt.Errorf("interface has hardware type %d, which AF_PACKET capture does not support here; try backend: pcap", ll.Hatype)
	}
	r.linkType = lt
	if o.promiscuous {
		mreq := unix.PacketMreq{Ifindex: int32(o.ifindex), Type: unix.PACKET_MR_PROMISC}
		if err := unix.SetsockoptPacketMreq(r.fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, &mreq); err != nil {
			return fmt.Errorf("enable promiscuous mode: %w", err)
		}
	}
	return nil
}

// joinFanout puts the socket in a fanout group with a symmetric flow
// hash: both directions of a flow go to the same socket. IPv4 fragments
// are reassembled first (PACKET_FANOUT_FLAG_DEFRAG) so they follow their
// flow instead of being spread by address alone. id 0 asks the kernel
// for an unused group id, which is returned for the other members.
func (r *ring) joinFanout(id uint16) (uint16, error) {
	typ := unix.PACKET_FANOUT_HASH | unix.PACKET_FANOUT_FLAG_DEFRAG
	flags := typ
	if id == 0 {
		flags |= unix.PACKET_FANOUT_FLAG_UNIQUEID
	}
	if err := unix.SetsockoptInt(r.fd, unix.SOL_PACKET, unix.PACKET_FANOUT, int(id)|flags<<16); err != nil {
		return 0, fmt.Errorf("join a fanout group: %w", err)
	}
	if id != 0 {
		return id, nil
	}
	v, err := unix.GetsockoptInt(r.fd, unix.SOL_PACKET, unix.PACKET_FANOUT)
	if err != nil {
		return 0, fmt.Errorf("read the fanout group id: %w", err)
	}
	return uint16(v), nil
}

// setFilter attaches a classic BPF program to the socket.
func (r *ring) setFilter(prog []unix.SockFilter) error {
	fp := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	if err := unix.SetsockoptSockFprog(r.fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &fp); err != nil {
		return fmt.Errorf("attach the packet filter: %w", err)
	}
	return nil
}

// kernelStats are the socket's counters since they were last read (the
// kernel resets them on every read).
type kernelStats struct {
	packets, drops, freezes uint64
	ifDrops                 uint64 // dropped by the interface itself (libpcap's ps_ifdrop)
}

func (r *ring) stats() (kernelStats, error) {
	st, err := unix.GetsockoptTpacketStatsV3(r.fd, unix.SOL_PACKET, unix.PACKET_STATISTICS)
	if err != nil {
		return kernelStats{}, fmt.Errorf("read socket statistics: %w", err)
	}
	// tp_packets already includes tp_drops.
	return kernelStats{packets: uint64(st.Packets), drops: uint64(st.Drops), freezes: uint64(st.Freeze_q_cnt)}, nil
}

// errWouldBlock means no packet is ready; poll before trying again.
var errWouldBlock = errors.New("no packet ready")

// next returns the next packet of the ring, or errWouldBlock when the
// kernel has not handed over another block. The data points into the
// ring (or, for a frame whose VLAN tag the kernel took out, into a
// scratch buffer with the tag put back) and is valid until the next call.
func (r *ring) next(f *frameInfo) ([]byte, error) {
	for r.left == 0 {
		b := r.cur * r.blockSize
		if r.held {
			// Hand the block back to the kernel and move on.
			atomic.StoreUint32(r.u32(b+bdBlockStatus), unix.TP_STATUS_KERNEL)
			r.held = false
			r.cur++
			if r.cur == r.numBlocks {
				r.cur = 0
			}
			b = r.cur * r.blockSize
		}
		if atomic.LoadUint32(r.u32(b+bdBlockStatus))&unix.TP_STATUS_USER == 0 {
			return nil, errWouldBlock
		}
		r.held = true
		r.left = *r.u32(b + bdNumPkts)
		r.pkt = b + int(*r.u32(b + bdOffsetFirst))
	}
	p := r.pkt
	r.left--
	if r.left > 0 {
		r.pkt = p + int(*r.u32(p + phNextOffset))
	}
	snap := int(*r.u32(p + phSnaplen))
	wire := *r.u32(p + phLen)
	f.ts = int64(*r.u32(p + phSec))*1e9 + int64(*r.u32(p + phNsec))
	status := *r.u32(p + phStatus)
	mac := p + int(*(*uint16)(unsafe.Pointer(&r.mem[p+phMac])))
	data := r.mem[mac : mac+snap : mac+snap]
	if status&unix.TP_STATUS_VLAN_VALID != 0 && r.linkType == linkTypeEthernet && snap >= ethAddrLen {
		tpid := uint16(unix.ETH_P_8021Q)
		if status&unix.TP_STATUS_VLAN_TPID_VALID != 0 {
			if t := *(*uint16)(unsafe.Pointer(&r.mem[p+phVlanTPID])); t != 0 {
				tpid = t
			}
		}
		tci := uint16(*r.u32(p + phVlanTCI))
		data = r.withTag(data, tpid, tci)
		wire += vlanTagLen // the tag was on the wire, as libpcap counts it
	}
	f.wireLen = wire
	return data, nil
}

// withTag copies data with an 802.1Q tag inserted after the MAC
// addresses, as it was on the wire before the kernel moved it out of
// band. Only frames that carried a tag pay this copy.
func (r *ring) withTag(data []byte, tpid, tci uint16) []byte {
	n := len(data) + vlanTagLen
	if cap(r.vlanBuf) < n {
		r.vlanBuf = make([]byte, max(n, 2048))
	}
	out := r.vlanBuf[:n]
	copy(out, data[:ethAddrLen])
	out[12], out[13] = byte(tpid>>8), byte(tpid)
	out[14], out[15] = byte(tci>>8), byte(tci)
	copy(out[16:], data[ethAddrLen:])
	return out
}

// wait blocks until a block is ready, the timeout (milliseconds) passes,
// or the socket reports an error (the interface went down or away),
// which it returns. It returns nil on readiness and on timeout alike.
func (r *ring) wait(timeoutMs int) error {
	if r.left > 0 || r.held {
		return nil
	}
	if !r.held && atomic.LoadUint32(r.u32(r.cur*r.blockSize+bdBlockStatus))&unix.TP_STATUS_USER != 0 {
		return nil
	}
	fds := []unix.PollFd{{Fd: int32(r.fd), Events: unix.POLLIN | unix.POLLERR}}
	_, err := unix.Poll(fds, timeoutMs)
	if err != nil && !errors.Is(err, unix.EINTR) {
		return fmt.Errorf("poll: %w", err)
	}
	if fds[0].Revents&(unix.POLLERR|unix.POLLNVAL) != 0 {
		// Reading SO_ERROR also clears it, so the error is reported once.
		serr, gerr := unix.GetsockoptInt(r.fd, unix.SOL_SOCKET, unix.SO_ERROR)
		if gerr != nil {
			return fmt.Errorf("socket error: %w", gerr)
		}
		if serr != 0 {
			return unix.Errno(serr)
		}
	}
	return nil
}

// close unmaps the ring and closes the socket.
func (r *ring) close() {
	if r.mem != nil {
		unix.Munmap(r.mem)
		r.mem = nil
	}
	if r.fd >= 0 {
		unix.Close(r.fd)
		r.fd = -1
	}
}

// u32 points at a 32-bit field of the ring (native byte order, aligned
// by the kernel).
func (r *ring) u32(off int) *uint32 { return (*uint32)(unsafe.Pointer(&r.mem[off])) }

func htons(v uint16) uint16 { return v<<8 | v>>8 }
