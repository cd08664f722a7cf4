package webhook

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/nfpipe/nfpipe/pipeline/event"
)

func views(ids ...string) []Alert {
	out := make([]Alert, len(ids))
	for i, id := range ids {
		a := testAlert(id)
		if i%2 == 1 {
			a.State = event.AlertResolved
		}
		a.Message = `quotes " and <tags> & newline` + "\n" + "end"
		out[i] = newAlert(&a, a.AppendJSON(nil))
	}
	return out
}

// TestBuiltinTemplatesAreValidMessages renders each chat template for
// one and for several alerts, parses the result as JSON, and checks it
// has the shape the service expects and names every alert's id.
func TestBuiltinTemplatesAreValidMessages(t *testing.T) {
	for _, name := range []string{"slack", "discord", "teams"} {
		for _, alerts := range [][]Alert{views("id-one"), views("id-a", "id-b", "id-c")} {
			t.Run(fmt.Sprintf("%s/%d", name, len(alerts)), func(t *testing.T) {
				tmpl, err := parseTemplate(name, "")
				if err != nil {
					t.Fatal(err)
				}
				body, err := render(tmpl, alerts)
				if err != nil {
					t.Fatal(err)
				}
				var msg map[string]any
				if err := json.Unmarshal(body, &msg); err != nil {
					t.Fatalf("not JSON: %v\n%s", err, body)
				}
				var text string
				switch name {
				case "slack":
					text, _ = msg["text"].(string)
				case "discord":
					text, _ = msg["content"].(string)
				case "teams":
					att := msg["attachments"].([]any)[0].(map[string]any)
					if att["contentType"] != "application/vnd.microsoft.card.adaptive" {
						t.Errorf("attachment type %v", att["contentType"])
					}
					card := att["content"].(map[string]any)
					if card["type"] != "AdaptiveCard" {
						t.Errorf("card type %v", card["type"])
					}
					blocks := card["body"].([]any)
					if len(blocks) != len(alerts)+1 {
						t.Errorf("%d text blocks, want a title and one per alert", len(blocks))
					}
					for _, b := range blocks {
						text += b.(map[string]any)["text"].(string) + "\n"
					}
				}
				for _, a := range alerts {
					if !strings.Contains(text, "(id "+a.ID+")") {
						t.Errorf("message does not name alert %s:\n%s", a.ID, text)
					}
					if !strings.Contains(text, a.Message) {
						t.Errorf("message text lost the alert's message:\n%s", text)
					}
				}
				if len(alerts) > 1 && !strings.Contains(text, "3 alerts (2 firing, 1 resolved)") {
					t.Errorf("no summary title:\n%s", text)
				}
				if len(alerts) == 1 && !strings.Contains(text, "[CRITICAL] firing port_scan") {
					t.Errorf("no heading:\n%s", text)
				}
			})
		}
	}
}

func TestDiscordMessageStaysWithinItsLimit(t *testing.T) {
	many := make([]string, 60)
	for i := range many {
		many[i] = fmt.Sprintf("id-%02d", i)
	}
	tmpl, _ := parseTemplate("discord", "")
	body, err := render(tmpl, views(many...))
	if err != nil {
		t.Fatal(err)
	}
	var msg struct{ Content string }
	if err := json.Unmarshal(body, &msg); err != nil {
		t.Fatal(err)
	}
	if n := utf8.RuneCountInString(msg.Content); n > 2000 || n < 1900 {
		t.Errorf("content has %d characters, want at most (and close to) 2000", n)
	}
}

func TestCustomTemplate(t *testing.T) {
	src := `{"summary":{{json .Title}},"n":{{.Count}},"events":[{{range $i, $a := .Alerts}}{{if $i}},{{end}}{{$a.JSON}}{{end}}],"site":{{json .Alert.Labels.site}},"missing":{{json .Alert.Labels.nope}}}`
	tmpl, err := parseTemplate("custom", src)
	if err != nil {
		t.Fatal(err)
	}
	body, err := render(tmpl, views("c1", "c2"))
	if err != nil {
		t.Fatal(err)
	}
	var msg struct {
		Summary string
		N       int
		Events  []struct{ Kind, ID string }
		Site    string
		Missing string
	}
	if err := json.Unmarshal(body, &msg); err != nil {
		t.Fatalf("%v\n%s", err, body)
	}
	if msg.N != 2 || len(msg.Events) != 2 || msg.Events[1].ID != "c2" || msg.Events[0].Kind != "alert" || msg.Site != "lab" || msg.Missing != "" {
		t.Errorf("rendered %+v", msg)
	}
}

func TestTemplateErrorsAreFoundByValidation(t *testing.T) {
	cases := map[string]string{
		`{{.Nope}}`:         "can't evaluate field Nope",
		`{{range .Alerts}}`: "unexpected EOF",
		`{{nosuchfunc 1}}`:  `function "nosuchfunc" not defined`,
	}
	for src, want := range cases {
		cfg := validConfig()
		cfg.Template, cfg.CustomTemplate = "custom", src
		err := cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "custom_template") {
			t.Errorf("template %q: error %v, want one naming custom_template and %q", src, err, want)
		}
	}
}

// validConfig is a config as the decoder leaves it with defaults.
func validConfig() *Config {
	return &Config{
		URL: "https://hooks.example.com/services/T0/B0/XYZ", Method: "POST", Timeout: 10e9,
		BatchSize: 1, BatchWait: 1e9, QueueSize: 100, WhenQueueFull: "drop_oldest",
		BackoffInitial: 1e9, BackoffMax: 60e9, Template: "none", DedupeWindow: 600e9, DrainTimeout: 10e9,
	}
}
