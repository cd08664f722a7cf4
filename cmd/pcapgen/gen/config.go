package gen

import (
	"errors"
	"fmt"
	"time"
)

// Version identifies the traffic model. It changes whenever the same
// Config would produce different bytes, so cached captures are rebuilt.
const Version = 1

// MaxFlows bounds Flows so every flow still gets a distinct client
// endpoint (8192 client hosts × 64512 ports).
const MaxFlows = 8192 * 64512

// Config sets the size and shape of a generated capture.
type Config struct {
	// Packets is the exact number of frames written; at least Flows.
	Packets int `json:"packets"`
	// Flows is the exact number of distinct flows.
	Flows int `json:"flows"`
	// Concurrent is how many flows are open at once (a new flow starts
	// when one ends). Values above Flows mean all flows open together.
	Concurrent int `json:"concurrent"`
	// Seed selects the capture; the same Config gives the same bytes.
	Seed uint64 `json:"seed"`
	// Nanosecond writes a nanosecond-resolution pcap (magic a1b23c4d)
	// instead of microseconds.
	Nanosecond bool `json:"nanosecond"`
	// Spacing is the mean time between consecutive frames while flows are
	// open; zero means one microsecond.
	Spacing time.Duration `json:"spacing_ns"`
}

// DefaultConfig is the benchmark capture: five million frames of 200,000
// flows, 20,000 open at a time.
func DefaultConfig() Config {
	return Config{Packets: 5_000_000, Flows: 200_000, Concurrent: 20_000, Seed: 1}
}

// Validate reports a Config that cannot be generated.
func (c Config) Validate() error {
	var errs []error
	if c.Flows < 1 {
		errs = append(errs, fmt.Errorf("flows must be at least 1, got %d", c.Flows))
	}
	if c.Flows > MaxFlows {
		errs = append(errs, fmt.Errorf("flows must be at most %d, got %d", MaxFlows, c.Flows))
	}
	if c.Packets < c.Flows {
		errs = append(errs, fmt.Errorf("packets (%d) must be at least flows (%d): every flow has a frame", c.Packets, c.Flows))
	}
	if c.Concurrent < 1 {
		errs = append(errs, fmt.Errorf("concurrent must be at least 1, got %d", c.Concurrent))
	}
	if c.Spacing < 0 {
		errs = append(errs, fmt.Errorf("spacing must not be negative, got %s", c.Spacing))
	}
	return errors.Join(errs...)
}

func (c Config) spacing() time.Duration {
	if c.Spacing == 0 {
		return time.Microsecond
	}
	return c.Spacing
}
