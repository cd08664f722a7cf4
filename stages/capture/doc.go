// Package capture is the packet source of a pipeline: the stage type
// "capture". It reads pcap and pcapng files (gzip-compressed or not) and
// emits their frames as raw event batches, at full speed or paced by the
// packets' own timestamps, once or in a loop.
//
// The stage is built around frameReader, the one thing a packet source
// must provide: the next frame with its timestamp, wire length, link type
// and interface. The file readers live in pcap.go and pcapng.go behind
// openStream; a live reader (AF_PACKET, libpcap) is another frameReader,
// and the replay loop in source.go (batching, pause, stop, counters)
// serves both. A reader that can also fill a whole batch (batchFiller)
// does so for a replay at full speed: the classic pcap reader reads the
// file straight into the batch's arena and slices the frames out in
// place, without a copy per frame.
package capture
