package geoip

import (
	"context"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	"github.com/nfpipe/nfpipe/pipeline"
	"github.com/nfpipe/nfpipe/pipeline/event"
)

// stage is a running geoip stage.
type stage struct {
	cfg   *Config
	log   *slog.Logger
	files []*dbFile
	res   *resolver

	lookups, hits, misses, labelled, notFound, errs *atomic.Uint64
	reloads, reloadErrs                             *atomic.Uint64
	hitRate, loadedGauge                            *atomic.Int64
}

// dbFile is one configured path and what is open for it.
type dbFile struct {
	path string
	db   *database // nil while missing (optional) or unreadable
	stat fileStat  // what the file looked like when last (re)opened
}

// fileStat identifies a version of a file. A missing file has the zero
// value, so its appearance is a change.
type fileStat struct {
	size  int64
	mtime time.Time
}

func statOf(path string) fileStat {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStat{}
	}
	return fileStat{size: fi.Size(), mtime: fi.ModTime()}
}

func (s *stage) loaded() []*database {
	var dbs []*database
	for _, f := range s.files {
		if f.db != nil {
			dbs = append(dbs, f.db)
		}
	}
	return dbs
}

// Run enriches batches until the input ends, checking the files for
// changes between batches.
func (s *stage) Run(ctx context.Context, env *pipeline.Env) error {
	st := env.Stats()
	s.lookups, s.hits, s.misses = st.Counter("lookups"), st.Counter("cache_hits"), st.Counter("cache_misses")
	s.labelled, s.notFound, s.errs = st.Counter("labelled_private"), st.Counter("not_found"), st.Counter("lookup_errors")
	s.reloads, s.reloadErrs = st.Counter("reloads"), st.Counter("reload_errors")
	s.hitRate, s.loadedGauge = st.Gauge("cache_hit_permille"), st.Gauge("databases_loaded")
	s.loadedGauge.Store(int64(len(s.res.dbs)))
	if len(s.res.dbs) < len(s.files) {
		st.SetHealth(pipeline.Degraded, "a geoip database is unavailable; records pass through without geo")
	}

	var tick <-chan time.Time
	if s.cfg.ReloadInterval > 0 {
		t := time.NewTicker(s.cfg.ReloadInterval)
		defer t.Stop()
		tick = t.C
	}
	in := env.Input()
	for {
		select {
		case b, ok := <-in:
			if !ok {
				return nil
			}
			env.Received(b)
			start := time.Now()
			s.process(env, b)
			b.Release()
			s.publish()
			st.AddBusy(time.Since(start))
		case <-tick:
			s.checkReload(env)
		case <-ctx.Done():
			return nil
		}
	}
}

// process enriches one batch into a copy and emits it.
func (s *stage) process(env *pipeline.Env, b *event.Batch) {
	switch b.Kind {
	case event.Flow:
		out := env.NewBatch(event.Flow)
		out.Flows = append(out.Flows, b.Flows...)
		s.enrichFlows(out.Flows)
		env.Emit(out)
	case event.IPStat:
		out := env.NewBatch(event.IPStat)
		out.IPStats = append(out.IPStats, b.IPStats...)
		s.enrichIPStats(out.IPStats)
		env.Emit(out)
	default:
		// Alerts pass through untouched: forward the shared batch.
		b.Retain(1)
		env.Emit(b)
	}
}

// enrichFlows sets geo on both ends of flows the stage owns.
func (s *stage) enrichFlows(fs []event.FlowRec) {
	for i := range fs {
		f := &fs[i]
		f.Client.Geo = s.res.geo(f.Client.IP)
		f.Server.Geo = s.res.geo(f.Server.IP)
	}
}

// enrichIPStats sets geo on ipstat records the stage owns.
func (s *stage) enrichIPStats(rs []event.IPStatRec) {
	for i := range rs {
		rs[i].Geo = s.res.geo(rs[i].IP)
	}
}

// publish moves the resolver's tally into the atomic counters, once per
// batch rather than once per address.
func (s *stage) publish() {
	t := &s.res.tally
	s.lookups.Add(t.lookups)
	s.hits.Add(t.hits)
	s.misses.Add(t.misses)
	s.labelled.Add(t.labelled)
	s.notFound.Add(t.notFound)
	s.errs.Add(t.errors)
	*t = tally{}
	h, m := s.hits.Load(), s.misses.Load()
	if h+m > 0 {
		s.hitRate.Store(int64(h * 1000 / (h + m)))
	}
}

// checkReload reopens the databases when a file changed size or
// modification time. A file that fails to open keeps its previous version.
func (s *stage) checkReload(env *pipeline.Env) {
	changed := false
	for _, f := range s.files {
		if statOf(f.path) != f.stat {
			changed = true
		}
	}
	if !changed {
		return
	}
	var old []*database
	failed, swapped := false, false
	for _, f := range s.files {
		now := statOf(f.path)
		if now == f.stat {
			continue
		}
		f.stat = now
		db, err := openDatabase(f.path)
		if err != nil {
			failed = true
			s.reloadErrs.Add(1)
			env.Stats().Errors.Add(1)
			s.log.Error("geoip database reload failed; keeping the previous version", "err", openError(f.path, err))
			continue
		}
		if f.db != nil {
			old = append(old, f.db)
		}
		f.db = db
		swapped = true
		s.log.Info("geoip database reloaded", "database", db.describe())
	}
	s.res.reset(s.loaded())
	// Geo values already handed downstream hold copies of the strings,
	// not views into the mapped file, so the old files can be unmapped.
	for _, db := range old {
		db.close()
	}
	if swapped {
		s.reloads.Add(1)
	}
	s.loadedGauge.Store(int64(len(s.res.dbs)))
	switch {
	case failed:
		env.Stats().SetHealth(pipeline.Degraded, "a geoip database failed to reload; see the log")
	case len(s.res.dbs) < len(s.files):
		env.Stats().SetHealth(pipeline.Degraded, "a geoip database is unavailable; records pass through without geo")
	default:
		env.Stats().SetHealth(pipeline.Healthy, "")
	}
}

// Close unmaps the databases. The runtime calls it after Run returns.
func (s *stage) Close() error {
	s.closeAll()
	return nil
}

func (s *stage) closeAll() {
	for _, f := range s.files {
		f.db.close()
		f.db = nil
	}
}

var _ pipeline.Component = (*stage)(nil)
