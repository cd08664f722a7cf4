package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Secrets of the pipelines below; none may appear in any output.
var testSecrets = map[string]string{
	"dashboard token":        "dash-secret-token-AAAA1111",
	"webhook url token":      "hook-url-secret-BBBB2222",
	"webhook signing key":    "hmac-secret-CCCC3333dddd",
	"webhook header":         "hdr-secret-DDDD4444",
	"postgres password":      "pg-pass-EEEE5555",
	"too short a token":      "tiny-FFFF",
	"token from environment": "env-token-GGGG6666gggg",
}

func checkNoSecrets(t *testing.T, what string, outputs ...string) {
	t.Helper()
	all := strings.Join(outputs, "\n")
	if len(all) == 0 {
		t.Errorf("%s: no output at all to check", what)
	}
	for name, s := range testSecrets {
		if strings.Contains(all, s) {
			t.Errorf("%s: the %s appears in the output:\n%s", what, name, all)
		}
	}
}

// TestNoSecretInLogs validates and runs pipelines holding a dashboard
// token, webhook URL token, signing key and header, and a PostgreSQL
// password, with --debug, in text and JSON: no secret appears in
// anything nfpipe prints, failed deliveries and refused configurations
// included.
func TestNoSecretInLogs(t *testing.T) {
	closed := freePort(t) // nothing listens here: every connection fails
	sample, _ := filepath.Abs("../../examples/sample.pcapng")
	s := testSecrets
	stages := fmt.Sprintf(`stages:
  capture: {type: capture, file: %q}
  decode: {type: decode, inputs: [capture]}
  sessions: {type: sessionize, inputs: [decode]}
  alerts:
    type: filter
    inputs: [sessions]
    rules:
      - name: every_flow
        when: 'kind == "flow" && flow.event == "end"'
        alert: {severity: info, message: "flow ended"}
`, sample)
	hook := fmt.Sprintf(`  hook:
    type: webhook
    inputs: [alerts]
    url: "http://127.0.0.1:%d/hook?token=%s"
    secret: %q
    headers: {Authorization: "Bearer %s"}
    max_retries: 1
    backoff_initial: 10ms
    backoff_max: 20ms
    drain_timeout: 1s
`, closed, s["webhook url token"], s["webhook signing key"], s["webhook header"])
	dash := fmt.Sprintf(`  dashboard: {type: dashboard, inputs: [sessions, alerts], listen: "0.0.0.0:%d", auth_token: %q}
`, freePort(t), s["dashboard token"])

	// A PostgreSQL history that cannot be reached.
	withDB := writeFile(t, "db.yaml", stages+"sinks:\n"+hook+dash+fmt.Sprintf(`  history: {type: sqlite, inputs: [sessions], dsn: "postgres://nfpipe:%s@127.0.0.1:%d/nfpipe?sslmode=disable"}
`, s["postgres password"], closed))
	r := nfpipe(t, nil, "--debug", "validate", withDB)
	checkNoSecrets(t, "validate", r.stdout, r.stderr)
	// Running, the history sink fails to connect and keeps retrying: its
	// log names the database, without the password. A stop makes it
	// retry to save its rows; a second stop exits.
	p := startNfpipe(t, nil, "--debug", "run", withDB)
	p.waitFor(t, "the history connection to fail", func() bool {
		return strings.Contains(p.stderr.String(), "cannot open the history database")
	})
	p.cmd.Process.Signal(syscall.SIGTERM)
	// The second signal only once the first was taken: two sent at once
	// may reach the process as one.
	p.waitFor(t, "the drain to start", func() bool { return strings.Contains(p.stderr.String(), "stopping: draining the pipeline") })
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(60 * time.Second):
		t.Fatalf("a second SIGTERM did not end nfpipe:\n%s", p.stderr)
	}
	if !strings.Contains(p.stderr.String(), "postgres://nfpipe:") {
		t.Errorf("the database is not named in the log:\n%s", p.stderr)
	}
	checkNoSecrets(t, "run with a failing database", p.stdout.String(), p.stderr.String())

	// A token too short is refused without being shown.
	short := writeFile(t, "short.yaml", stages+"sinks:\n"+strings.Replace(dash, s["dashboard token"], s["too short a token"], 1))
	r = nfpipe(t, nil, "validate", "--no-environment", short)
	if r.code != 78 || !strings.Contains(r.stderr, "too short") {
		t.Errorf("a short token: exit %d\n%s", r.code, r.stderr)
	}
	checkNoSecrets(t, "validate short token", r.stdout, r.stderr)

	// A run to the end of the capture: every alert's delivery fails and
	// is retried, logged at debug level, as text and as JSON; the
	// dashboard's token comes from the environment the second time.
	good := writeFile(t, "good.yaml", stages+"sinks:\n"+hook+dash)
	fromEnv := writeFile(t, "env.yaml", stages+"sinks:\n"+hook+strings.Replace(dash, fmt.Sprintf("%q", s["dashboard token"]), `"${NFPIPE_TOKEN}"`, 1))
	for _, c := range []struct {
		file string
		args []string
	}{
		{good, []string{"--debug", "run"}},
		{fromEnv, []string{"--debug", "--log-format", "json", "run"}},
	} {
		r = nfpipe(t, []string{"NFPIPE_TOKEN=" + s["token from environment"]}, append(c.args, c.file)...)
		if r.code != 0 {
			t.Errorf("%v: exit %d\n%s", c.args, r.code, r.stderr)
		}
		if !strings.Contains(r.stderr, "webhook delivery failed") || !strings.Contains(r.stderr, "dashboard listening") {
			t.Errorf("%v: the run logged too little to be a test:\n%s", c.args, r.stderr)
		}
		checkNoSecrets(t, strings.Join(c.args, " "), r.stdout, r.stderr)
	}
}
