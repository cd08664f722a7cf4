//go:build !linux

package capture

import (
	"errors"

	"github.com/nfpipe/nfpipe/pipeline"
)

// newLiveSource reports that live capture is Linux-only in this build.
func newLiveSource(cfg *Config, bc *pipeline.BuildContext) (pipeline.Component, error) {
	return nil, errors.New("live capture (interface:) is supported on Linux only; read a capture file with file: instead")
}

func defaultRouteInterface() (string, error) {
	return "", errors.New("the default interface is known on Linux only; give interface: a name")
}
