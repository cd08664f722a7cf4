package geoip

import (
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/oschwald/maxminddb-golang/v2"
)

// layout is how a database lays out its records.
type layout uint8

const (
	// layoutNested is the GeoIP2 layout (GeoLite2/GeoIP2 City, Country and
	// ASN, DB-IP Lite): country{iso_code, names{en}}, city{names{en}},
	// location{latitude, longitude}, autonomous_system_number, ...
	layoutNested layout = iota + 1
	// layoutFlat is the ip-location-db layout: country_code, city,
	// latitude, longitude as top-level keys.
	layoutFlat
)

func (l layout) String() string {
	if l == layoutFlat {
		return "flat"
	}
	return "geoip2"
}

// database is one open .mmdb file.
type database struct {
	path   string
	r      *maxminddb.Reader
	layout layout
	kind   string // city, country or asn: what its records hold
	dbType string // database_type from the metadata
	built  time.Time
	v4only bool

	// Scratch records reused for every decode: the stage decodes on one
	// goroutine, and a reused record keeps a decode from allocating it.
	nested nestedRecord
	flat   flatRecord
}

// nestedRecord holds the few fields nfpipe reads from a GeoIP2-layout
// record. Decoding into this small struct instead of geoip2-golang's full
// City model skips every other key (subdivisions, postal codes, all other
// languages), which is what makes a cache miss cheap.
type nestedRecord struct {
	City struct {
		Names names `maxminddb:"names"`
	} `maxminddb:"city"`
	Country           country `maxminddb:"country"`
	RegisteredCountry country `maxminddb:"registered_country"`
	Location          struct {
		Latitude  float64 `maxminddb:"latitude"`
		Longitude float64 `maxminddb:"longitude"`
	} `maxminddb:"location"`
	ASN   uint32 `maxminddb:"autonomous_system_number"`
	ASOrg string `maxminddb:"autonomous_system_organization"`
}

type country struct {
	ISOCode string `maxminddb:"iso_code"`
	Names   names  `maxminddb:"names"`
}

type names struct {
	EN string `maxminddb:"en"`
}

// flatRecord is an ip-location-db record (ASN keys as in GeoLite2-ASN).
type flatRecord struct {
	CountryCode string  `maxminddb:"country_code"`
	City        string  `maxminddb:"city"`
	Latitude    float64 `maxminddb:"latitude"`
	Longitude   float64 `maxminddb:"longitude"`
	ASN         uint32  `maxminddb:"autonomous_system_number"`
	ASOrg       string  `maxminddb:"autonomous_system_organization"`
}

// openDatabase opens an .mmdb file and works out its layout.
func openDatabase(path string) (*database, error) {
	r, err := maxminddb.Open(path)
	if err != nil {
		return nil, err
	}
	d := &database{
		path:   path,
		r:      r,
		dbType: r.Metadata.DatabaseType,
		built:  r.Metadata.BuildTime().UTC(),
		v4only: r.Metadata.IPVersion == 4,
	}
	if err := d.detect(); err != nil {
		r.Close()
		return nil, err
	}
	return d, nil
}

// detect sets layout and kind. The metadata's database_type names MaxMind's
// and DB-IP's files reliably but is free text elsewhere ("country ipvAll"
// in ip-location-db), so the keys of a real record decide the layout.
func (d *database) detect() error {
	keys, err := d.sampleKeys()
	if err != nil {
		return err
	}
	has := func(k string) bool { _, ok := keys[k]; return ok }
	_, cityIsText := keys["city"].(string)
	switch {
	case has("country_code") || has("latitude") || cityIsText:
		d.layout = layoutFlat
	case has("country") || has("registered_country") || has("city") || has("location") ||
		has("continent") || has("autonomous_system_number"):
		d.layout = layoutNested
	default:
		names := make([]string, 0, len(keys))
		for k := range keys {
			names = append(names, k)
		}
		sort.Strings(names)
		return fmt.Errorf("unrecognised record layout (database_type %q, keys %s); use a GeoIP2/GeoLite2 City, Country or ASN file, a DB-IP Lite file or an ip-location-db .mmdb file", d.dbType, strings.Join(names, ", "))
	}
	t := strings.ToLower(d.dbType)
	switch {
	case has("city") || has("location") || has("latitude") || strings.Contains(t, "city"):
		d.kind = "city"
	case has("country") || has("country_code") || has("registered_country") || strings.Contains(t, "country"):
		d.kind = "country"
	default:
		d.kind = "asn"
	}
	return nil
}

// sampleKeys decodes the first record of the database as a generic map.
func (d *database) sampleKeys() (map[string]any, error) {
	for res := range d.r.Networks() {
		if err := res.Err(); err != nil {
			return nil, fmt.Errorf("reading records: %w", err)
		}
		var m map[string]any
		if err := res.Decode(&m); err != nil {
			return nil, fmt.Errorf("decoding a record: %w", err)
		}
		if len(m) > 0 {
			return m, nil
		}
	}
	return nil, errors.New("the database holds no records")
}

// notFound is the offset recorded for an address a database does not hold.
const notFound = ^uintptr(0)

// find returns the data offset of the address's record, or notFound. An
// IPv6 address asked of an IPv4-only file is simply not found.
func (d *database) find(ip netip.Addr) (uintptr, error) {
	if d.v4only && !ip.Is4() {
		return notFound, nil
	}
	res := d.r.Lookup(ip)
	if err := res.Err(); err != nil {
		return notFound, err
	}
	if !res.Found() {
		return notFound, nil
	}
	return res.Offset(), nil
}

// fill decodes the record at off and sets the fields of g that are still
// empty, so that with several databases the first one that knows a field
// wins.
func (d *database) fill(off uintptr, g *geoFields) error {
	res := d.r.LookupOffset(off)
	if d.layout == layoutFlat {
		d.flat = flatRecord{}
		if err := res.Decode(&d.flat); err != nil {
			return err
		}
		r := &d.flat
		g.set(r.CountryCode, "", r.City, r.Latitude, r.Longitude, r.ASN, r.ASOrg)
		return nil
	}
	d.nested = nestedRecord{}
	if err := res.Decode(&d.nested); err != nil {
		return err
	}
	r := &d.nested
	c := r.Country
	if c.ISOCode == "" {
		// Anycast and satellite ranges often have only the registered
		// country.
		c = r.RegisteredCountry
	}
	g.set(c.ISOCode, c.Names.EN, r.City.Names.EN, r.Location.Latitude, r.Location.Longitude, r.ASN, r.ASOrg)
	return nil
}

// geoFields accumulates one address's fields across databases.
type geoFields struct {
	countryCode, country, city string
	lat, lon                   float64
	hasLocation                bool
	asn                        uint32
	asOrg                      string
}

func (g *geoFields) set(code, name, city string, lat, lon float64, asn uint32, org string) {
	if g.countryCode == "" && code != "" {
		g.countryCode, g.country = code, name
	}
	if g.city == "" {
		g.city = city
	}
	if !g.hasLocation && (lat != 0 || lon != 0) {
		g.lat, g.lon, g.hasLocation = lat, lon, true
	}
	if g.asn == 0 && asn != 0 {
		g.asn, g.asOrg = asn, org
	}
}

func (d *database) close() {
	if d != nil && d.r != nil {
		d.r.Close()
	}
}

// describe is a one-line summary for logs.
func (d *database) describe() string {
	return fmt.Sprintf("%s (%s, %s layout, database_type %q, built %s)", d.path, d.kind, d.layout, d.dbType, d.built.Format(time.DateOnly))
}
