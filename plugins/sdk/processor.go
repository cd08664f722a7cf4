package sdk

import (
	"context"
	"errors"
	"strings"

	"github.com/nfpipe/nfpipe/pipeline/event"
	pluginv1 "github.com/nfpipe/nfpipe/plugins/proto/nfpipe/plugin/v1"
)

// Processor is what a plugin implements: a stage over typed events.
//
// A plugin process serves one stage instance. nfpipe calls Configure once
// after starting the process (and again after every restart, in a new
// process), then Process for every batch, one call at a time.
type Processor interface {
	// Configure checks and applies the stage's config block, given as
	// JSON after the SDK has checked it against the spec's fields and
	// filled in their defaults (decode it with DecodeConfig). Return a
	// *FieldError or FieldErrors to blame fields; nfpipe shows them as
	// stages.NAME.config.FIELD: message.
	//
	// Unless the processor implements Validator, Configure is also how
	// `nfpipe validate` checks a config: in a plugin process started only
	// for that, so Configure must have no effect outside the processor
	// (reading files is fine; binding ports is not).
	Configure(config []byte) error
	// Process handles one batch of events of one kind (b.Kind is one of
	// the spec's Accepts). b belongs to the plugin for the call: change
	// records in place (add tags or attrs, rewrite fields), remove records
	// to filter them out, and return alerts to raise. What is left in b
	// is passed on. b and its records are reused after Process returns:
	// copy anything you keep.
	//
	// An error fails the whole batch: nfpipe passes on or drops the
	// batch's original records as the stage's on_error says, and counts
	// the error. ctx ends when the stage stops or the host gives up on the
	// batch (its timeout); it carries the plugin's counters
	// (CountersFrom).
	Process(ctx context.Context, b *event.Batch) ([]event.AlertRec, error)
}

// Validator is implemented by processors that can check a config without
// applying it; `nfpipe validate` then calls Validate instead of Configure.
type Validator interface {
	Validate(config []byte) error
}

// FieldError blames one field of the config block.
type FieldError struct {
	// Field is the dotted path within the config block, with [i] for list
	// items, e.g. "lists[0]" or "limits.max"; empty blames the whole block.
	Field string
	// Msg says what is wrong and how to fix it, lower case.
	Msg string
}

func (e *FieldError) Error() string {
	if e.Field == "" {
		return e.Msg
	}
	return e.Field + ": " + e.Msg
}

// FieldErrors is several FieldError values, reported at once.
type FieldErrors []*FieldError

func (es FieldErrors) Error() string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = e.Error()
	}
	return strings.Join(s, "; ")
}

// Errorf returns a FieldError for field.
func Errorf(field, msg string) *FieldError { return &FieldError{Field: field, Msg: msg} }

// toProto turns Configure's error into wire field errors.
func fieldErrorsToProto(err error) []*pluginv1.FieldError {
	if err == nil {
		return nil
	}
	var fes FieldErrors
	var fe *FieldError
	switch {
	case errors.As(err, &fes):
	case errors.As(err, &fe):
		fes = FieldErrors{fe}
	default:
		return []*pluginv1.FieldError{{Message: err.Error()}}
	}
	out := make([]*pluginv1.FieldError, 0, len(fes))
	for _, e := range fes {
		out = append(out, &pluginv1.FieldError{Field: e.Field, Message: e.Msg})
	}
	return out
}
