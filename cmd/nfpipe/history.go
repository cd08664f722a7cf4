package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/nfpipe/nfpipe/pipeline/event"
	"github.com/nfpipe/nfpipe/pipeline/spec"
	"github.com/nfpipe/nfpipe/sinks/sqlite/store"
)

// historyFlags are the flags shared by the commands that read the
// history a sqlite sink wrote.
type historyFlags struct {
	db, dsn      string
	since, until string
	probe        string
	limit        int
	json         bool
}

func (h *historyFlags) register(cmd *cobra.Command, defLimit int) {
	f := cmd.Flags()
	f.StringVar(&h.db, "db", "data/nfpipe.db", "SQLite history file written by a sqlite sink")
	f.StringVar(&h.dsn, "dsn", "", "PostgreSQL history instead of --db: postgres://user:pass@host:5432/db")
	f.StringVar(&h.since, "since", "1h", "start of the range: a duration back from the newest record (1h, 30m, 7d) or a time (2006-01-02T15:04:05Z, 2006-01-02 15:04)")
	f.StringVar(&h.until, "until", "", "end of the range (exclusive), in the same forms; default: the newest record")
	f.StringVar(&h.probe, "probe", "", "only the rows of this probe (default: every probe)")
	f.IntVar(&h.limit, "limit", defLimit, "rows to print")
	f.BoolVar(&h.json, "json", false, "print JSON instead of a table")
}

// open opens the history for reading, never creating or migrating it.
func (h *historyFlags) open(ctx context.Context) (*store.Store, error) {
	o := store.Options{Path: h.db, ReadOnly: true, MaxConns: 2}
	if h.dsn != "" {
		o = store.Options{DSN: h.dsn, ReadOnly: true, MaxConns: 2}
	}
	if err := store.CheckOptions(o); err != nil {
		return nil, err
	}
	return store.Open(ctx, o)
}

// span resolves --since and --until. Durations count back from the
// newest record in the history (its packet time), so "the last hour" of
// a capture replayed from years ago means its last hour, as it does for a
// live probe; an empty history counts back from now.
func (h *historyFlags) span(ctx context.Context, s *store.Store) (since, until time.Time, err error) {
	latest, err := s.Latest(ctx, h.probe)
	if err != nil {
		return since, until, fmt.Errorf("cannot read the history: %w", err)
	}
	ref := latest
	if ref.IsZero() {
		ref = time.Now().UTC()
	}
	if h.until != "" {
		if until, err = parseWhen(h.until, ref); err != nil {
			return since, until, fmt.Errorf("--until: %w", err)
		}
		ref = until
	} else if !latest.IsZero() {
		until = latest.Add(time.Nanosecond) // include the newest record
	}
	if h.since != "" {
		if since, err = parseWhen(h.since, ref); err != nil {
			return since, until, fmt.Errorf("--since: %w", err)
		}
	}
	if !until.IsZero() && !since.IsZero() && !since.Before(until) {
		return since, until, fmt.Errorf("--since %s is not before --until %s", since.Format(time.RFC3339), until.Format(time.RFC3339))
	}
	return since, until, nil
}

// parseWhen reads a duration back from ref, or an absolute time (UTC
// unless the text has a zone).
func parseWhen(s string, ref time.Time) (time.Time, error) {
	if d, err := spec.ParseDuration(s); err == nil {
		if d < 0 {
			return time.Time{}, fmt.Errorf("negative duration %q", s)
		}
		return ref.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is neither a duration (1h, 30m, 7d) nor a time (2006-01-02T15:04:05Z, 2006-01-02 15:04)", s)
}

// rangeLine describes the range a command answered for.
func rangeLine(since, until time.Time) string {
	const layout = "2006-01-02 15:04:05"
	switch {
	case since.IsZero() && until.IsZero():
		return "all records"
	case since.IsZero():
		return "until " + until.Format(layout) + " UTC"
	case until.IsZero():
		return "since " + since.Format(layout) + " UTC"
	}
	end := until.Format(layout)
	if since.Format("2006-01-02") == until.Format("2006-01-02") {
		end = until.Format("15:04:05")
	}
	return fmt.Sprintf("%s – %s UTC (%s)", since.Format(layout), end, durString(until.Sub(since).Round(time.Second)))
}

// newTopCmd is `nfpipe top`: the addresses with the most traffic.
func newTopCmd() *cobra.Command {
	var h historyFlags
	var by string
	cmd := &cobra.Command{
		Use:   "top",
		Short: "Top talkers from the history: addresses by bytes, packets or flows over a time range",
		Long: `Rank addresses by traffic over a time range, from the history a sqlite sink
writes (like nfdump -s ip/bytes). Bytes and packets count both directions;
flows are the flows an address started. Durations in --since and --until
count back from the newest record in the history.`,
		Example: `  nfpipe top --db data/nfpipe.db --since 1h
  nfpipe top --since 7d --by flows --limit 20
  nfpipe top --dsn postgres://nfpipe@db/nfpipe --probe edge-1 --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			s, err := h.open(ctx)
			if err != nil {
				return err
			}
			defer s.Close()
			since, until, err := h.span(ctx, s)
			if err != nil {
				return err
			}
			res, err := s.TopTalkers(ctx, store.TopQuery{Since: since, Until: until, By: by, Limit: h.limit, Probe: h.probe})
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if h.json {
				return writeJSON(out, struct {
					Since   time.Time      `json:"since"`
					Until   time.Time      `json:"until"`
					By      string         `json:"by"`
					Probe   string         `json:"probe,omitempty"`
					Source  string         `json:"source"`
					Res     string         `json:"resolution,omitempty"`
					Talkers []store.Talker `json:"talkers"`
				}{since, until, cmpOr(by, "bytes"), h.probe, res.Source, durString(res.Resolution), nonNil(res.Talkers)})
			}
			src := "from flows"
			if res.Source == "ip_stats" {
				src = "from per-IP rollups at " + durString(res.Resolution)
			}
			fmt.Fprintf(out, "Top %d by %s, %s, %s\n", h.limit, cmpOr(by, "bytes"), rangeLine(since, until), src)
			if len(res.Talkers) == 0 {
				fmt.Fprintln(out, "no traffic in this range")
				return nil
			}
			tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
			fmt.Fprintln(tw, "#\tIP\tBYTES\tPACKETS\tFLOWS\tIN\tOUT\tCOUNTRY\tAS\t")
			for i, t := range res.Talkers {
				as := ""
				if t.ASN != 0 {
					as = fmt.Sprintf("AS%d %s", t.ASN, t.ASOrg)
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t\n", i+1, t.IP, humanBytes(t.Bytes), humanCount(t.Packets), t.Flows,
					humanBytes(t.BytesIn), humanBytes(t.BytesOut), dash(t.CountryCode), dash(strings.TrimSpace(as)))
			}
			return tw.Flush()
		},
	}
	h.register(cmd, 10)
	cmd.Flags().StringVar(&by, "by", "bytes", "rank by bytes, packets or flows")
	return cmd
}

// newFlowsCmd is `nfpipe flows`: a search of stored flows.
func newFlowsCmd() *cobra.Command {
	var h historyFlags
	var q store.FlowQuery
	cmd := &cobra.Command{
		Use:   "flows",
		Short: "Search the flows in the history by address, port, protocol, state and time",
		Long: `Print the flows a sqlite sink stored, newest first, that ended in a time range
and match every filter given: --ip and --port match either end. Durations in
--since and --until count back from the newest record in the history. With
--json, flows are printed as JSON lines in nfpipe's JSON encoding. When more
flows match than --limit, the last line says how to get the next page.`,
		Example: `  nfpipe flows --db data/nfpipe.db --ip 192.0.2.7 --since 1h
  nfpipe flows --port 53 --proto udp --since 10m --limit 100
  nfpipe flows --state RESET --since 1d --json | jq .server.ip`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			s, err := h.open(ctx)
			if err != nil {
				return err
			}
			defer s.Close()
			if q.Since, q.Until, err = h.span(ctx, s); err != nil {
				return err
			}
			q.Probe, q.Limit = h.probe, h.limit
			page, err := s.Flows(ctx, q)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if h.json {
				var buf []byte
				for i := range page.Flows {
					buf = append(page.Flows[i].AppendJSON(buf[:0]), '\n')
					if _, err := out.Write(buf); err != nil {
						return err
					}
				}
			} else {
				printFlows(out, page.Flows, rangeLine(q.Since, q.Until))
			}
			if page.Next != "" {
				fmt.Fprintf(cmd.ErrOrStderr(), "more flows match: add --cursor %s for the next %d\n", page.Next, h.limit)
			}
			return nil
		},
	}
	h.register(cmd, 50)
	f := cmd.Flags()
	f.StringVar(&q.IP, "ip", "", "address at either end")
	f.IntVar(&q.Port, "port", 0, "port at either end")
	f.StringVar(&q.Proto, "proto", "", "protocol: tcp, udp, icmp, icmpv6, sctp or a number")
	f.StringVar(&q.State, "state", "", "TCP state: ESTABLISHED, CLOSED, RESET, SYN_SENT, …")
	f.StringVar(&q.Cursor, "cursor", "", "continue after the previous page (printed at its end)")
	return cmd
}

// printFlows prints flows as a table, nfdump style.
func printFlows(out io.Writer, flows []store.Flow, span string) {
	fmt.Fprintf(out, "%d flows, %s, newest first\n", len(flows), span)
	if len(flows) == 0 {
		return
	}
	probes := false
	for i := range flows {
		probes = probes || flows[i].Probe != ""
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	head := "LAST SEEN (UTC)\tDURATION\tPROTO\tCLIENT\tSERVER\tPACKETS\tBYTES\tSTATE\tEND\t"
	if probes {
		head += "PROBE\t"
	}
	fmt.Fprintln(tw, head)
	for i := range flows {
		f := &flows[i]
		r := f.Record()
		dur := time.Duration(f.LastSeen - f.FirstSeen)
		line := fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t",
			r.LastSeen.Std().Format("2006-01-02 15:04:05.000"), durString(dur.Round(time.Millisecond)), event.ProtoName(r.Proto),
			hostPort(r.Client), hostPort(r.Server), humanCount(f.Packets()), humanBytes(f.Bytes()), dash(f.TCPState), dash(f.EndReason))
		if probes {
			line += f.Probe + "\t"
		}
		fmt.Fprintln(tw, line)
	}
	tw.Flush()
}

func hostPort(e event.Endpoint) string {
	ip := e.IP.Unmap()
	if ip.Is6() {
		return fmt.Sprintf("[%s]:%d", ip, e.Port)
	}
	return fmt.Sprintf("%s:%d", ip, e.Port)
}

// humanBytes renders a byte count with binary prefixes, as ls -h does.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// humanCount renders a count with a metric suffix above ten thousand.
func humanCount(n int64) string {
	switch {
	case n >= 10_000_000_000:
		return fmt.Sprintf("%.1f G", float64(n)/1e9)
	case n >= 10_000_000:
		return fmt.Sprintf("%.1f M", float64(n)/1e6)
	case n >= 10_000:
		return fmt.Sprintf("%.1f k", float64(n)/1e3)
	}
	return fmt.Sprint(n)
}

// durString prints a duration without trailing zero units ("1m", not
// "1m0s").
func durString(d time.Duration) string {
	if d == 0 {
		return "0s"
	}
	s := d.String()
	for _, z := range []string{"m0s", "h0m"} {
		if strings.HasSuffix(s, z) {
			s = strings.TrimSuffix(s, z[1:])
		}
	}
	return s
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
