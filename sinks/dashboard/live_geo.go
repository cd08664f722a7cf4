package dashboard

import (
	"math"

	"github.com/nfpipe/nfpipe/pipeline/event"
)

// Country is one country's traffic in /api/geo.
type Country struct {
	Code    string `json:"code"` // ISO 3166-1 alpha-2
	Name    string `json:"name,omitempty"`
	Bytes   uint64 `json:"bytes"`
	Packets uint64 `json:"packets"`
	Flows   uint64 `json:"flows"`
}

// GeoPoint is the traffic of the endpoints at one location, rounded to a
// tenth of a degree so nearby hosts share a dot.
type GeoPoint struct {
	Lat     float64 `json:"lat"`
	Lon     float64 `json:"lon"`
	City    string  `json:"city,omitempty"`
	Country string  `json:"country_code,omitempty"`
	Bytes   uint64  `json:"bytes"`
	Packets uint64  `json:"packets"`
	Flows   uint64  `json:"flows"`
}

type pointKey struct{ lat, lon int32 }

// maxPoints bounds the locations kept; a world map cannot show more
// usefully, and it keeps the response small.
const maxPoints = 5000

// geoAgg aggregates traffic by country and location.
type geoAgg struct {
	countries map[string]*Country
	points    map[pointKey]*GeoPoint
	labelled  uint64 // endpoints with only a label (private, loopback…)
}

func newGeoAgg() geoAgg {
	return geoAgg{countries: map[string]*Country{}, points: map[pointKey]*GeoPoint{}}
}

func (a *geoAgg) add(g *event.Geo, bytes, packets, flows uint64) {
	if g == nil {
		return
	}
	if g.CountryCode == "" {
		if g.Label != "" {
			a.labelled += flows
		}
		return
	}
	c := a.countries[g.CountryCode]
	if c == nil {
		c = &Country{Code: g.CountryCode, Name: g.Country}
		a.countries[g.CountryCode] = c
	}
	c.Bytes += bytes
	c.Packets += packets
	c.Flows += flows
	if g.Lat == 0 && g.Lon == 0 {
		return
	}
	k := pointKey{int32(math.Round(g.Lat * 10)), int32(math.Round(g.Lon * 10))}
	p := a.points[k]
	if p == nil {
		if len(a.points) >= maxPoints {
			return
		}
		p = &GeoPoint{Lat: float64(k.lat) / 10, Lon: float64(k.lon) / 10, City: g.City, Country: g.CountryCode}
		a.points[k] = p
	}
	p.Bytes += bytes
	p.Packets += packets
	p.Flows += flows
}

// geoSnapshot copies the aggregates.
func (v *liveView) geoSnapshot() (countries []Country, points []GeoPoint, labelled uint64) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	countries = make([]Country, 0, len(v.geo.countries))
	for _, c := range v.geo.countries {
		countries = append(countries, *c)
	}
	points = make([]GeoPoint, 0, len(v.geo.points))
	for _, p := range v.geo.points {
		points = append(points, *p)
	}
	return countries, points, v.geo.labelled
}

// alertRing keeps the most recent alerts, and those not yet pushed.
type alertRing struct {
	buf    []event.AlertRec
	next   int
	full   bool
	fresh  []event.AlertRec
	total  uint64
	firing map[string]bool // dedupe key to firing
}

func newAlertRing(n int) alertRing {
	return alertRing{buf: make([]event.AlertRec, n), firing: map[string]bool{}}
}

func (r *alertRing) add(a event.AlertRec) {
	r.buf[r.next] = a
	r.next = (r.next + 1) % len(r.buf)
	r.full = r.full || r.next == 0
	r.total++
	if len(r.fresh) < 50 {
		r.fresh = append(r.fresh, a)
	}
	key := a.DedupKey
	if key == "" {
		key = a.Rule + "/" + a.Subject
	}
	if a.State == event.AlertResolved {
		delete(r.firing, key)
	} else {
		r.firing[key] = true
	}
}

// list returns the alerts newest first.
func (r *alertRing) list() []event.AlertRec {
	var out []event.AlertRec
	for i := r.next - 1; i >= 0; i-- {
		out = append(out, r.buf[i])
	}
	if r.full {
		for i := len(r.buf) - 1; i >= r.next; i-- {
			out = append(out, r.buf[i])
		}
	}
	return out
}

// alertsSnapshot returns recent alerts newest first, the number received
// and the number still firing.
func (v *liveView) alertsSnapshot() (list []event.AlertRec, total uint64, firing int) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.alerts.list(), v.alerts.total, len(v.alerts.firing)
}

// takeFreshAlerts returns the alerts received since the last call.
func (v *liveView) takeFreshAlerts() []event.AlertRec {
	v.mu.Lock()
	defer v.mu.Unlock()
	f := v.alerts.fresh
	v.alerts.fresh = nil
	return f
}
