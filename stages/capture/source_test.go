package capture

import (
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nfpipe/nfpipe/pipeline/event"
)

func corpusFile(name string) string { return filepath.Join(corpus, name) }

// TestPcapngInterfacesKeepTheirLinkTypes replays pcapng files whose
// interfaces have different link types (and, for the last one, three
// sections whose interface ids restart) and checks that every frame
// carries its own interface's link type and a file-wide interface number.
func TestPcapngInterfacesKeepTheirLinkTypes(t *testing.T) {
	for _, tc := range []struct {
		file       string
		wantIfaces int // distinct interfaces with packets
		wantLinks  map[uint16]bool
	}{
		{"exotic/zeek_pcapng-multi-interface.pcapng", 2, map[uint16]bool{1: true}},
		{"exotic/pcapngtg_le_basic_test006.pcapng", 2, map[uint16]bool{0: true, 1: true}},
		{"exotic/pcapngtg_le_advanced_test102.pcapng", 0, map[uint16]bool{0: true, 1: true}},
		{"exotic/pcapngtg_le_difficult_test201.pcapng", 0, map[uint16]bool{0: true, 1: true}},
		{"exotic/pcapngtg_le_difficult_test202.pcapng", 0, map[uint16]bool{0: true, 1: true}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			r := mustBuild(t, corpusFile(tc.file))
			r.runFor(t, 30*time.Second)
			got := r.out.snapshot()
			data, err := os.ReadFile(corpusFile(tc.file))
			if err != nil {
				t.Fatal(err)
			}
			want, err := oracleRead(data)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) || len(got) == 0 {
				t.Fatalf("got %d frames, want %d", len(got), len(want))
			}
			ifaceLink := map[uint16]uint16{}
			links := map[uint16]bool{}
			for i, f := range got {
				if f.Iface != want[i].Iface || f.LinkType != want[i].LinkType {
					t.Errorf("frame %d: iface %d link type %d, want iface %d link type %d", i, f.Iface, f.LinkType, want[i].Iface, want[i].LinkType)
				}
				if lt, seen := ifaceLink[f.Iface]; seen && lt != f.LinkType {
					t.Errorf("interface %d has frames of link types %d and %d", f.Iface, lt, f.LinkType)
				}
				ifaceLink[f.Iface] = f.LinkType
				links[f.LinkType] = true
			}
			if tc.wantIfaces > 0 && len(ifaceLink) != tc.wantIfaces {
				t.Errorf("frames on %d interfaces, want %d", len(ifaceLink), tc.wantIfaces)
			}
			for lt := range tc.wantLinks {
				if !links[lt] {
					t.Errorf("no frame with link type %d", lt)
				}
			}
		})
	}
}

// TestMultiSectionInterfacesAreNumberedAcrossSections: in a file of
// three sections whose interface ids each start at 0, frames of
// different sections get different interface numbers.
func TestMultiSectionInterfacesAreNumberedAcrossSections(t *testing.T) {
	res, err := readFile(t, corpusFile("exotic/pcapngtg_le_difficult_test201.pcapng"))
	if err != nil {
		t.Fatal(err)
	}
	maxIface := uint16(0)
	for _, f := range res.frames {
		maxIface = max(maxIface, f.Iface)
	}
	// 5 interfaces in 3 sections; the last packet is in the last section.
	if maxIface < 3 {
		t.Errorf("highest interface number %d; ids restarting per section were not offset", maxIface)
	}
}

func gzipFile(t *testing.T, src, dst string) []byte {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(data)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestGzip reads gzip-compressed pcap and pcapng files named without
// .gz (detection is by content) and gets exactly the frames of the
// uncompressed files; a cut compressed file delivers what it holds and
// warns.
func TestGzip(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"valid/zeek_http_get.pcap", "exotic/zeek_pcapng-multi-interface.pcapng", "exotic/tcpdump_tcp-handshake-nano.pcap", "exotic/tcpdump_pptp.pcap"} {
		t.Run(name, func(t *testing.T) {
			dst := filepath.Join(dir, filepath.Base(name)) // same name, compressed content
			gzipFile(t, corpusFile(name), dst)
			want, err := readFile(t, corpusFile(name))
			if err != nil {
				t.Fatal(err)
			}
			cf, err := openFile(dst)
			if err != nil {
				t.Fatal(err)
			}
			if !cf.compressed {
				t.Error("not detected as compressed")
			}
			cf.Close()
			r := mustBuild(t, dst)
			r.runFor(t, 30*time.Second)
			got := r.out.snapshot()
			if len(got) != len(want.frames) || len(got) == 0 {
				t.Fatalf("got %d frames, want %d", len(got), len(want.frames))
			}
			for i := range got {
				g, w := got[i], want.frames[i]
				if g.TS != w.TS || g.WireLen != w.WireLen || g.LinkType != w.LinkType || g.Iface != w.Iface || !bytes.Equal(g.Data, w.Data) {
					t.Fatalf("frame %d differs from the uncompressed file", i)
				}
			}
		})
	}
	t.Run("cut", func(t *testing.T) {
		full := gzipFile(t, corpusFile("valid/zeek_ssh_single-conn.pcap"), filepath.Join(dir, "whole.gz"))
		cut := filepath.Join(dir, "cut.pcap")
		if err := os.WriteFile(cut, full[:len(full)/2], 0o644); err != nil {
			t.Fatal(err)
		}
		r := mustBuild(t, cut)
		r.runFor(t, 30*time.Second)
		if n := r.out.count(); n == 0 || n >= 94 {
			t.Errorf("got %d of the 94 frames from half of the compressed file", n)
		}
		if r.counter("read_errors") != 1 || !strings.Contains(r.logs.String(), "capture file is damaged") {
			t.Errorf("read_errors %d, logs:\n%s", r.counter("read_errors"), r.logs)
		}
	})
	t.Run("not a capture", func(t *testing.T) {
		p := filepath.Join(dir, "notes.txt")
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write([]byte("just some text, not packets"))
		zw.Close()
		os.WriteFile(p, buf.Bytes(), 0o644)
		_, errs := build(t, ".", pipelineFor(p))
		if errs == nil || !strings.Contains(errs.Error(), "the decompressed file is not a pcap or pcapng capture") {
			t.Errorf("got %v", errs)
		}
	})
}

// TestBuildErrors: problems with the file or the settings are reported
// when the pipeline is built, naming the file or the field and the fix.
func TestBuildErrors(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "page.html")
	os.WriteFile(text, []byte("<html>not a capture</html>"), 0o644)
	for _, tc := range []struct {
		name, yml string
		want      []string
	}{
		{"missing file", pipelineFor("data/x.pcap"), []string{
			"open data/x.pcap: no such file or directory; check the path (relative paths are resolved from the pipeline file's directory)",
		}},
		{"not a capture", pipelineFor(text), []string{text + ": the file is not a pcap or pcapng capture (it starts with 3c 68 74 6d)"}},
		{"directory", pipelineFor(dir), []string{dir + " is a directory"}},
		{"bad speed", pipelineFor(corpusFile("valid/zeek_http_get.pcap"), "speed: fast"), []string{
			`pipeline.yaml:6:12: stages.cap.speed: invalid speed "fast"; use max, realtime or a factor such as 10x or 0.5x`,
		}},
		{"zero speed", pipelineFor(corpusFile("valid/zeek_http_get.pcap"), "speed: 0x"), []string{"the factor must be above 0"}},
		{"empty file field", pipelineFor(""), []string{"stages.cap.file: no input given; set file: to a pcap or pcapng capture"}},
		{"batch size", pipelineFor(corpusFile("valid/zeek_http_get.pcap"), "batch_size: 0"), []string{"stages.cap.batch_size: 0 is too small"}},
		{"progress", strings.Replace(pipelineFor(corpusFile("valid/zeek_http_get.pcap")), "progress: never", "progress: sometimes", 1), []string{`stages.cap.progress: invalid value "sometimes"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, errs := build(t, ".", tc.yml)
			if errs == nil {
				t.Fatal("built without error")
			}
			for _, w := range tc.want {
				if !strings.Contains(errs.Error(), w) {
					t.Errorf("error\n  %s\ndoes not contain\n  %s", errs, w)
				}
			}
		})
	}
}

// TestRelativePath resolves file: from the pipeline file's directory.
func TestRelativePath(t *testing.T) {
	dir := t.TempDir()
	data, err := os.ReadFile(corpusFile("valid/zeek_http_get.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(dir, "captures"), 0o755)
	os.WriteFile(filepath.Join(dir, "captures", "x.pcap"), data, 0o644)
	r, errs := build(t, dir, pipelineFor("captures/x.pcap"))
	if errs != nil {
		t.Fatal(errs)
	}
	r.runFor(t, 30*time.Second)
	if r.out.count() != 14 {
		t.Errorf("got %d frames, want 14", r.out.count())
	}
}

func TestParseSpeed(t *testing.T) {
	for in, want := range map[string]float64{"max": 0, "realtime": 1, "1x": 1, "10x": 10, "0.5x": 0.5, ".25x": 0.25, "2.5x": 2.5} {
		got, err := parseSpeed(in)
		if err != nil || got != want {
			t.Errorf("parseSpeed(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "fast", "x", "10", "10X2", "-1x", "0x", "infx", "nanx", "1e999x", "10 x", "Max"} {
		if _, err := parseSpeed(in); err == nil {
			t.Errorf("parseSpeed(%q) accepted", in)
		}
	}
}

// span is the packet-time span of a file, first to last frame.
func span(t *testing.T, file string) time.Duration {
	res, err := readFile(t, corpusFile(file))
	if err != nil {
		t.Fatal(err)
	}
	return time.Duration(res.frames[len(res.frames)-1].TS - res.frames[0].TS)
}

// TestPacedReplay: at realtime and 10x the replay takes at least the
// packet-time span divided by the factor (less the pacing slack); there
// is deliberately no upper bound, so a slow machine cannot fail it.
func TestPacedReplay(t *testing.T) {
	for _, tc := range []struct {
		file, speed string
		factor      float64
	}{
		{"valid/zeek_http_get.pcap", "realtime", 1},              // 211 ms
		{"exotic/zeek_tls_pop3-starttls.pcap", "10x", 10},        // 2.49 s
		{"exotic/zeek_http_get-to-ssh-server.pcap", "2.5x", 2.5}, // 309 ms, nanosecond pcap
	} {
		t.Run(tc.speed, func(t *testing.T) {
			want := time.Duration(float64(span(t, tc.file))/tc.factor) - paceSlack
			r := mustBuild(t, corpusFile(tc.file), "speed: "+tc.speed)
			start := time.Now()
			r.runFor(t, time.Minute)
			if took := time.Since(start); took < want {
				t.Errorf("replay took %v, want at least %v", took, want)
			}
			fast := mustBuild(t, corpusFile(tc.file))
			fast.runFor(t, time.Minute)
			a, b := r.out.snapshot(), fast.out.snapshot()
			if len(a) != len(b) {
				t.Fatalf("paced replay delivered %d frames, max speed %d", len(a), len(b))
			}
			for i := range a {
				if a[i].TS != b[i].TS {
					t.Fatalf("frame %d: paced TS %d, max speed TS %d", i, a[i].TS, b[i].TS)
				}
			}
		})
	}
}

func TestPacerSchedule(t *testing.T) {
	wall := time.Unix(1000, 0)
	p := &pacer{factor: 2}
	ts0 := event.Time(5e9)
	if d := p.delay(ts0, wall); d != 0 {
		t.Fatalf("first frame delayed %v", d)
	}
	if d := p.delay(ts0+event.Time(4*time.Second), wall.Add(time.Second)); d != time.Second {
		t.Errorf("4 s of packet time at 2x, 1 s in: delay %v, want 1s", d)
	}
	if d := p.delay(ts0-event.Time(time.Second), wall); d >= 0 {
		t.Errorf("a frame from the past is delayed %v", d)
	}
	p.shift(3 * time.Second) // paused for 3 s
	if d := p.delay(ts0+event.Time(4*time.Second), wall.Add(time.Second)); d != 4*time.Second {
		t.Errorf("after a 3 s pause: delay %v, want 4s", d)
	}
}

// TestLoopKeepsPacketTimeIncreasing: with loop, each pass is shifted by
// the previous pass's span plus the loop gap.
func TestLoopKeepsPacketTimeIncreasing(t *testing.T) {
	file := corpusFile("valid/zeek_http_get.pcap") // 14 frames in time order
	orig, err := readFile(t, file)
	if err != nil {
		t.Fatal(err)
	}
	n := len(orig.frames)
	r := mustBuild(t, file, "loop: true", "batch_size: 5")
	r.out.onAdd = func(total int) {
		if total >= 5*n {
			r.p.Stop()
		}
	}
	r.runFor(t, time.Minute)
	got := r.out.snapshot()
	if len(got) < 5*n {
		t.Fatalf("got %d frames, want at least %d (5 passes)", len(got), 5*n)
	}
	spanTS := orig.frames[n-1].TS - orig.frames[0].TS
	for i, f := range got {
		pass, k := i/n, i%n
		want := orig.frames[k].TS + event.Time(pass)*(spanTS+loopGap)
		if f.TS != want || !bytes.Equal(f.Data, orig.frames[k].Data) {
			t.Fatalf("frame %d (pass %d, #%d): TS %d, want %d", i, pass+1, k, f.TS, want)
		}
		if i > 0 && f.TS < got[i-1].TS {
			t.Fatalf("frame %d goes back in time", i)
		}
	}
	if p := r.counter("passes"); p < 4 {
		t.Errorf("passes counter %d after %d frames", p, len(got))
	}
	if !strings.Contains(r.logs.String(), "capture stopped") {
		t.Errorf("no summary after stop:\n%s", r.logs)
	}
}

// TestLoopOfEmptyFileEnds: a file without packets is not looped forever.
func TestLoopOfEmptyFileEnds(t *testing.T) {
	r := mustBuild(t, corpusFile("exotic/tcpdump_empty.pcapng"), "loop: true")
	r.runFor(t, 30*time.Second)
	if r.out.count() != 0 || !strings.Contains(r.logs.String(), "not looping") {
		t.Errorf("got %d frames; logs:\n%s", r.out.count(), r.logs)
	}
}

// TestPauseHoldsEmission: while the pipeline is paused the stage emits
// at most the batch it was filling; after resume it goes on.
func TestPauseHoldsEmission(t *testing.T) {
	r := mustBuild(t, corpusFile("valid/zeek_ssh_single-conn.pcap"), "loop: true", "batch_size: 16")
	done := make(chan error, 1)
	go func() { done <- r.p.Run(context.Background()) }()
	defer func() {
		r.p.Stop()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	// Wait through the sink first: Pipeline.Status must not be called
	// before Run has set the pipeline up (it reads the start time
	// unsynchronised), and the sink's receipt orders the two.
	if err := eventually(func() bool { return r.out.count() > 100 }); err != nil {
		t.Fatal("no frames read")
	}
	r.p.Pause()
	time.Sleep(20 * time.Millisecond)
	before := r.counter("packets_read")
	time.Sleep(100 * time.Millisecond)
	after := r.counter("packets_read")
	if after-before > 16 {
		t.Errorf("paused stage read %d more frames, more than one batch", after-before)
	}
	r.p.Resume()
	if err := eventually(func() bool { return r.counter("packets_read") > after+100 }); err != nil {
		t.Error("stage did not resume")
	}
}

// TestStopInterruptsRealtimeWait: a realtime replay of a capture that
// spans four and a half minutes stops as soon as it is asked to, while
// waiting for the next frame.
func TestStopInterruptsRealtimeWait(t *testing.T) {
	r := mustBuild(t, corpusFile("valid/zeek_dns_long-connection.pcap"), "speed: realtime")
	done := make(chan error, 1)
	go func() { done <- r.p.Run(context.Background()) }()
	if err := eventually(func() bool { return r.out.count() > 0 }); err != nil {
		t.Fatal("first frame never arrived")
	}
	stopped := time.Now()
	r.p.Stop()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(60 * time.Second): // the replay has 267 s to go
		t.Fatal("stop did not interrupt the realtime wait")
	}
	if n := r.out.count(); n >= 22 {
		t.Errorf("all %d frames delivered; the replay was not interrupted", n)
	}
	t.Logf("stopped in %v", time.Since(stopped))
	if !strings.Contains(r.logs.String(), "capture stopped") {
		t.Errorf("no summary line:\n%s", r.logs)
	}
}

// TestProgressBar: always shows a bar with the file name and completes
// it; auto shows nothing when standard error is not a terminal.
func TestProgressBar(t *testing.T) {
	file := corpusFile("valid/zeek_ssh_single-conn.pcap")
	for _, mode := range []string{"always", "auto", "never"} {
		t.Run(mode, func(t *testing.T) {
			r, errs := build(t, ".", strings.Replace(pipelineFor(file), "progress: never", "progress: "+mode, 1))
			if errs != nil {
				t.Fatal(errs)
			}
			c, _ := r.p.Component("cap")
			var out bytes.Buffer
			c.(*source).stderr = &out
			r.runFor(t, 30*time.Second)
			got := out.String()
			if mode != "always" {
				if got != "" {
					t.Errorf("progress %s wrote %q", mode, got)
				}
				return
			}
			if !strings.Contains(got, "zeek_ssh_single-conn.pcap") || !strings.Contains(got, "100%") {
				t.Errorf("bar output %q lacks the file name or completion", got)
			}
		})
	}
}

// TestLoopOfDamagedFile: a cut file loops over what it holds, counts the
// damage on every pass and warns once.
func TestLoopOfDamagedFile(t *testing.T) {
	r := mustBuild(t, corpusFile("truncated/cut-http-get-in-record-data.pcap"), "loop: true") // 7 whole frames
	r.out.onAdd = func(total int) {
		if total >= 7*4 {
			r.p.Stop()
		}
	}
	r.runFor(t, time.Minute)
	orig, err := readFile(t, corpusFile("truncated/cut-http-get-in-record-data.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	got := r.out.snapshot()
	if len(got) < 7*4 {
		t.Fatalf("got %d frames, want at least 4 passes of 7", len(got))
	}
	for i, f := range got {
		if !bytes.Equal(f.Data, orig.frames[i%7].Data) {
			t.Fatalf("frame %d is not frame %d of the file", i, i%7)
		}
	}
	if got, passes := r.counter("read_errors"), r.counter("passes"); got < 3 || got != passes {
		t.Errorf("read_errors %d after %d passes", got, passes)
	}
	if n := strings.Count(r.logs.String(), "capture file is damaged"); n != 1 {
		t.Errorf("%d damage warnings, want 1:\n%s", n, r.logs)
	}
}
