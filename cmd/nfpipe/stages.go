package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/nfpipe/nfpipe/pipeline"
	"github.com/nfpipe/nfpipe/pipeline/spec"
)

func newStagesCmd() *cobra.Command {
	return withPluginStages(&cobra.Command{
		Use:     "stages [TYPE]",
		Aliases: []string{"list", "docs-for"},
		Short:   "List component types, or show the reference of one",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			out := cmd.OutOrStdout()
			if len(args) == 1 {
				reg, ok := pipeline.Default.Lookup(args[0])
				if !ok {
					var names []string
					for _, r := range pipeline.Default.All() {
						names = append(names, r.Spec.Name)
					}
					msg := fmt.Sprintf("unknown component type %q", args[0])
					if s := spec.Suggest(args[0], names); s != "" {
						msg += fmt.Sprintf("; did you mean %q?", s)
					}
					return fmt.Errorf("%s", msg)
				}
				fmt.Fprint(out, spec.Text(reg.Spec))
				return nil
			}
			tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "TYPE\tROLE\tSTABILITY\tSUMMARY")
			for _, r := range pipeline.Default.All() {
				role := string(r.Spec.Role)
				if r.Spec.Source {
					role = "source"
				}
				st := r.Spec.Stability
				if st == "" {
					st = spec.Beta
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Spec.Name, role, st, r.Spec.Summary)
			}
			tw.Flush()
			fmt.Fprintln(out, "\nRun `nfpipe stages TYPE` for a type's fields and examples.")
			return nil
		},
	})
}
