package webhook

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"text/template"
	"unicode/utf8"

	"github.com/nfpipe/nfpipe/pipeline/event"
)

// TemplateData is what a body template is executed with: the alerts of
// one request and ready-made summaries of them.
type TemplateData struct {
	// Alerts are the alerts of the request, oldest first.
	Alerts []Alert
	// Alert is the first alert, handy when batch_size is 1.
	Alert Alert
	// Count, Firing and Resolved count the alerts by state.
	Count, Firing, Resolved int
	// Title is a one-line heading: "nfpipe: [CRITICAL] firing port_scan"
	// for one alert, "nfpipe: N alerts (F firing, R resolved)" for more.
	Title string
	// Text is one line per alert (see Alert.Line), joined by newlines.
	Text string
}

// Alert is one alert as a template sees it.
type Alert struct {
	ID        string
	Rule      string
	Severity  string
	State     string
	Time      string // RFC 3339 with nanoseconds, UTC
	Subject   string
	Message   string
	DedupeKey string
	Labels    map[string]string
	// JSON is the alert in the JSON contract, to embed as is.
	JSON string
	// Line is a one-line summary that names the alert's id:
	// "[CRITICAL] firing port_scan: 10.0.0.5: 120 ports in 10s (id a1b2)".
	Line string
}

// newAlert builds the template view of an alert, given its JSON.
func newAlert(a *event.AlertRec, js []byte) Alert {
	v := Alert{
		ID: a.ID, Rule: a.Rule, Severity: string(a.Severity), State: string(a.State),
		Time:    a.Time.Std().Format("2006-01-02T15:04:05.999999999Z07:00"),
		Subject: a.Subject, Message: a.Message, DedupeKey: a.DedupKey,
		JSON: string(js),
	}
	if len(a.Labels) > 0 {
		// Copied: the alert's map belongs to its producer.
		v.Labels = make(map[string]string, len(a.Labels))
		for k, val := range a.Labels {
			v.Labels[k] = val
		}
	}
	var b strings.Builder
	b.WriteString(v.heading())
	if v.Subject != "" {
		b.WriteString(": " + v.Subject)
	}
	if v.Message != "" {
		b.WriteString(": " + v.Message)
	}
	b.WriteString(" (id " + v.ID + ")")
	v.Line = b.String()
	return v
}

// heading is "[CRITICAL] firing port_scan".
func (a *Alert) heading() string {
	var b strings.Builder
	if a.Severity != "" {
		b.WriteString("[" + strings.ToUpper(a.Severity) + "] ")
	}
	if a.State != "" {
		b.WriteString(a.State + " ")
	}
	b.WriteString(a.Rule)
	return b.String()
}

func newTemplateData(alerts []Alert) *TemplateData {
	d := &TemplateData{Alerts: alerts, Count: len(alerts)}
	lines := make([]string, len(alerts))
	for i, a := range alerts {
		lines[i] = a.Line
		switch event.AlertState(a.State) {
		case event.AlertFiring:
			d.Firing++
		case event.AlertResolved:
			d.Resolved++
		}
	}
	if len(alerts) > 0 {
		d.Alert = alerts[0]
	}
	d.Text = strings.Join(lines, "\n")
	if len(alerts) == 1 {
		d.Title = "nfpipe: " + alerts[0].heading()
	} else {
		d.Title = fmt.Sprintf("nfpipe: %d alerts (%d firing, %d resolved)", d.Count, d.Firing, d.Resolved)
	}
	return d
}

// templateFuncs are the helpers every body template can call.
var templateFuncs = template.FuncMap{
	// json renders any value as JSON: {{json .Alert.Message}} is a
	// quoted, escaped JSON string.
	"json": func(v any) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	},
	"upper": strings.ToUpper,
	"lower": strings.ToLower,
	// truncate shortens s to at most n characters, ending with "…" when
	// cut (chat services refuse over-long messages).
	"truncate": func(n int, s string) string {
		if utf8.RuneCountInString(s) <= n || n < 1 {
			return s
		}
		r := []rune(s)
		return string(r[:n-1]) + "…"
	},
}

// builtinTemplates are the ready bodies for chat services. Every one puts
// each alert's id in the text, so repeats stay recognisable.
var builtinTemplates = map[string]string{
	// Slack incoming webhooks take {"text": ...}; mrkdwn is on by default.
	"slack": `{"text":{{json (printf "*%s*\n%s" .Title .Text)}}}`,
	// Discord webhooks take {"content": ...} of at most 2000 characters.
	"discord": `{"username":"nfpipe","content":{{json (truncate 2000 (printf "**%s**\n%s" .Title .Text))}}}`,
	// Teams workflow webhooks take a message with an Adaptive Card.
	"teams": `{"type":"message","attachments":[{"contentType":"application/vnd.microsoft.card.adaptive","content":{` +
		`"type":"AdaptiveCard","version":"1.4","body":[` +
		`{"type":"TextBlock","size":"Medium","weight":"Bolder","wrap":true,"text":{{json .Title}}}` +
		`{{range .Alerts}},{"type":"TextBlock","wrap":true,"text":{{json .Line}}}{{end}}]}}]}`,
}

// templateNames are the values of the template field.
var templateNames = []string{"none", "slack", "discord", "teams", "custom"}

// parseTemplate compiles the body template a config asks for; nil means
// the plain JSON body.
func parseTemplate(kind, custom string) (*template.Template, error) {
	src := builtinTemplates[kind]
	switch kind {
	case "none", "":
		return nil, nil
	case "custom":
		src = custom
	}
	t, err := template.New(kind).Option("missingkey=zero").Funcs(templateFuncs).Parse(src)
	if err != nil {
		return nil, err
	}
	// Executing once on a sample finds errors that parsing cannot (a
	// misspelt field), before the pipeline starts rather than on the
	// first alert.
	if _, err := render(t, []Alert{sampleAlert()}); err != nil {
		return nil, err
	}
	return t, nil
}

func sampleAlert() Alert {
	a := &event.AlertRec{
		ID: "0000000000000000", Rule: "example", Severity: "warning", State: event.AlertFiring,
		Subject: "10.0.0.1", Message: "example alert", DedupKey: "example/10.0.0.1",
		Labels: map[string]string{"team": "net"},
	}
	return newAlert(a, a.AppendJSON(nil))
}

// render executes a body template.
func render(t *template.Template, alerts []Alert) ([]byte, error) {
	var b bytes.Buffer
	if err := t.Execute(&b, newTemplateData(alerts)); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
