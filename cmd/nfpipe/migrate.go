package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"
)

func newMigrateConfigCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "migrate-config OLD_CONFIG.yaml",
		Short: "Print the pipeline equivalent to the old tool's config.yaml",
		Long: `Read the old tool's config/config.yaml (network:, web:, monitor:,
geolocation:) and print the equivalent nfpipe pipeline on standard output,
each converted value commented with the setting it came from:

  network.interface         capture interface (live)
  network.promiscuous_mode  capture promiscuous
  web.host, web.port        dashboard listen; off loopback the dashboard
                            requires a token (auth_token: ${NFPIPE_TOKEN:-generate})
  web.debug                 debug logging (nfpipe run --debug)
  monitor.session_timeout   sessionize idle_timeout (seconds)
  monitor.max_sessions      sessionize max_sessions
  geolocation.enabled       a geoip stage before the dashboard
  geolocation.database_path geoip database (optional, as before)

nfpipe run -c OLD_CONFIG.yaml runs this pipeline directly; save the output
to keep and extend it:

  nfpipe migrate-config config/config.yaml > /etc/nfpipe/pipeline.yaml`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := args[0]
			src := &pipelineSource{path: path}
			file, root, errs := src.readRoot()
			if root == nil {
				printErrors(cmd.ErrOrStderr(), errs)
				return &exitError{code: exitConfig, err: fmt.Errorf("%s: cannot read", path)}
			}
			if !isOldLayout(root) {
				if _, err := os.Stat(path); err == nil && mapGet(root, "stages") != nil {
					return &exitError{code: exitConfig, err: errors.New(path + " is already an nfpipe pipeline; run it with nfpipe run " + path)}
				}
				return &exitError{code: exitConfig, err: errors.New(path + ": not the old config.yaml layout (network:, web:, monitor:, geolocation:)")}
			}
			old, errs := parseOldConfig(file, root)
			if len(errs) > 0 {
				printErrors(cmd.ErrOrStderr(), errs)
				return &exitError{code: exitConfig, err: fmt.Errorf("%s: %d errors", path, len(errs))}
			}
			enc := yaml.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent(2)
			if err := enc.Encode(old.pipeline(file)); err != nil {
				return err
			}
			return enc.Close()
		},
	}
}
