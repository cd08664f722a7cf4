package gen

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
)

// Truth indices of the IP protocols.
const (
	pTCP = iota
	pUDP
	pICMP
	pICMPv6
	numProtos
)

var protoNames = [numProtos]string{"tcp", "udp", "icmp", "icmpv6"}

// Truth is the ground truth of a generated capture, written beside it as
// FILE.truth.json so tests and benchmarks can assert what a pipeline
// reports.
type Truth struct {
	// Version is the traffic model version (see Version).
	Version int `json:"version"`
	// Config is what the capture was generated from.
	Config Config `json:"config"`
	// Packets and Bytes are the frames and the sum of their wire lengths.
	Packets uint64 `json:"packets"`
	Bytes   uint64 `json:"bytes"`
	// FileBytes is the size of the pcap file, headers included.
	FileBytes int64 `json:"file_bytes"`
	// Flows is the number of distinct flow keys (protocol, both
	// endpoints, VLAN). Every flow is complete: TCP flows all close.
	Flows uint64 `json:"flows"`
	// By protocol name: tcp, udp, icmp, icmpv6.
	FlowsByProto   map[string]uint64 `json:"flows_by_proto"`
	PacketsByProto map[string]uint64 `json:"packets_by_proto"`
	BytesByProto   map[string]uint64 `json:"bytes_by_proto"`
	IPv6Flows      uint64            `json:"ipv6_flows"`
	IPv6Packets    uint64            `json:"ipv6_packets"`
	VLANFlows      uint64            `json:"vlan_flows"`
	VLANPackets    uint64            `json:"vlan_packets"`
	// TCPFinCloses and TCPRSTCloses split the TCP flows by how they end;
	// TCPRefused (SYN answered by RST) are counted among the RST closes.
	TCPFinCloses uint64 `json:"tcp_fin_closes"`
	TCPRSTCloses uint64 `json:"tcp_rst_closes"`
	TCPRefused   uint64 `json:"tcp_refused"`
	// IdleGapFlows pause once, for IdleGapMinNS or longer: a sessionizer
	// whose idle timeout is below that (and above MaxActiveGapNS) reports
	// Flows + IdleGapFlows flows.
	IdleGapFlows   uint64 `json:"idle_gap_flows"`
	IdleGapMinNS   int64  `json:"idle_gap_min_ns"`
	MaxActiveGapNS int64  `json:"max_active_gap_ns"`
	// FirstNS and LastNS are the first and last timestamps (Unix ns).
	FirstNS int64 `json:"first_ns"`
	LastNS  int64 `json:"last_ns"`
	// PeakOpenFlows is the most flows between their first and last frame
	// at one time.
	PeakOpenFlows uint64 `json:"peak_open_flows"`
	// PeakTrackedFlows is the most flows seen and not closed by FIN or RST
	// at one time: what a flow table without timeouts holds at its peak.
	// PeakTrackedAt is the number of frames written when it was reached.
	PeakTrackedFlows uint64 `json:"peak_tracked_flows"`
	PeakTrackedAt    uint64 `json:"peak_tracked_at"`
	// FrameSizes counts frames by wire length.
	FrameSizes map[string]uint64 `json:"frame_sizes"`
}

// TruthPath is where the truth of a capture file is written.
func TruthPath(pcap string) string { return pcap + ".truth.json" }

// ReadTruth reads a truth file.
func ReadTruth(path string) (*Truth, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read truth: %w", err)
	}
	t := new(Truth)
	if err := json.Unmarshal(data, t); err != nil {
		return nil, fmt.Errorf("decode truth %s: %w", path, err)
	}
	return t, nil
}

// WriteFile writes the truth as indented JSON.
func (t *Truth) WriteFile(path string) error {
	data, err := json.MarshalIndent(t, "", "  ")
	if err != nil {
		return fmt.Errorf("encode truth: %w", err)
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("write truth: %w", err)
	}
	return nil
}

// truthCounters accumulate the truth with plain array updates per frame.
type truthCounters struct {
	frames, bytes          uint64
	packets, octets, flows [numProtos]uint64
	v6Flows, v6Packets     uint64
	vlanFlows, vlanPackets uint64
	fin, rst, refused      uint64
	idleFlows              uint64
	idleMin, maxGap        int64
	first, last            int64
	open, peakOpen         uint64
	tracked, peakTracked   uint64
	peakTrackedAt          uint64
	sizes                  [frameCap + 1]uint64
}

func (c *truthCounters) init() { c.first = -1 }

func (c *truthCounters) flowStarted(f *flow) {
	_, p := f.proto()
	c.flows[p]++
	if f.v6 {
		c.v6Flows++
	}
	if f.vlan != 0 {
		c.vlanFlows++
	}
	if f.idleAt != 0 {
		c.idleFlows++
	}
}

func (c *truthCounters) frame(f *flow, t int64, n int) {
	_, p := f.proto()
	c.frames++
	c.bytes += uint64(n)
	c.packets[p]++
	c.octets[p] += uint64(n)
	c.sizes[n]++
	if f.v6 {
		c.v6Packets++
	}
	if f.vlan != 0 {
		c.vlanPackets++
	}
	if c.first < 0 {
		c.first = t
	}
	c.last = t
	if f.sent == 0 {
		c.open++
		c.peakOpen = max(c.peakOpen, c.open)
		c.tracked++
		if c.tracked > c.peakTracked {
			c.peakTracked, c.peakTrackedAt = c.tracked, c.frames
		}
	}
}

func (c *truthCounters) gap(d int64, idle bool) {
	if idle {
		if c.idleMin == 0 || d < c.idleMin {
			c.idleMin = d
		}
		return
	}
	c.maxGap = max(c.maxGap, d)
}

// flowDone runs after the last frame of f.
func (c *truthCounters) flowDone(f *flow, t int64) {
	c.open--
	if f.kind != kindTCP {
		return
	}
	c.tracked--
	switch {
	case f.budget == 2:
		c.refused++
		c.rst++
	case f.close == closeFIN:
		c.fin++
	default:
		c.rst++
	}
}

func (c *truthCounters) truth(cfg Config) *Truth {
	t := &Truth{
		Version:          Version,
		Config:           cfg,
		Packets:          c.frames,
		Bytes:            c.bytes,
		FileBytes:        pcapHeaderLen + int64(c.frames)*pcapRecordLen + int64(c.bytes),
		FlowsByProto:     map[string]uint64{},
		PacketsByProto:   map[string]uint64{},
		BytesByProto:     map[string]uint64{},
		IPv6Flows:        c.v6Flows,
		IPv6Packets:      c.v6Packets,
		VLANFlows:        c.vlanFlows,
		VLANPackets:      c.vlanPackets,
		TCPFinCloses:     c.fin,
		TCPRSTCloses:     c.rst,
		TCPRefused:       c.refused,
		IdleGapFlows:     c.idleFlows,
		IdleGapMinNS:     c.idleMin,
		MaxActiveGapNS:   c.maxGap,
		PeakOpenFlows:    c.peakOpen,
		PeakTrackedFlows: c.peakTracked,
		PeakTrackedAt:    c.peakTrackedAt,
		FrameSizes:       map[string]uint64{},
	}
	if c.first >= 0 {
		t.FirstNS, t.LastNS = startEpoch+c.first, startEpoch+c.last
	}
	for p := range numProtos {
		t.Flows += c.flows[p]
		t.FlowsByProto[protoNames[p]] = c.flows[p]
		t.PacketsByProto[protoNames[p]] = c.packets[p]
		t.BytesByProto[protoNames[p]] = c.octets[p]
	}
	for n, k := range c.sizes {
		if k > 0 {
			t.FrameSizes[strconv.Itoa(n)] = k
		}
	}
	return t
}
