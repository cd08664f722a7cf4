package capture

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nfpipe/nfpipe/pipeline"
)

// liveReader is one capture socket as the worker loop sees it: the
// afpacket ring, or a libpcap handle.
type liveReader interface {
	// next returns the next frame, or errWouldBlock when none is ready.
	// The data is valid until the next call.
	next(fi *frameInfo) ([]byte, error)
	// wait blocks until a frame may be ready or timeoutMs passes; it
	// returns an error when the socket failed (the interface went down
	// or away).
	wait(timeoutMs int) error
	// stats returns the kernel's counters since the last call.
	stats() (kernelStats, error)
	// hold stops the socket from taking packets (pause); release undoes it.
	hold() error
	release() error
	// link is the link type of the frames.
	link() uint16
	// index is the index of the interface the socket captures on.
	index() int
	close()
}

// libpcapOpen opens a libpcap reader on the interface (in the calling
// thread's network namespace); builds with -tags pcap set it
// (libpcap_linux.go).
var libpcapOpen func(ifi *net.Interface, cfg *Config) (liveReader, error)

// Retry timing for an interface that went away.
const (
	retryMin   = 200 * time.Millisecond
	retryMax   = 5 * time.Second
	watchEvery = 500 * time.Millisecond // how often the interface is checked
	statsEvery = time.Second            // how often kernel counters are read
	pollMs     = 100                    // longest wait in poll, so stop and pause are prompt
)

// liveSource is a capture stage on a live interface.
type liveSource struct {
	cfg     Config
	workers int
	prog    []unix.SockFilter // compiled filter (afpacket)
	log     *slog.Logger

	gateOnce sync.Once // the user switch gate is passed once
}

// newLiveSource checks what can be checked before the pipeline starts:
// the interface exists, the process may capture, the filter compiles.
func newLiveSource(cfg *Config, bc *pipeline.BuildContext) (pipeline.Component, error) {
	l := &liveSource{cfg: *cfg, log: bc.Logger, workers: cfg.Workers}
	if l.workers == 0 {
		l.workers = runtime.NumCPU()
	}
	if cfg.Backend == "pcap" {
		if libpcapOpen == nil {
			return nil, errors.New("backend: pcap needs an nfpipe built with libpcap (go build -tags pcap, with libpcap-dev installed); the default backend afpacket needs nothing more")
		}
		l.workers = 1
	}
	err := inNetns(cfg.Netns, func() error {
		ifi, err := lookupInterface(cfg.Interface)
		if err != nil {
			return err
		}
		if !HasCapability(capNetRaw) {
			return permissionError(ifi.Name)
		}
		// The pcap backend compiles the filter again on every handle it
		// opens; compiling it here too stops a filter with a mistake
		// before the pipeline starts, with libpcap's message.
		l.prog, err = compileFilter(cfg.BPF, ifi.Name, cfg.Snaplen)
		return err
	})
	if err != nil {
		return nil, err
	}
	gateAdd(cfg.User)
	return l, nil
}

// Close lets a user switch go ahead if this capture never ran.
func (l *liveSource) Close() error {
	l.passGate(nil)
	return nil
}

// passGate marks this capture's sockets as opened (or never to be) for
// the user switch, once.
func (l *liveSource) passGate(log *slog.Logger) {
	l.gateOnce.Do(func() {
		user, err := gateDone()
		if log == nil {
			log = l.log
		}
		switch {
		case err != nil:
			log.Error("could not switch user after opening the capture sockets; still running with the privileges it started with", "err", err)
		case user != "":
			log.Info("capture sockets open; switched user", "user", user)
		}
	})
}

// Run captures until ctx ends, reopening the interface whenever it
// fails.
func (l *liveSource) Run(ctx context.Context, env *pipeline.Env) error {
	c := newLiveCounters(env.Stats(), l.workers, l.cfg.Backend)
	up := env.Stats().Gauge("sockets_open")
	log := env.Logger()
	delay := retryMin
	opened := false
	var total kernelStats
	start := time.Now()
	for ctx.Err() == nil {
		set, ifname, err := l.open()
		if err != nil {
			if !opened && isPermission(err) {
				l.passGate(log)
				return permissionError(l.cfg.Interface)
			}
			if isPermission(err) && privilegesDropped() {
				err = fmt.Errorf("%w (the process switched to user %q after the first open, so it cannot open the interface again; restart nfpipe)", err, l.cfg.User)
			}
			env.Stats().SetHealth(pipeline.Degraded, err.Error())
			log.Warn("cannot open the capture interface; retrying", "interface", l.cfg.Interface, "err", err, "retry_in", delay.String())
			if !sleepCtx(ctx, delay) {
				break
			}
			delay = min(2*delay, retryMax)
			continue
		}
		if opened {
			c.reopens.Add(1)
			log.Info("capture interface reopened", "interface", ifname, "workers", len(set))
		} else {
			log.Info("capturing", "interface", ifname, "workers", len(set), "backend", l.cfg.Backend,
				"bpf", l.cfg.BPF, "ring_size", l.cfg.RingSize, "promiscuous", l.cfg.Promiscuous)
		}
		opened = true
		l.passGate(log)
		env.Stats().SetHealth(pipeline.Healthy, "")
		up.Store(int64(len(set)))
		delay = retryMin
		fault := l.capture(ctx, env, set, ifname, c, &total)
		up.Store(0)
		if fault == nil {
			break
		}
		env.Stats().SetHealth(pipeline.Degraded, fault.Error())
		log.Warn("capture interrupted; reopening the interface when it is back", "interface", l.cfg.Interface, "err", fault)
		if !sleepCtx(ctx, delay) {
			break
		}
	}
	l.passGate(log)
	el := time.Since(start)
	attrs := []any{"interface", l.cfg.Interface,
		"packets", c.packets.Load(), "bytes", c.bytes.Load(),
		"kernel_packets", total.packets, "kernel_drops", total.drops}
	if l.cfg.Backend == "pcap" {
		attrs = append(attrs, "interface_drops", total.ifDrops)
	} else {
		attrs = append(attrs, "kernel_freezes", total.freezes)
	}
	log.Info("capture stopped", append(attrs, "duration", el.Round(time.Millisecond).String())...)
	return nil
}

// open opens one reader per worker on the interface, in its namespace.
func (l *liveSource) open() (set []liveReader, ifname string, err error) {
	err = inNetns(l.cfg.Netns, func() error {
		ifi, err := lookupInterface(l.cfg.Interface)
		if err != nil {
			return err
		}
		ifname = ifi.Name
		if ifi.Flags&net.FlagUp == 0 {
			return fmt.Errorf("interface %s is down", ifi.Name)
		}
		if l.cfg.Backend == "pcap" {
			r, err := libpcapOpen(ifi, &l.cfg)
			if err != nil {
				return err
			}
			set = []liveReader{r}
			return nil
		}
		set, err = l.openRings(ifi.Index)
		return err
	})
	return set, ifname, err
}

// openRings opens the workers' sockets, joins them in one fanout group
// and only then lets packets in.
func (l *liveSource) openRings(ifindex int) ([]liveReader, error) {
	o := ringOptions{
		ifindex:      ifindex,
		blockSize:    int(l.cfg.BlockSize),
		numBlocks:    int(l.cfg.RingSize / l.cfg.BlockSize),
		blockTimeout: int(l.cfg.BlockTimeout / time.Millisecond),
		promiscuous:  l.cfg.Promiscuous,
	}
	var rings []*ring
	fail := func(err error) ([]liveReader, error) {
		for _, r := range rings {
			r.close()
		}
		return nil, err
	}
	var group uint16
	for i := 0; i < l.workers; i++ {
		r, err := openRing(o)
		if err != nil {
			return fail(err)
		}
		rings = append(rings, r)
		if l.workers > 1 {
			if group, err = r.joinFanout(group); err != nil {
				return fail(err)
			}
		}
	}
	if l.workers > 1 {
		l.log.Debug("capture sockets joined a fanout group", "group", group, "sockets", len(rings))
	}
	set := make([]liveReader, len(rings))
	for i, r := range rings {
		r.filter = l.prog
		if err := r.setFilter(l.prog); err != nil {
			return fail(err)
		}
		set[i] = r
	}
	return set, nil
}

// capture runs one worker per reader until ctx ends (nil) or the
// interface fails (the fault). It closes the readers.
func (l *liveSource) capture(ctx context.Context, env *pipeline.Env, set []liveReader, ifname string, c *liveCounters, total *kernelStats) error {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	faults := make(chan error, len(set)+1)
	var wg sync.WaitGroup
	for i, r := range set {
		w := &worker{idx: i, r: r, env: env, c: c, size: l.cfg.BatchSize, log: env.Logger(), total: total}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := w.run(wctx); err != nil {
				faults <- err
			}
		}()
	}
	// Watch the interface: a rename or a replacement under the same name
	// gives no socket error, yet the name no longer means what was opened.
	fault := func() error {
		t := time.NewTicker(watchEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return nil
			case err := <-faults:
				return err
			case <-t.C:
				if err := l.checkInterface(ifname, set); err != nil {
					return err
				}
			}
		}
	}()
	cancel()
	wg.Wait()
	for _, r := range set {
		r.close()
	}
	return fault
}

// checkInterface reports a fault when the opened interface was renamed,
// deleted or replaced.
func (l *liveSource) checkInterface(ifname string, set []liveReader) error {
	var fault error
	err := inNetns(l.cfg.Netns, func() error {
		fault = l.lookupFault(ifname, set[0].index())
		return nil
	})
	if err != nil {
		// Not allowed into the namespace any more (the process switched
		// user): the socket's own errors still report a lost interface.
		return nil
	}
	return fault
}

// lookupFault compares the interface behind the open sockets with the
// configured name.
func (l *liveSource) lookupFault(ifname string, ifindex int) error {
	ifi, err := net.InterfaceByIndex(ifindex)
	if err != nil {
		return fmt.Errorf("interface %s disappeared", ifname)
	}
	if ifi.Name != ifname {
		return fmt.Errorf("interface %s was renamed to %s", ifname, ifi.Name)
	}
	if ifi.Flags&net.FlagUp == 0 {
		// An AF_PACKET ring reports this as a socket error; libpcap
		// keeps waiting for the interface to come back up instead.
		return fmt.Errorf("interface %s is down", ifname)
	}
	if l.cfg.Interface == DefaultInterface {
		if dev, err := defaultRouteInterface(); err == nil && dev != ifname {
			return fmt.Errorf("the default route moved from %s to %s", ifname, dev)
		}
	}
	return nil
}

// sleepCtx waits d or until ctx ends; it reports whether ctx is alive.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
