package host

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	pluginv1 "github.com/nfpipe/nfpipe/plugins/proto/nfpipe/plugin/v1"
)

// Supervisor keeps a plugin process serving one stream. go-plugin notices
// a plugin that exited but never restarts it: the supervisor does, with
// exponential backoff, configuring each new process before handing its
// stream over.
type Supervisor struct {
	// Config starts the process.
	Config Config
	// ConfigJSON is the stage's config block, applied after each start.
	ConfigJSON []byte
	// CallTimeout bounds the Configure call.
	CallTimeout time.Duration
	// Window is the number of batches a stream keeps in flight.
	Window int
	// BackoffInitial is the wait before the first restart; it doubles up
	// to BackoffMax after each failed start, and starts over once a
	// process has served for BackoffMax.
	BackoffInitial, BackoffMax time.Duration
	// OnUp is called when a new process serves (restarts counts the
	// starts before it).
	OnUp func(pid int, restarts int)
	// OnDown is called when a process could not be started or its stream
	// ended.
	OnDown func(Down)
}

// Down says why a plugin is not serving and when the next start is.
type Down struct {
	Err     error
	RetryIn time.Duration
	// StartFailed tells a failed start (or configure) from a process
	// that served and then went away.
	StartFailed bool
}

// Run keeps a plugin serving until ctx ends, sending each new stream on
// ups. The receiver owns the stream: it closes it when it gives up on the
// plugin, and the supervisor then kills the process and starts another.
// Run returns after ctx ended and the last process is killed.
func (s *Supervisor) Run(ctx context.Context, ups chan<- *Stream) {
	backoff := s.BackoffInitial
	starts := 0
	for ctx.Err() == nil {
		p, st, err := s.startOnce(ctx)
		starts++
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			s.down(Down{Err: err, RetryIn: backoff, StartFailed: true})
			if !sleep(ctx, backoff) {
				return
			}
			backoff = min(2*backoff, s.BackoffMax)
			continue
		}
		if s.OnUp != nil {
			s.OnUp(p.Pid(), starts-1)
		}
		began := time.Now()
		select {
		case ups <- st:
		case <-ctx.Done():
			st.Close(ctx.Err())
			p.Kill()
			return
		}
		<-st.Done()
		err = st.Err()
		if errors.Is(err, io.EOF) {
			// The owner closed its side and the plugin answered everything:
			// the stage is finishing, not the plugin failing.
			<-ctx.Done()
			p.Kill()
			return
		}
		p.Kill()
		if ctx.Err() != nil {
			return
		}
		if time.Since(began) >= s.BackoffMax {
			backoff = s.BackoffInitial
		}
		s.down(Down{Err: describeExit(p, err), RetryIn: backoff})
		if !sleep(ctx, backoff) {
			return
		}
		backoff = min(2*backoff, s.BackoffMax)
	}
}

func (s *Supervisor) down(d Down) {
	if s.OnDown != nil {
		s.OnDown(d)
	}
}

// describeExit names an ended stream's cause for the log and status.
func describeExit(p *Plugin, err error) error {
	if p.Exited() {
		return fmt.Errorf("plugin process %d exited: %w", p.Pid(), err)
	}
	return err
}

// startOnce starts, configures and opens the stream of one process.
func (s *Supervisor) startOnce(ctx context.Context) (*Plugin, *Stream, error) {
	p, err := Start(ctx, s.Config)
	if err != nil {
		return nil, nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, s.CallTimeout)
	fes, err := p.Configure(cctx, s.ConfigJSON)
	cancel()
	if err == nil && len(fes) > 0 {
		err = FieldErrorsError(fes)
	}
	if err != nil {
		p.Kill()
		return nil, nil, err
	}
	st, err := p.OpenStream(ctx, s.Window)
	if err != nil {
		p.Kill()
		return nil, nil, err
	}
	return p, st, nil
}

// FieldErrorsError joins a plugin's field errors into one error, each
// as config.FIELD: message.
func FieldErrorsError(fes []*pluginv1.FieldError) error {
	parts := make([]string, len(fes))
	for i, fe := range fes {
		parts[i] = ConfigPath(fe.GetField()) + ": " + fe.GetMessage()
	}
	return errors.New(strings.Join(parts, "; "))
}

// ConfigPath is the path of a plugin's field within the stage block.
func ConfigPath(field string) string {
	if field == "" {
		return "config"
	}
	if strings.HasPrefix(field, "[") {
		return "config" + field
	}
	return "config." + field
}

// sleep waits d or until ctx ends, reporting whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
