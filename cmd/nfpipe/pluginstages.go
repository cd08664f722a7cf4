package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"

	"github.com/nfpipe/nfpipe/pipeline"
	"github.com/nfpipe/nfpipe/pipeline/config"
	"github.com/nfpipe/nfpipe/pipeline/spec"
)

// withPluginStages adds --pipeline FILE to the stages command: with it,
// the command starts every plugin stage FILE declares, asks it for its
// spec and prints the spec like a built-in stage's.
func withPluginStages(cmd *cobra.Command) *cobra.Command {
	var file string
	cmd.Flags().StringVar(&file, "pipeline", "", "print the spec of every plugin stage of this pipeline file (starts the plugins)")
	inner := cmd.RunE
	cmd.RunE = func(c *cobra.Command, args []string) error {
		if file == "" {
			return inner(c, args)
		}
		if len(args) > 0 {
			return fmt.Errorf("give either a type or --pipeline, not both")
		}
		return printPluginStages(c.OutOrStdout(), c.ErrOrStderr(), file)
	}
	return cmd
}

// pluginDescriber is what the plugin stage offers besides running.
type pluginDescriber interface {
	PluginSpec() *spec.Component
	Command() []string
}

// printPluginStages builds only the plugin stages of a pipeline file
// (which starts each plugin once) and prints their specs in file order.
func printPluginStages(stdout, stderr io.Writer, path string) error {
	cfg, errs := config.Load(path)
	if len(errs.Fatal()) > 0 {
		printErrors(stderr, errs)
		return &exitError{code: exitConfig, err: fmt.Errorf("%s is invalid", path)}
	}
	reg, ok := pipeline.Default.Lookup("plugin")
	if !ok {
		return errors.New("this nfpipe has no plugin stage")
	}
	found := 0
	var bad spec.Errors
	for _, d := range cfg.Decls {
		if d.Type != "plugin" {
			continue
		}
		found++
		dec := &spec.Decoder{File: cfg.File}
		c := reg.NewConfig()
		if !dec.DecodeComponent(reg.Spec, d.Node, d.Path, c) {
			bad = append(bad, dec.Errs...)
			continue
		}
		comp, err := reg.Build(c, &pipeline.BuildContext{Name: d.Name, Dir: cfg.Dir, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			e := spec.Error{File: cfg.File, Path: d.Path, Msg: err.Error()}
			if d.TypeNode != nil {
				e.Line, e.Col = d.TypeNode.Line, d.TypeNode.Column
			}
			bad = append(bad, e)
			continue
		}
		if cl, ok := comp.(io.Closer); ok {
			defer cl.Close()
		}
		pd, ok := comp.(pluginDescriber)
		if !ok || pd.PluginSpec() == nil {
			return fmt.Errorf("%s: the plugin stage did not describe its plugin", d.Path)
		}
		fmt.Fprintf(stdout, "# %s: %s\n", d.Path, strings.Join(pd.Command(), " "))
		fmt.Fprint(stdout, spec.Text(pd.PluginSpec()))
		fmt.Fprintln(stdout)
	}
	if len(bad) > 0 {
		bad.Sort()
		printErrors(stderr, bad)
		return &exitError{code: exitConfig, err: fmt.Errorf("%d plugin stages of %s cannot be described", len(bad), path)}
	}
	if found == 0 {
		fmt.Fprintf(stdout, "%s declares no plugin stages\n", path)
	}
	return nil
}
