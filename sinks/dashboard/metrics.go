package dashboard

import (
	"net/http"

	"github.com/nfpipe/nfpipe/pipeline"
	"github.com/nfpipe/nfpipe/pipeline/metrics"
)

// metricsPath is where Prometheus scrapes the pipeline's metrics. It sits
// behind the same guard as the API: with auth_token set, a scraper sends
// the token as a bearer token (authorization.credentials in the scrape
// config); it is answered 401, never redirected to the login page.
const metricsPath = "/metrics"

// metricsHandler serves the metrics of the pipeline this dashboard is
// part of.
func (d *Dashboard) metricsHandler() http.HandlerFunc {
	status := func() pipeline.Status { return pipeline.Status{} }
	if d.ctl != nil {
		status = d.ctl.Status
	}
	return onlyMethod(http.MethodGet, metrics.Handler(status, d.log).ServeHTTP)
}
