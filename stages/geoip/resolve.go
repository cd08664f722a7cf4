package geoip

import (
	"net/netip"

	"github.com/nfpipe/nfpipe/pipeline/event"
)

// maxDatabases bounds how many files one stage reads, so the key of the
// interning table is a fixed-size array.
const maxDatabases = 8

// resolver turns addresses into shared, immutable *event.Geo values: first
// the special-range labels, then the LRU cache, then the databases. It is
// used by one goroutine.
type resolver struct {
	dbs   []*database
	cache *lru
	// intern maps the combination of record offsets an address resolves
	// to onto the Geo built from them. Every address of a network shares
	// a record, so a cache miss for a known network costs only the tree
	// walks: no decode and no allocation.
	intern    map[internKey]*event.Geo
	internMax int
	tally     tally
}

type internKey struct {
	off [maxDatabases]uintptr
}

// tally counts what the resolver did since the counters were last
// published; the stage adds it to its atomic counters once per batch.
type tally struct {
	lookups, hits, misses, labelled, notFound, errors uint64
}

func newResolver(dbs []*database, cacheSize int) *resolver {
	return &resolver{
		dbs:       dbs,
		cache:     newLRU(cacheSize),
		intern:    make(map[internKey]*event.Geo),
		internMax: 4 * cacheSize,
	}
}

// geo returns the location of ip, or nil when no database knows it.
func (r *resolver) geo(ip netip.Addr) *event.Geo {
	if !ip.IsValid() {
		return nil
	}
	ip = ip.Unmap()
	r.tally.lookups++
	if g := specialGeo(ip); g != nil {
		r.tally.labelled++
		return g
	}
	if len(r.dbs) == 0 {
		return nil
	}
	if g, ok := r.cache.get(ip); ok {
		r.tally.hits++
		return g
	}
	r.tally.misses++
	g := r.resolve(ip)
	if g == nil {
		r.tally.notFound++
	}
	r.cache.put(ip, g)
	return g
}

func (r *resolver) resolve(ip netip.Addr) *event.Geo {
	var key internKey
	found := false
	for i, d := range r.dbs {
		off, err := d.find(ip)
		if err != nil {
			r.tally.errors++
		}
		key.off[i] = off
		found = found || off != notFound
	}
	if !found {
		return nil
	}
	if g, ok := r.intern[key]; ok {
		return g
	}
	var f geoFields
	for i, d := range r.dbs {
		if key.off[i] == notFound {
			continue
		}
		if err := d.fill(key.off[i], &f); err != nil {
			r.tally.errors++
		}
	}
	g := &event.Geo{
		CountryCode: f.countryCode,
		Country:     f.country,
		City:        f.city,
		Lat:         f.lat,
		Lon:         f.lon,
		ASN:         f.asn,
		ASOrg:       f.asOrg,
	}
	if g.Country == "" {
		g.Country = countryNames[g.CountryCode]
	}
	if *g == (event.Geo{}) {
		g = nil // a record with none of the fields nfpipe reads
	}
	if len(r.intern) >= r.internMax {
		// Start over rather than track recency: the table only saves
		// decodes, and the LRU in front of it keeps the hot addresses.
		clear(r.intern)
	}
	r.intern[key] = g
	return g
}

// reset forgets every cached result, after the databases changed.
func (r *resolver) reset(dbs []*database) {
	r.dbs = dbs
	r.cache.reset()
	clear(r.intern)
}
