package geoip

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/nfpipe/nfpipe/pipeline"
	"github.com/nfpipe/nfpipe/pipeline/event"
	"github.com/nfpipe/nfpipe/pipeline/spec"
)

// Config is the geoip stage's configuration; see the spec for each field.
type Config struct {
	Database       string        `yaml:"database"`
	Databases      []string      `yaml:"databases"`
	Optional       bool          `yaml:"optional"`
	CacheSize      int           `yaml:"cache_size"`
	ReloadInterval time.Duration `yaml:"reload_interval"`
}

// paths returns every configured database path in order.
func (c *Config) paths() []string {
	var out []string
	if c.Database != "" {
		out = append(out, c.Database)
	}
	return append(out, c.Databases...)
}

// Validate checks that at least one database is named.
func (c *Config) Validate() error {
	ps := c.paths()
	if len(ps) == 0 {
		return &spec.FieldError{Field: "databases", Msg: "no database given; set databases: [data/geo-whois-asn-country.mmdb] (run make geoip to fetch it) or your own GeoLite2-City.mmdb"}
	}
	if len(ps) > maxDatabases {
		return &spec.FieldError{Field: "databases", Msg: fmt.Sprintf("%d databases given; use at most %d (one City or Country file and one ASN file are usually enough)", len(ps), maxDatabases)}
	}
	seen := map[string]bool{}
	for _, p := range ps {
		if seen[p] {
			return &spec.FieldError{Field: "databases", Msg: fmt.Sprintf("database %q is listed twice; list each file once", p)}
		}
		seen[p] = true
	}
	return nil
}

var componentSpec = &spec.Component{
	Name:        "geoip",
	Role:        spec.RoleStage,
	Summary:     "Adds country, city, coordinates, AS number and organisation to both ends of flows and to ipstat records, from .mmdb databases.",
	Stability:   spec.Beta,
	Accepts:     event.KindsOf(event.Flow, event.IPStat, event.Alert),
	Passthrough: true,
	Description: `
Every flow gets geo on its client and server endpoint, every ipstat record on
its address; alerts pass through unchanged. The stage copies records into new
batches and never modifies its input. Geo values are shared between records
and must be treated as read-only by every consumer.

Databases are MaxMind DB (.mmdb) files: GeoLite2 and GeoIP2 City, Country and
ASN, DB-IP Lite files, and the flat files of ip-location-db (country_code,
city, latitude, longitude). Each file's layout is detected when it is opened,
from its metadata and its records, so any mix works:
databases: [GeoLite2-City.mmdb, GeoLite2-ASN.mmdb]. With several files, the
first one that knows a field wins, field by field. Files that hold only
country codes get the English country name from a built-in ISO 3166 table.
make geoip fetches a freely licensed country database into data/; the file
is never committed.

Addresses in special-purpose ranges are labelled without a lookup, in geo.label:
private (10/8, 172.16/12, 192.168/16), loopback, link-local, cgnat
(100.64/10), multicast, ula (fc00::/7), unspecified and broadcast. IPv4-mapped
IPv6 addresses are looked up as IPv4.

Results are kept in an LRU cache of cache_size addresses. On a miss the
database trees are walked; addresses whose records were already decoded
(every address of a network shares one record) reuse the same Geo value, so
a miss costs a few hundred nanoseconds and rarely allocates.

A database that is missing or unreadable fails validation with its path and
the fix. With optional: true it is a warning instead, and records pass
through without geo (special ranges are still labelled) until the file
appears. Every reload_interval the files' size and modification time are
checked; a changed file is reopened and swapped in between two batches, and
the cache is cleared. Replace a database by writing a new file and renaming
it over the old one (as make geoip does): rewriting a file in place while it
is mapped is not safe. A file that fails to open on reload is reported and
the previous version stays in use.

The stage works on one goroutine and applies backpressure like any stage.`,
	Fields: []*spec.Field{
		spec.String("database").Opt().Ex("data/GeoLite2-City.mmdb").
			Description("One .mmdb file; relative to the pipeline file's directory. Use databases for several."),
		spec.List("databases").Opt().Ex("[data/GeoLite2-City.mmdb, data/GeoLite2-ASN.mmdb]").
			Description("Several .mmdb files (City, Country, ASN, DB-IP or ip-location-db), read together; relative to the pipeline file's directory."),
		spec.Bool("optional").Default("false").
			Description("Start without a missing or unreadable database (a warning) and pass records through until it appears."),
		spec.Int("cache_size").Default("65536").Range(1, 1<<24).
			Description("Addresses kept in the LRU cache of lookup results."),
		spec.Duration("reload_interval").Default("5s").
			Description("How often to check the files for changes and reload them; 0 turns reloading off."),
	},
	Examples: []spec.Example{
		{Title: "Country from make geoip, optional", YAML: "inputs: [sessions, stats]\ndatabase: ../data/geo-whois-asn-country.mmdb\noptional: true\n"},
		{Title: "GeoLite2 City and ASN with a larger cache", YAML: "inputs: [sessions]\ndatabases: [data/GeoLite2-City.mmdb, data/GeoLite2-ASN.mmdb]\ncache_size: 262144\n"},
	},
	Metrics: []spec.Metric{
		{Name: "lookups", Doc: "Addresses enriched (two per flow, one per ipstat record)."},
		{Name: "labelled_private", Doc: "Addresses in private or other special-purpose ranges, labelled without a lookup."},
		{Name: "cache_hits", Doc: "Lookups answered by the cache."},
		{Name: "cache_misses", Doc: "Lookups that walked the databases."},
		{Name: "not_found", Doc: "Cache misses that no database knew."},
		{Name: "lookup_errors", Doc: "Corrupt records met during lookups (the field is left empty)."},
		{Name: "reloads", Doc: "Times the databases were reopened after a file changed."},
		{Name: "reload_errors", Doc: "Changed files that failed to open; the previous version stays in use."},
		{Name: "cache_hit_permille", Doc: "Gauge: cache_hits per thousand of cache lookups (hits + misses) since start."},
		{Name: "databases_loaded", Doc: "Gauge: databases currently in use."},
	},
}

func init() { pipeline.Register(componentSpec, newStage) }

// newStage opens every database. A missing or unreadable file is an error
// unless the config says optional.
func newStage(cfg *Config, bc *pipeline.BuildContext) (pipeline.Component, error) {
	s := &stage{cfg: cfg, log: bc.Logger}
	if s.log == nil {
		s.log = slog.Default()
	}
	for _, p := range cfg.paths() {
		if !filepath.IsAbs(p) && bc.Dir != "" {
			p = filepath.Join(bc.Dir, p)
		}
		s.files = append(s.files, &dbFile{path: p})
	}
	var errs []error
	for _, f := range s.files {
		f.stat = statOf(f.path)
		db, err := openDatabase(f.path)
		if err != nil {
			errs = append(errs, openError(f.path, err))
			continue
		}
		f.db = db
	}
	if err := errors.Join(errs...); err != nil {
		if !cfg.Optional {
			s.closeAll()
			return nil, err
		}
		s.log.Warn("geoip database unavailable; records pass through without geo until it appears", "err", err)
	}
	for _, f := range s.files {
		if f.db != nil {
			s.log.Info("geoip database loaded", "database", f.db.describe())
		}
	}
	s.res = newResolver(s.loaded(), cfg.CacheSize)
	return s, nil
}

// openError says what is wrong with a database file and how to fix it.
func openError(path string, err error) error {
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("database %q not found; run make geoip to fetch a free one, point database at your own GeoLite2-City.mmdb, or set optional: true", path)
	}
	return fmt.Errorf("database %q: %w; use a readable MaxMind DB (.mmdb) file, or set optional: true", path, err)
}
