package capture

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// captureFile is an open capture file.
type captureFile struct {
	*stream
	path  string
	f     *os.File
	meter *countingReader // bytes read from the file, compressed or not
	size  int64
}

// openFile opens a capture file and reads its header. Errors name the
// path and say how to fix the problem.
func openFile(path string) (*captureFile, error) {
	f, err := os.Open(path)
	if err != nil {
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil, fmt.Errorf("%w; check the path (relative paths are resolved from the pipeline file's directory)", err)
		case errors.Is(err, fs.ErrPermission):
			return nil, fmt.Errorf("%w; make the file readable by the user running nfpipe", err)
		}
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if st.IsDir() {
		f.Close()
		return nil, fmt.Errorf("%s is a directory; set file: to a pcap or pcapng file", path)
	}
	meter := &countingReader{r: f}
	s, err := openStream(meter)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &captureFile{stream: s, path: path, f: f, meter: meter, size: st.Size()}, nil
}

// Close closes the file.
func (c *captureFile) Close() error { return c.f.Close() }
