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

// InterfaceInfo describes a network interface.
type InterfaceInfo struct {
	Name      string   `json:"name"`
	Index     int      `json:"index"`
	Up        bool     `json:"up"`
	Running   bool     `json:"running"`
	MTU       int      `json:"mtu"`
	Addresses []string `json:"addresses"`
	LinkType  string   `json:"link_type"`
	Supported bool     `json:"supported"`
	Default   bool     `json:"default"`
}

// State is "up" or "down".
func (i InterfaceInfo) State() string {
	if i.Up {
		return "up"
	}
	return "down"
}

var errLinuxOnly = errors.New("live capture is supported on Linux only")

// ListInterfaces is Linux-only.
func ListInterfaces(netns string) ([]InterfaceInfo, error) { return nil, errLinuxOnly }

// DefaultRouteInterface is Linux-only.
func DefaultRouteInterface() (string, error) { return "", errLinuxOnly }

// LookupInterface is Linux-only.
func LookupInterface(name string) (string, error) { return "", errLinuxOnly }

// FilterCompiler is Linux-only.
func FilterCompiler() string { return "" }

// LibpcapBuild is Linux-only.
func LibpcapBuild() bool { return false }

// HasCapability is Linux-only.
func HasCapability(c int) bool { return false }

// SetcapFix is the command that grants capture privileges on Linux.
func SetcapFix() string { return "sudo setcap cap_net_raw,cap_net_admin=eip $(command -v nfpipe)" }
