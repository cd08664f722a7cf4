package plugin

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/nfpipe/nfpipe/pipeline"
	"github.com/nfpipe/nfpipe/pipeline/pipetest"
)

func run(t *testing.T, p *pipeline.Pipeline) {
	t.Helper()
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestTagsEveryFlowAndRaisesAlerts(t *testing.T) {
	sinks := map[string]*collector{}
	p := load(t, `
stages:
  gen: {type: flowgen, count: 2500, batch: 300}
  tag:
    type: plugin
    inputs: [gen]
    command: [BIN/testplugin]
    config: {tag: seen, alert_port: 83}
sinks:
  out: {type: collect, inputs: [tag]}
`, pipeline.WithRegistry(testRegistry(sinks)))
	run(t, p)
	flows, alerts := sinks["out"].snapshot()
	if len(flows) != 2500 {
		t.Fatalf("%d flows out, want 2500", len(flows))
	}
	for i, f := range flows {
		if f.ID != uint64(i) || !slices.Equal(f.Tags, []string{"seen"}) {
			t.Fatalf("flow %d out of order or untagged: id %d tags %v", i, f.ID, f.Tags)
		}
		want := testFlow(i)
		want.Tags = f.Tags
		if f.Client != want.Client || f.Server != want.Server || f.C2S != want.C2S || f.LastSeen != want.LastSeen || f.TCPState != want.TCPState {
			t.Fatalf("flow %d changed on the way: %+v", i, f)
		}
	}
	if len(alerts) != 625 {
		t.Errorf("%d alerts, want one per flow to port 83 (625)", len(alerts))
	}
	st := component(t, p, "tag")
	c := st.Counters
	if c["batches_sent"] != 9 || c["batches_processed"] != 9 || c["alerts_raised"] != 625 || c["batches_passed_through"] != 0 || c["plugin_errors"] != 0 {
		t.Errorf("counters: %v", c)
	}
	// The plugin's own counter, sent as increments with its answers.
	if c["plugin.flows"] != 2500 || c["undeclared_counters"] != 0 {
		t.Errorf("plugin.flows %d, undeclared_counters %d; want 2500, 0", c["plugin.flows"], c["undeclared_counters"])
	}
	if st.EventsIn != 2500 || st.EventsOut != 2500+625 {
		t.Errorf("events in %d out %d", st.EventsIn, st.EventsOut)
	}
}

func TestUnchangedBatchesPassWithoutCopy(t *testing.T) {
	sinks := map[string]*collector{}
	p := load(t, `
stages:
  gen: {type: flowgen, count: 1000, batch: 100}
  noop: {type: plugin, inputs: [gen], command: [BIN/testplugin]}
sinks:
  out: {type: collect, inputs: [noop]}
`, pipeline.WithRegistry(testRegistry(sinks)))
	run(t, p)
	flows, _ := sinks["out"].snapshot()
	if len(flows) != 1000 {
		t.Fatalf("%d flows out", len(flows))
	}
	for i, f := range flows {
		if !reflect.DeepEqual(f, testFlow(i)) {
			t.Fatalf("flow %d changed: %+v", i, f)
		}
	}
}

func TestKindsThePluginDoesNotTakePassUnsent(t *testing.T) {
	dir := plugins(t)
	sinks := map[string]*collector{}
	p := load(t, `
stages:
  gen: {type: flowgen, count: 500, batch: 100, kind: ipstat}
  svc: {type: plugin, inputs: [gen], command: [`+filepath.Join(dir, "servicename")+`]}
sinks:
  out: {type: collect, inputs: [svc]}
`, pipeline.WithRegistry(testRegistry(sinks)))
	run(t, p)
	if n := len(sinks["out"].ipstats); n != 500 {
		t.Errorf("%d ipstats out, want 500", n)
	}
	if c := component(t, p, "svc").Counters; c["batches_sent"] != 0 {
		t.Errorf("ipstats were sent to a flow plugin: %v", c)
	}
}

func TestHugeBatchIsSentInParts(t *testing.T) {
	sinks := map[string]*collector{}
	p := load(t, `
stages:
  gen: {type: flowgen, count: 100000, batch: 100000}
  tag: {type: plugin, inputs: [gen], command: [BIN/testplugin], max_batch: 1000, config: {tag: t}}
sinks:
  out: {type: collect, inputs: [tag]}
`, pipeline.WithRegistry(testRegistry(sinks)))
	run(t, p)
	flows, _ := sinks["out"].snapshot()
	if len(flows) != 100000 {
		t.Fatalf("%d flows out, want 100000", len(flows))
	}
	for i, f := range flows {
		if f.ID != uint64(i) || len(f.Tags) != 1 {
			t.Fatalf("flow %d: id %d tags %v", i, f.ID, f.Tags)
		}
	}
	if c := component(t, p, "tag").Counters; c["batches_sent"] != 100 || c["batches_processed"] != 100 {
		t.Errorf("counters: %v", c)
	}
}

func TestFailedBatchesFollowOnError(t *testing.T) {
	for _, onError := range []string{"pass", "drop"} {
		t.Run(onError, func(t *testing.T) {
			sinks := map[string]*collector{}
			p := load(t, `
stages:
  gen: {type: flowgen, count: 1000, batch: 100}
  tag:
    type: plugin
    inputs: [gen]
    command: [BIN/testplugin]
    on_error: `+onError+`
    config: {tag: seen, fail_every: 3}
sinks:
  out: {type: collect, inputs: [tag]}
`, pipeline.WithRegistry(testRegistry(sinks)))
			run(t, p)
			flows, _ := sinks["out"].snapshot()
			untagged := 0
			for _, f := range flows {
				if len(f.Tags) == 0 {
					untagged++
				}
			}
			c := component(t, p, "tag").Counters
			if c["plugin_errors"] != 3 || c["restarts"] != 0 {
				t.Errorf("batches 3, 6 and 9 fail, the plugin stays up: %v", c)
			}
			if onError == "pass" && (untagged != 300 || len(flows) != 1000 || c["batches_passed_through"] != 3 || c["events_passed_through"] != 300) {
				t.Errorf("pass: %d flows, %d untagged; %v", len(flows), untagged, c)
			}
			if onError == "drop" && (untagged != 0 || len(flows) != 700 || c["batches_dropped"] != 3 || c["events_dropped"] != 300) {
				t.Errorf("drop: %d flows, %d untagged; %v", len(flows), untagged, c)
			}
		})
	}
}

// TestSIGKILLMidStream kills the plugin process while flows stream
// through it: the pipeline keeps running, the plugin is restarted, and
// every flow either went through the plugin or was counted as passed
// through (or dropped) while it was down.
func TestSIGKILLMidStream(t *testing.T) {
	for _, onError := range []string{"pass", "drop"} {
		t.Run(onError, func(t *testing.T) {
			sinks := map[string]*collector{}
			pidFile := filepath.Join(t.TempDir(), "pid")
			p := load(t, `
stages:
  gen: {type: flowgen, batch: 50, every: 1ms}
  tag:
    type: plugin
    inputs: [gen]
    command: [BIN/testplugin]
    on_error: `+onError+`
    restart_backoff: 200ms
    config: {tag: seen, pid_file: `+pidFile+`}
sinks:
  out: {type: collect, inputs: [tag]}
`, pipeline.WithRegistry(testRegistry(sinks)))
			done := make(chan error, 1)
			go func() { done <- p.Run(context.Background()) }()
			out := sinks["out"]
			tagged := func() int {
				flows, _ := out.snapshot()
				n := 0
				for _, f := range flows {
					if len(f.Tags) > 0 {
						n++
					}
				}
				return n
			}
			pluginFlows := func() uint64 { return component(t, p, "tag").Counters["plugin.flows"] }
			waitFor(t, "tagged flows", func() bool { return tagged() >= 2000 })
			first := readPID(t, pidFile)
			// The plugin's counter is added to before its answer is
			// emitted, so it already covers every tagged flow seen.
			beforeKill := pluginFlows()
			if beforeKill < 2000 {
				t.Fatalf("plugin.flows %d with 2000 flows tagged", beforeKill)
			}
			if err := syscall.Kill(first, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the plugin to be seen down", func() bool {
				return component(t, p, "tag").Health == pipeline.Unhealthy
			})
			waitFor(t, "a restart", func() bool { return component(t, p, "tag").Counters["restarts"] >= 1 })
			second := readPID(t, pidFile)
			if second == first {
				t.Fatal("the pid file still names the killed process")
			}
			after := tagged()
			waitFor(t, "tagged flows after the restart", func() bool { return tagged() >= after+2000 })
			// The new process counts from zero; sending increments keeps
			// the stage's counter going up from where the old one left it.
			if v := pluginFlows(); v < beforeKill+2000 {
				t.Errorf("plugin.flows %d after the restart and 2000 more tagged flows, was %d before the kill", v, beforeKill)
			}
			if h := component(t, p, "tag").Health; h != pipeline.Healthy {
				t.Errorf("health %s after the restart, want ok", h)
			}
			p.Stop()
			if err := <-done; err != nil {
				t.Fatal(err)
			}

			gen := component(t, p, "gen")
			st := component(t, p, "tag")
			c := st.Counters
			flows, _ := out.snapshot()
			var seen, untagged uint64
			ids := map[uint64]bool{}
			for _, f := range flows {
				if ids[f.ID] {
					t.Fatalf("flow %d delivered twice", f.ID)
				}
				ids[f.ID] = true
				seen++
				if len(f.Tags) == 0 {
					untagged++
				}
			}
			t.Logf("%s: generated %d, delivered %d (%d untagged), counters %v", onError, gen.EventsOut, seen, untagged, c)
			if c["restarts"] < 1 || st.Errors != 0 {
				t.Errorf("restarts %d, errors %d", c["restarts"], st.Errors)
			}
			// Exactly the flows of the answered batches were counted: those
			// delivered tagged. A batch the killed process counted but never
			// answered took its increment with it.
			if c["plugin.flows"] != seen-untagged {
				t.Errorf("plugin.flows %d, want the %d tagged flows delivered", c["plugin.flows"], seen-untagged)
			}
			switch onError {
			case "pass":
				if c["batches_passed_through"] == 0 || untagged != c["events_passed_through"] || seen != gen.EventsOut {
					t.Errorf("pass: %d untagged but %d counted; %d delivered of %d", untagged, c["events_passed_through"], seen, gen.EventsOut)
				}
			case "drop":
				if c["batches_dropped"] == 0 || untagged != 0 || seen+c["events_dropped"] != gen.EventsOut {
					t.Errorf("drop: %d delivered + %d dropped != %d generated (%d untagged)", seen, c["events_dropped"], gen.EventsOut, untagged)
				}
			}
			// Nothing is lost: every generated flow up to the last one is
			// delivered or counted.
			for id := uint64(0); id < gen.EventsOut && onError == "pass"; id++ {
				if !ids[id] {
					t.Fatalf("flow %d lost", id)
				}
			}
		})
	}
}

func readPID(t *testing.T, path string) int {
	t.Helper()
	var pid int
	waitFor(t, "the pid file", func() bool {
		b, err := os.ReadFile(path)
		if err != nil {
			return false
		}
		pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil
	})
	return pid
}

func TestHungPluginIsKilledAfterTimeout(t *testing.T) {
	sinks := map[string]*collector{}
	p := load(t, `
stages:
  gen: {type: flowgen, batch: 100, every: 2ms}
  tag:
    type: plugin
    inputs: [gen]
    command: [BIN/testplugin]
    timeout: 300ms
    restart_backoff: 10ms
    config: {tag: seen, hang_after: 5}
sinks:
  out: {type: collect, inputs: [tag]}
`, pipeline.WithRegistry(testRegistry(sinks)))
	done := make(chan error, 1)
	go func() { done <- p.Run(context.Background()) }()
	// The plugin hangs after 5 batches, is killed, restarted, hangs again.
	waitFor(t, "two timeouts", func() bool { return component(t, p, "tag").Counters["timeouts"] >= 2 })
	p.Stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	flows, _ := sinks["out"].snapshot()
	st := component(t, p, "tag")
	c := st.Counters
	var untagged uint64
	for _, f := range flows {
		if len(f.Tags) == 0 {
			untagged++
		}
	}
	gen := component(t, p, "gen")
	if uint64(len(flows)) != gen.EventsOut || untagged != c["events_passed_through"] || untagged == 0 {
		t.Errorf("%d generated, %d out, %d untagged, %d counted passed: %v", gen.EventsOut, len(flows), untagged, c["events_passed_through"], c)
	}
	if c["restarts"] < 1 || c["batches_processed"] < 10 {
		t.Errorf("counters: %v", c)
	}
}

func TestPluginThatCannotStartPassesEverything(t *testing.T) {
	sinks := map[string]*collector{}
	p := load(t, `
stages:
  gen: {type: flowgen, count: 1000, batch: 100}
  tag:
    type: plugin
    inputs: [gen]
    command: [BIN/testplugin]
    restart_backoff: 10ms
    restart_backoff_max: 20ms
    config: {tag: seen, exit_after: 1}
sinks:
  out: {type: collect, inputs: [tag]}
`, pipeline.WithRegistry(testRegistry(sinks)))
	run(t, p)
	flows, _ := sinks["out"].snapshot()
	c := component(t, p, "tag").Counters
	if len(flows) != 1000 {
		t.Fatalf("%d flows out, want all 1000", len(flows))
	}
	var tagged uint64
	for _, f := range flows {
		if len(f.Tags) > 0 {
			tagged++
		}
	}
	if tagged+c["events_passed_through"] != 1000 || tagged%100 != 0 {
		t.Errorf("%d tagged + %d passed != 1000: %v", tagged, c["events_passed_through"], c)
	}
}

func TestStderrIsLoggedWithTheStageName(t *testing.T) {
	var buf pipetest.SyncBuffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	sinks := map[string]*collector{}
	p := load(t, `
stages:
  gen: {type: flowgen, count: 10}
  chatty: {type: plugin, inputs: [gen], command: [BIN/testplugin], config: {say: "hello from the plugin"}}
sinks:
  out: {type: collect, inputs: [chatty]}
`, pipeline.WithRegistry(testRegistry(sinks)), pipeline.WithLogger(log))
	run(t, p)
	// Run returns after the plugin is killed, and killing waits for its
	// standard error to be copied: every line is logged by now.
	var line string
	for _, l := range strings.Split(buf.String(), "\n") {
		if strings.Contains(l, "hello from the plugin") {
			line = l
		}
	}
	if !strings.Contains(line, "level=INFO") || !strings.Contains(line, "component=chatty") || !strings.Contains(line, "plugin=testplugin") {
		t.Errorf("plugin stderr not mirrored with the stage name at info: %q\nlog:\n%s", line, buf.String())
	}
}

func TestConstructorChecks(t *testing.T) {
	dir := plugins(t)
	for _, tc := range []struct{ name, block, want string }{
		{"missing program", "command: [./no-such-plugin]", "no-such-plugin not found; build the plugin"},
		{"not in PATH", "command: [no-such-plugin-anywhere]", `program "no-such-plugin-anywhere" is not in PATH`},
		{"checksum", "command: [BIN/testplugin]\n    sha256: " + strings.Repeat("ab", 32), "sha256: " + filepath.Join(dir, "testplugin") + " has checksum"},
		{"plugin rejects config", "command: [BIN/testplugin]\n    config: {fail_evry: 2}", `config.fail_evry: unknown field "fail_evry"; did you mean "fail_every"?`},
		{"config not a mapping", "command: [BIN/testplugin]\n    config: [1, 2]", "config: expected a mapping"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, errs := tryLoad(t, `
stages:
  gen: {type: flowgen}
  tag:
    type: plugin
    inputs: [gen]
    `+tc.block+`
sinks:
  out: {type: collect, inputs: [tag]}
`, pipeline.WithRegistry(testRegistry(map[string]*collector{})))
			if len(errs) != 1 || !strings.Contains(errs[0].Error(), tc.want) {
				t.Errorf("got %v, want one error containing %q", errs, tc.want)
			}
		})
	}
}

// TestUndeclaredCountersAreIgnored runs a plugin that, started again for
// the run, declares and sends a counter nfpipe did not see when it asked
// for the spec: the stage ignores it, counts it and logs it once.
func TestUndeclaredCountersAreIgnored(t *testing.T) {
	var buf pipetest.SyncBuffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	sinks := map[string]*collector{}
	p := load(t, `
stages:
  gen: {type: flowgen, count: 1000, batch: 100}
  tag: {type: plugin, inputs: [gen], command: [BIN/testplugin]}
sinks:
  out: {type: collect, inputs: [tag]}
`, pipeline.WithRegistry(testRegistry(sinks)), pipeline.WithLogger(log))
	t.Setenv("NFPIPE_TESTPLUGIN_EXTRA_METRIC", "late")
	run(t, p)
	c := component(t, p, "tag").Counters
	if c["batches_processed"] != 10 || c["undeclared_counters"] != 10 || c["plugin.flows"] != 1000 {
		t.Errorf("want 10 batches each with one undeclared counter, 1000 flows: %v", c)
	}
	if _, ok := c["plugin.late"]; ok {
		t.Errorf("an undeclared counter became a stage counter: %v", c)
	}
	if n := strings.Count(buf.String(), "does not declare"); n != 1 || !strings.Contains(buf.String(), "counter=late") {
		t.Errorf("undeclared counter logged %d times, want once naming it:\n%s", n, buf.String())
	}
}
