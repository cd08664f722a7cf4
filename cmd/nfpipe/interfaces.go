package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/nfpipe/nfpipe/stages/capture"
)

func newInterfacesCmd() *cobra.Command {
	var asJSON bool
	var netns string
	cmd := &cobra.Command{
		Use:   "interfaces",
		Short: "List the network interfaces to capture on: name, index, state, MTU, addresses, link type",
		Long: `List the network interfaces live capture can use (interface: in a pipeline,
or nfpipe run -i NAME). The interface of the default route is marked with *;
"default" names it in a pipeline. Link types afpacket cannot capture are
marked "(pcap only)".`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return listInterfaces(cmd, netns, asJSON)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().StringVar(&netns, "netns", "", "list the interfaces of this network namespace (a name from ip netns)")
	return cmd
}

func listInterfaces(cmd *cobra.Command, netns string, asJSON bool) error {
	ifs, err := capture.ListInterfaces(netns)
	if err != nil {
		return fmt.Errorf("list interfaces: %w", err)
	}
	w := cmd.OutOrStdout()
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(ifs)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tINDEX\tSTATE\tMTU\tLINK TYPE\tADDRESSES")
	for _, i := range ifs {
		name := i.Name
		if i.Default {
			name += " *"
		}
		link := i.LinkType
		if !i.Supported {
			link += " (pcap only)"
		}
		addrs := strings.Join(i.Addresses, ", ")
		if addrs == "" {
			addrs = "-"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%s\t%s\n", name, i.Index, i.State(), i.MTU, link, addrs)
	}
	return tw.Flush()
}
