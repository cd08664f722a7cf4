package main

import (
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// addOldToolFlags gives the root command nfpipe run's flags, which include
// the old tool's, so its command lines keep working with nfpipe in place
// of python3 main.py: nfpipe -i eth0 -p 8080 runs as nfpipe run -i eth0
// -p 8080, nfpipe --list-interfaces and nfpipe --check-deps list and
// check. nfpipe with none of them prints the help.
func addOldToolFlags(root *cobra.Command, g *globalFlags) {
	o := &runOptions{}
	addRunFlags(root, o)
	root.Args = cobra.NoArgs
	root.RunE = func(cmd *cobra.Command, args []string) error {
		given := false
		cmd.Flags().Visit(func(f *pflag.Flag) { given = given || f.Name != "log-format" })
		if !given {
			return cmd.Help()
		}
		return runWithOptions(cmd, args, o, g)
	}
}
