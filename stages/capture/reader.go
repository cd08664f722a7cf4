package capture

import (
	"io"

	"github.com/nfpipe/nfpipe/pipeline/event"
)

// frameReader yields captured frames one at a time. It is the seam
// between where frames come from (a file today, a live interface later)
// and the replay loop that batches and emits them.
type frameReader interface {
	// next fills f's TS, WireLen, LinkType and Iface (not Data) and
	// returns the frame's captured bytes. The bytes are valid only until
	// the next call: the caller copies them into a batch. next returns
	// io.EOF at a clean end of input and any other error when the input
	// is damaged; after an error it must not be called again.
	next(f *event.Frame) ([]byte, error)
	// oversized is how many frames so far were longer than the snapshot
	// length their interface declares (read anyway, as tcpdump and
	// Wireshark do).
	oversized() uint64
}

// batchFiller is a frameReader that can also read frames straight into
// a raw batch, which is how an unpaced replay reads.
type batchFiller interface {
	frameReader
	// fill appends frames to b until it holds n frames or b is full by
	// the reader's own measure, and returns nil; or it returns the error
	// that ended the input (io.EOF at a clean end), with every frame
	// before it in b. After an error it must not be called again.
	fill(b *event.Batch, n int) error
}

// fillFrames is fill for a reader that yields frames one at a time: it
// copies each into the batch's arena. f is the caller's scratch frame,
// kept across calls: one passed through an interface is on the heap.
func fillFrames(r frameReader, f *event.Frame, b *event.Batch, n int) error {
	for len(b.Frames) < n {
		data, err := r.next(f)
		if err != nil {
			return err
		}
		b.AddFrame(*f, data)
	}
	return nil
}

// countingReader counts the bytes read through it and reports each read
// to onRead, which drives the progress bar.
type countingReader struct {
	r      io.Reader
	n      int64
	onRead func(n int)
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.onRead != nil && n > 0 {
		c.onRead(n)
	}
	return n, err
}
