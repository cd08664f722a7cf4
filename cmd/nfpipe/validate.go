package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/nfpipe/nfpipe/pipeline"
	"github.com/nfpipe/nfpipe/pipeline/spec"
)

func newValidateCmd() *cobra.Command {
	var noEnv bool
	cmd := &cobra.Command{
		Use:   "validate PIPELINE.yaml...",
		Short: "Check pipeline files: schema, graph and (unless --no-environment) files and resources",
		Long: `Check pipeline files (or the old tool's config.yaml) without running them. Every problem of a file is reported at
once as file:line:col: path: message, sorted by position. Tiers: schema (fields,
types, values), graph (inputs, cycles, event kinds), environment (files exist,
databases open). Exits 78 when any file is invalid.`,
		Aliases: []string{"check"},
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			bad := 0
			for _, path := range args {
				if !validateFile(cmd.OutOrStdout(), cmd.ErrOrStderr(), path, noEnv) {
					bad++
				}
			}
			if bad > 0 {
				return &exitError{code: exitConfig, err: fmt.Errorf("%d of %d pipeline files invalid", bad, len(args))}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&noEnv, "no-environment", false, "skip checks that touch the machine (files, databases, ports)")
	return cmd
}

// validateFile prints the file's errors and warnings and reports whether it
// is valid.
func validateFile(stdout, stderr io.Writer, path string, noEnv bool) bool {
	// The loader of nfpipe run, so the old config.yaml layout is checked
	// as the pipeline it becomes.
	ld, errs := (&pipelineSource{path: path}).load()
	if ld == nil || len(errs.Fatal()) > 0 {
		printErrors(stderr, errs)
		return false
	}
	cfg := ld.cfg
	var all spec.Errors
	plan, cerrs := pipeline.Check(cfg)
	all = append(all, cerrs...)
	if plan != nil && !noEnv {
		p, berrs := pipeline.Build(plan)
		all = append(all, berrs...)
		if p != nil {
			p.Close()
		}
	}
	all.Sort()
	printErrors(stderr, all)
	if len(all.Fatal()) > 0 {
		return false
	}
	fmt.Fprintf(stdout, "%s: ok\n", path)
	return true
}

func printErrors(w io.Writer, errs spec.Errors) {
	for _, e := range errs {
		fmt.Fprintln(w, e.Error())
	}
}
