package sqlite

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nfpipe/nfpipe/pipeline"
	"github.com/nfpipe/nfpipe/pipeline/event"
	"github.com/nfpipe/nfpipe/pipeline/spec"
	"github.com/nfpipe/nfpipe/sinks/sqlite/store"
)

// Config is the sqlite sink's configuration; see the spec for each field.
type Config struct {
	Path              string            `yaml:"path"`
	DSN               string            `yaml:"dsn"`
	Probe             string            `yaml:"probe"`
	BatchSize         int               `yaml:"batch_size"`
	FlushPeriod       time.Duration     `yaml:"flush_period"`
	MaxPending        int               `yaml:"max_pending"`
	Rollups           []string          `yaml:"rollups"`
	Retention         map[string]string `yaml:"retention"`
	RetentionInterval time.Duration     `yaml:"retention_interval"`
	BusyTimeout       time.Duration     `yaml:"busy_timeout"`
}

// Validate checks what the field types cannot.
func (c *Config) Validate() error {
	var errs spec.FieldErrors
	if c.DSN != "" {
		if err := store.CheckOptions(store.Options{DSN: c.DSN}); err != nil {
			errs = append(errs, &spec.FieldError{Field: "dsn", Msg: err.Error() + "; e.g. postgres://user:password@host:5432/nfpipe?sslmode=disable"})
		}
	} else if strings.TrimSpace(c.Path) == "" {
		errs = append(errs, &spec.FieldError{Field: "path", Msg: "path is empty; set a database file such as data/nfpipe.db, or dsn for PostgreSQL"})
	}
	widths, err := parseRollups(c.Rollups)
	if err != nil {
		errs = append(errs, &spec.FieldError{Field: "rollups", Msg: err.Error()})
	}
	if _, err := parseRetention(c.Retention, widths); err != nil {
		errs = append(errs, &spec.FieldError{Field: "retention", Msg: err.Error()})
	}
	if c.MaxPending < c.BatchSize {
		errs = append(errs, &spec.FieldError{Field: "max_pending", Msg: fmt.Sprintf("max_pending %d is smaller than batch_size %d; raise it", c.MaxPending, c.BatchSize)})
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// parseRollups reads and checks the rollup widths.
func parseRollups(list []string) ([]time.Duration, error) {
	if len(list) == 0 {
		return nil, fmt.Errorf("rollups is empty; keep at least one width, e.g. [1m, 5m, 1h]")
	}
	var ws []time.Duration
	for _, s := range list {
		d, err := spec.ParseDuration(s)
		if err != nil {
			return nil, fmt.Errorf("invalid rollup width %q; use durations such as 1m, 5m, 1h", s)
		}
		ws = append(ws, d)
	}
	return store.CheckRollups(ws)
}

// retentionKeys lists the tables that take a retention, for messages.
func retentionKeys(widths []time.Duration) []string {
	keys := []string{"flows", "alerts", "events", "batches"}
	for _, w := range widths {
		keys = append(keys, store.TableName(w))
	}
	return keys
}

// parseRetention lays the configured retention over the defaults: a key
// left out keeps its default, "0" or "forever" keeps rows for ever.
func parseRetention(m map[string]string, widths []time.Duration) (store.Retention, error) {
	r := store.DefaultRetention()
	defaults := r.IPStats
	r.IPStats = map[time.Duration]time.Duration{}
	for _, w := range widths {
		// A width without a default keeps the default of the next
		// coarser one, or 90 days.
		keep := 90 * 24 * time.Hour
		if d, ok := defaults[w]; ok {
			keep = d
		}
		r.IPStats[w] = keep
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := strings.TrimSpace(m[k])
		var d time.Duration
		if v != "forever" {
			var err error
			if d, err = spec.ParseDuration(v); err != nil || d < 0 {
				return r, fmt.Errorf("%s: invalid duration %q; use e.g. 7d, 48h, or forever", k, v)
			}
		}
		switch k {
		case "flows":
			r.Flows = d
		case "alerts":
			r.Alerts = d
		case "events":
			r.Events = d
		case "batches":
			r.Batches = d
		default:
			w, ok := store.ParseRollupKey(k)
			if _, known := r.IPStats[w]; !ok || !known {
				msg := fmt.Sprintf("unknown table %q", k)
				if s := spec.Suggest(k, retentionKeys(widths)); s != "" {
					msg += fmt.Sprintf("; did you mean %q?", s)
				}
				return r, fmt.Errorf("%s (tables: %s)", msg, strings.Join(retentionKeys(widths), ", "))
			}
			r.IPStats[w] = d
		}
	}
	return r, nil
}

// componentSpec is the single description of the sink.
var componentSpec = &spec.Component{
	Name:      "sqlite",
	Role:      spec.RoleSink,
	Summary:   "Keeps the history: flows, per-IP rollups, alerts and system events in SQLite, or PostgreSQL for many probes.",
	Stability: spec.Beta,
	Accepts:   event.KindsOf(event.Flow, event.IPStat, event.Alert),
	Description: `
Every ended flow (and at shutdown every flow still open, which sessionize
ends with reason shutdown) is stored with all fields of the JSON contract,
geo and tags included; interim flow updates are skipped. Per-IP interval
records are rolled up into buckets of each width in rollups, aligned in
packet time (an interval counts in the bucket holding its start), so a
month of history stays small. Alerts are stored as they arrive, and the
pipeline's system events (started, paused, resumed, errors, stopped) are
stored too.

Rows are written by one writer in transactions of up to batch_size flows,
at least every flush_period; each transaction also records a row in the
batches table, so after a crash the database holds whole batches. SQLite
runs in WAL mode with synchronous=NORMAL (no committed batch is lost if the
process is killed), incremental auto-vacuum and a busy timeout. The
database and its directory are created on start; the schema is versioned
and upgraded in place, keeping the data.

With dsn the same tables live in PostgreSQL, and probe names this instance
in every row, so several nfpipe instances can write one database; the query
layer (the dashboard, nfpipe top and nfpipe flows) answers for one probe or
all. Without probe, a PostgreSQL sink uses the host name.

Retention runs by itself every retention_interval and when the sink stops:
flows, rollups and alerts older than their limit, measured back from the
newest packet time written, are deleted (events and batches age in wall
time), and SQLite returns the freed pages to the file system. Each instance
prunes only its own probe's rows.

Backpressure and faults: rows wait in a buffer of max_pending rows. While
the database works but is slower than the input, a full buffer holds the
input back, and the input's buffer.when_full decides whether the producer
waits (block) or batches are dropped (drop_newest). While the database is
locked, unreachable or full, the writer retries with exponential backoff
(100ms to 10s) and the sink is degraded (unhealthy when the disk is full):
the buffer fills, and rows beyond it are dropped, counted in dropped and
rows_dropped and logged at most every 10s, so capture never stalls on the
database. A row the database rejects outright is dropped and counted the
same way. When the input ends, everything buffered is written (retrying
until it is, or until a forced stop) before the sink returns.`,
	Fields: []*spec.Field{
		spec.String("path").Default("data/nfpipe.db").Description("SQLite database file, created with its directory; relative to the pipeline file's directory. Ignored with dsn."),
		spec.String("dsn").Opt().Sensitive().Ex("postgres://nfpipe:secret@db:5432/nfpipe?sslmode=disable").Description("PostgreSQL connection URL; when set, the history goes to PostgreSQL instead of path."),
		spec.String("probe").Opt().Ex("edge-1").Description("Name of this instance, stored in every row; defaults to the host name with dsn, empty with SQLite."),
		spec.Int("batch_size").Default("1000").Range(1, 100000).Description("Most flows written in one transaction."),
		spec.Duration("flush_period").Default("1s").Description("Longest time a row waits before it is written."),
		spec.Int("max_pending").Default("100000").Min(1).Adv().Description("Rows buffered while the database is slow or down; beyond this, new rows wait (database slow) or are dropped (database failing)."),
		spec.List("rollups").Default("[1m, 5m, 1h]").Description("Bucket widths of the per-IP rollups; each a multiple of the previous one."),
		spec.Map("retention").Default("{}").Ex("{flows: 7d, ip_stats_1m: 2d, ip_stats_1h: 90d}").Description(
			"How long each table keeps rows (flows, alerts, events, batches, ip_stats_<width>); unlisted tables keep their defaults: flows 7d, ip_stats_1m 2d, ip_stats_5m 14d, ip_stats_1h 90d, alerts 90d, events 90d, batches 7d; 0 or forever keeps everything."),
		spec.Duration("retention_interval").Default("10m").Adv().Description("How often retention runs; it also runs when the sink stops."),
		spec.Duration("busy_timeout").Default("5s").Adv().Description("How long SQLite waits for a lock held by another process before the writer backs off and retries."),
	},
	Examples: []spec.Example{
		{Title: "Local history next to the pipeline", YAML: "inputs: [sessions, stats, alerts]\npath: data/nfpipe.db\n"},
		{Title: "Shorter raw flows, longer hourly rollups", YAML: "inputs: [sessions, stats]\nretention: {flows: 2d, ip_stats_1h: 365d}\n"},
		{Title: "Several probes into one PostgreSQL database", YAML: "inputs: [sessions, stats, alerts]\ndsn: postgres://nfpipe:secret@db.example:5432/nfpipe?sslmode=require\nprobe: edge-1\n"},
	},
	Metrics: []spec.Metric{
		{Name: "flows_written", Doc: "flow rows committed"},
		{Name: "ip_stats_written", Doc: "rollup rows inserted or added to"},
		{Name: "alerts_written", Doc: "alert rows committed"},
		{Name: "events_written", Doc: "system event rows committed"},
		{Name: "transactions", Doc: "write transactions committed (one row each in batches)"},
		{Name: "rows_dropped", Doc: "rows lost: buffer full while the database failed, rejected by the database, or left at a forced stop"},
		{Name: "flow_updates_skipped", Doc: "interim flow updates, which are not stored"},
		{Name: "write_retries", Doc: "failed write attempts that were retried"},
		{Name: "pruned_rows", Doc: "rows deleted by retention"},
		{Name: "pending_rows", Doc: "gauge: rows buffered, not yet written"},
	},
}

func init() { pipeline.Register(componentSpec, build) }

// settings is a validated, resolved Config.
type settings struct {
	opts      store.Options
	batch     int
	flush     time.Duration
	maxPend   int
	widths    []time.Duration
	retention store.Retention
	retEvery  time.Duration
}

// Sink is the sqlite sink. Its Store is the query layer over the same
// database, for the dashboard (found through BuildContext.Lookup).
type Sink struct {
	name string
	set  settings
	log  *slog.Logger
	ctl  pipeline.Control

	// The store is created on first use, by Run or by Store, whichever
	// comes first; nothing touches the database before that.
	stOnce sync.Once
	st     *store.Store
	stErr  error

	// System events are queued from the constructor on (the pipeline
	// records "started" before Run) until Close (it records "stopped"
	// after Run).
	ready        atomic.Bool // Run connected and migrated the database
	events       *eventQueue
	unsub        func()
	closeMu      sync.Mutex
	closed       bool
	finalTimeout time.Duration
}

var _ pipeline.Component = (*Sink)(nil)

func build(cfg *Config, bc *pipeline.BuildContext) (pipeline.Component, error) {
	widths, err := parseRollups(cfg.Rollups)
	if err != nil {
		return nil, err
	}
	ret, err := parseRetention(cfg.Retention, widths)
	if err != nil {
		return nil, err
	}
	probe := cfg.Probe
	if probe == "" && cfg.DSN != "" {
		if h, err := os.Hostname(); err == nil {
			probe = h
		}
	}
	opts := store.Options{DSN: cfg.DSN, Probe: probe, BusyTimeout: cfg.BusyTimeout}
	if cfg.DSN == "" {
		opts.Path = cfg.Path
		if !filepath.IsAbs(opts.Path) && bc.Dir != "" {
			opts.Path = filepath.Join(bc.Dir, opts.Path)
		}
		if err := checkWritableDir(opts.Path); err != nil {
			return nil, err
		}
	}
	if err := store.CheckOptions(opts); err != nil {
		return nil, err
	}
	k := &Sink{
		name: bc.Name,
		log:  bc.Logger,
		ctl:  bc.Control,
		set: settings{
			opts: opts, batch: cfg.BatchSize, flush: cfg.FlushPeriod, maxPend: cfg.MaxPending,
			widths: widths, retention: ret, retEvery: cfg.RetentionInterval,
		},
		events:       newEventQueue(eventQueueSize),
		finalTimeout: 5 * time.Second,
	}
	if k.log == nil {
		k.log = slog.Default()
	}
	if k.ctl != nil {
		k.unsub = k.ctl.SubscribeEvents(k.events.add)
	}
	return k, nil
}

// checkWritableDir fails early, at validation, for a database path whose
// nearest existing directory cannot be written, without creating
// anything.
func checkWritableDir(path string) error {
	dir := filepath.Dir(path)
	for {
		fi, err := os.Stat(dir)
		if err == nil {
			if !fi.IsDir() {
				return fmt.Errorf("cannot create %q: %s is not a directory; choose another path", path, dir)
			}
			f, err := os.CreateTemp(dir, ".nfpipe-check-*")
			if err != nil {
				return fmt.Errorf("cannot write the database %q: %v; choose a writable path", path, unwrapPath(err))
			}
			f.Close()
			os.Remove(f.Name())
			return nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return nil
		}
		dir = parent
	}
}

func unwrapPath(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

// Store returns the history's query layer (and write path). It is never
// nil once the sink is built; until Run has connected and migrated the
// database, queries may fail. The dashboard reaches it with
// bc.Lookup(name) and an interface{ Store() *store.Store } assertion.
func (k *Sink) Store() *store.Store {
	st, _ := k.store()
	return st
}

func (k *Sink) store() (*store.Store, error) {
	k.stOnce.Do(func() { k.st, k.stErr = store.New(k.set.opts) })
	return k.st, k.stErr
}

// Where names the database for messages: the file, or the DSN without its
// password.
func (k *Sink) Where() string {
	if k.set.opts.DSN != "" {
		if st, err := k.store(); err == nil {
			return st.Where()
		}
		return "PostgreSQL"
	}
	return k.set.opts.Path
}
