//go:build e2e

package dashboard

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/nfpipe/nfpipe/ui"
)

// The browser tests drive Debian's Chromium headless against a real
// pipeline replaying captures in real time. Run them with
//
//	go test -tags e2e -run TestBrowser ./sinks/dashboard/
//
// after `make ui`. Screenshots go to $SCREENSHOT_DIR (docs/images when
// refreshing the README's pictures), else to a temporary directory.

const chromiumPath = "/usr/bin/chromium"

// browser starts a fresh headless Chromium and returns a tab context, the
// console messages seen so far and the URLs it requested.
type browser struct {
	ctx  context.Context
	mu   sync.Mutex
	logs []chromedp.ConsoleMessage
	urls []string
	dir  string
}

func newBrowser(t *testing.T, width, height int) *browser {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("browser tests need Debian's chromium at %s (apt-get install chromium): %v", chromiumPath, err)
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(width, height),
	)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	b := &browser{ctx: ctx, dir: os.Getenv("SCREENSHOT_DIR")}
	if b.dir == "" {
		b.dir = t.TempDir()
	}
	if err := os.MkdirAll(b.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// Start the browser, then listen: every console message and request.
	if err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, network.Enable, network.EnableParams{})
		return err
	})); err != nil {
		t.Fatal(err)
	}
	msgs := chromedp.Console(ctx)
	reqs := chromedp.Events(ctx, network.RequestWillBeSent)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.logs = append(b.logs, m)
			b.mu.Unlock()
		}
	}()
	go func() {
		for ev, err := range reqs {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.urls = append(b.urls, ev.Request.URL)
			b.mu.Unlock()
		}
	}()
	return b
}

func (b *browser) do(t *testing.T, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 90*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatal(err)
	}
}

func eval[T any](t *testing.T, b *browser, js string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("%s: %v", js, err)
	}
	return v
}

// waitJS polls a JavaScript condition until it is true.
func waitJS(t *testing.T, b *browser, what, js string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](js, chromedp.WithPollingInterval(100*time.Millisecond))); err != nil {
		t.Fatalf("waiting for %s (%s): %v", what, js, err)
	}
}

func (b *browser) shot(t *testing.T, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(b.dir, name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s", p)
}

// problems returns console errors and exceptions, and requests that left
// the dashboard's own origin.
func (b *browser) problems(base string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, m := range b.logs {
		if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleException || m.IsException() {
			out = append(out, fmt.Sprintf("console %s: %s (%s:%d)", m.Type, m.Text, m.URL, m.Line+1))
		}
	}
	wsBase := "ws" + strings.TrimPrefix(base, "http")
	for _, u := range b.urls {
		if !strings.HasPrefix(u, base+"/") && !strings.HasPrefix(u, wsBase+"/") && !strings.HasPrefix(u, "data:") {
			out = append(out, "request outside the dashboard: "+u)
		}
	}
	return out
}

func TestBrowser(t *testing.T) {
	if !ui.Built(ui.Assets()) {
		t.Fatal("UI assets not built: run make ui first")
	}
	r := startPipeline(t, pipelineWith([]string{samplePath(t)}, "realtime", "250ms", "", true))
	eventually(t, "traffic in the live view", func() bool {
		var s StatusResponse
		getJSON(t, r.base+"/api/status", &s)
		return s.Flows >= 5 && s.Packets > 0
	})
	b := newBrowser(t, 1440, 1000)

	t.Run("overview numbers change over the WebSocket", func(t *testing.T) {
		b.do(t, chromedp.Navigate(r.base+"/#/"), chromedp.WaitVisible(chromedp.CSS("#ov-chart .uplot")))
		waitJS(t, b, "the live badge", `document.getElementById('conn').textContent === 'live'`)
		waitJS(t, b, "a first summary", `document.getElementById('ov-packets').textContent !== '–'`)
		first := eval[string](t, b, `document.getElementById('ov-packets').textContent + '|' + document.getElementById('ov-bytes').textContent`)
		waitJS(t, b, "the packet count to change", fmt.Sprintf(`(document.getElementById('ov-packets').textContent + '|' + document.getElementById('ov-bytes').textContent) !== %q`, first))
		waitJS(t, b, "protocol bars", `document.querySelectorAll('#ov-mix .mix-row').length > 0`)
		waitJS(t, b, "top talkers", `document.querySelectorAll('#ov-talkers tbody tr').length > 0`)
		waitJS(t, b, "a chart with points", `document.querySelectorAll('#ov-chart canvas').length > 0`)
	})

	t.Run("sessions table filters and sorts", func(t *testing.T) {
		b.do(t, chromedp.Navigate(r.base+"/#/sessions"), chromedp.WaitVisible(chromedp.CSS("#ss-table tbody tr.clickable")))
		total := eval[string](t, b, `document.getElementById('ss-info').dataset.total`)
		// Filter to UDP: every row shown is UDP, and fewer match than before.
		b.do(t, chromedp.Evaluate[chromedp.Void](`(() => { const s = document.getElementById('ss-proto'); s.value = 'udp'; s.dispatchEvent(new Event('change')); })()`))
		waitJS(t, b, "only UDP rows", `(() => { const rows = [...document.querySelectorAll('#ss-table tbody tr.clickable')]; return rows.length > 0 && rows.every(r => r.dataset.proto === 'udp'); })()`)
		if got := eval[string](t, b, `document.getElementById('ss-info').dataset.total`); got == total {
			t.Errorf("the UDP filter did not change the number of matching sessions (%s)", got)
		}
		b.do(t, chromedp.Evaluate[chromedp.Void](`(() => { const s = document.getElementById('ss-proto'); s.value = ''; s.dispatchEvent(new Event('change')); })()`))
		waitJS(t, b, "all protocols back", `[...document.querySelectorAll('#ss-table tbody tr.clickable')].some(r => r.dataset.proto !== 'udp')`)
		// Sort by bytes: a click gives descending order, a second ascending.
		b.do(t, chromedp.Click(chromedp.CSS(`#ss-table th[data-col="bytes"]`)))
		live := `document.getElementById('ss-live')`
		b.do(t, chromedp.Evaluate[chromedp.Void](live+`.checked = false`)) // freeze in-place updates while checking order
		waitJS(t, b, "descending bytes", `(() => { const th = document.querySelector('#ss-table th[data-col="bytes"]'); const v = [...document.querySelectorAll('#ss-table tbody tr.clickable')].map(r => +r.dataset.bytes); return th.classList.contains('sorted-desc') && v.length > 1 && v.every((x, i) => i === 0 || v[i-1] >= x); })()`)
		b.do(t, chromedp.Click(chromedp.CSS(`#ss-table th[data-col="bytes"]`)))
		waitJS(t, b, "ascending bytes", `(() => { const th = document.querySelector('#ss-table th[data-col="bytes"]'); const v = [...document.querySelectorAll('#ss-table tbody tr.clickable')].map(r => +r.dataset.bytes); return th.classList.contains('sorted-asc') && v.length > 1 && v.every((x, i) => i === 0 || v[i-1] <= x); })()`)
		// Search for one address: every row shows it.
		ip := eval[string](t, b, `document.querySelector('#ss-table tbody tr.clickable td:nth-child(4) a').textContent`)
		b.do(t, chromedp.SendKeys(chromedp.CSS("#ss-search"), ip))
		waitJS(t, b, "rows of "+ip, fmt.Sprintf(`(() => { const rows = [...document.querySelectorAll('#ss-table tbody tr.clickable')]; return rows.length > 0 && rows.every(r => r.textContent.includes(%q)); })()`, ip))
		b.do(t, chromedp.Evaluate[chromedp.Void](`document.getElementById('ss-search').value=''; document.getElementById('ss-search').dispatchEvent(new Event('input'))`))
		waitJS(t, b, "the full table", fmt.Sprintf(`document.getElementById('ss-info').dataset.total !== '' && [...document.querySelectorAll('#ss-table tbody tr.clickable')].some(r => !r.textContent.includes(%q))`, ip))
		// Details on click.
		b.do(t, chromedp.Click(chromedp.CSS("#ss-table th[data-col=\"bytes\"]")))
		waitJS(t, b, "descending again", `document.querySelector('#ss-table th[data-col="bytes"]').classList.contains('sorted-desc')`)
		b.do(t, chromedp.Evaluate[chromedp.Void](live+`.checked = true`))
		b.do(t, chromedp.Click(chromedp.CSS("#ss-table tbody tr.clickable td:nth-child(6)")))
		waitJS(t, b, "the details dialog", `document.getElementById('ss-details').open && document.querySelector('#ss-details dl.kv') !== null`)
		b.shot(t, "session-details")
		b.do(t, chromedp.Evaluate[chromedp.Void](`document.getElementById('ss-details').close()`))
		b.shot(t, "sessions")
	})

	t.Run("map draws countries and shades them", func(t *testing.T) {
		b.do(t, chromedp.Navigate(r.base+"/#/map"), chromedp.WaitVisible(chromedp.CSS("#map svg")))
		waitJS(t, b, "over 100 countries", `document.querySelectorAll('#map svg path.country').length > 100`)
		waitJS(t, b, "a shaded country", `document.querySelectorAll('#map svg path.country.hit').length >= 1`)
		waitJS(t, b, "endpoint dots", `document.querySelectorAll('#map svg circle.dot').length >= 1`)
		b.shot(t, "map")
	})

	t.Run("every page loads", func(t *testing.T) {
		var top struct {
			Talkers []IPStat `json:"talkers"`
		}
		getJSON(t, r.base+"/api/top-talkers?range=1h", &top)
		ip := "127.0.0.1"
		if len(top.Talkers) > 0 {
			ip = top.Talkers[0].IP
		}
		pages := []struct{ hash, ready, shot string }{
			{"#/talkers", "#tk-table tbody tr", "talkers"},
			{"#/ip/" + ip, "#ip-tiles .tile", "ip"},
			{"#/alerts", "#al-alerts tbody tr", "alerts"},
			{"#/pipeline", "#dag svg g.node", "pipeline"},
		}
		for _, p := range pages {
			b.do(t, chromedp.Navigate(r.base+"/"+p.hash), chromedp.WaitVisible(chromedp.CSS(p.ready)))
			time.Sleep(500 * time.Millisecond)
			b.shot(t, p.shot)
		}
		if n := eval[int](t, b, `document.querySelectorAll('#dag svg g.node').length`); n != 7 {
			t.Errorf("pipeline graph has %d nodes, want 7", n)
		}
	})

	t.Run("reconnects by itself and says when it is disconnected", func(t *testing.T) {
		b.do(t, chromedp.Navigate(r.base+"/#/"), chromedp.WaitVisible(chromedp.CSS("#ov-chart .uplot")))
		waitJS(t, b, "the live badge", `document.getElementById('conn').textContent === 'live'`)
		// Drop every client, as the server does with one too slow to keep up.
		r.d.hub.mu.RLock()
		for c := range r.d.hub.clients {
			c.kick()
		}
		r.d.hub.mu.RUnlock()
		waitJS(t, b, "the disconnection to be noticed", `Number(document.body.dataset.disconnects || 0) >= 1`)
		waitJS(t, b, "the live badge again", `document.getElementById('conn').textContent === 'live' && document.getElementById('banner').hidden`)
		first := eval[string](t, b, `document.getElementById('ov-packets').textContent + '|' + document.getElementById('ov-flows').textContent`)
		waitJS(t, b, "numbers moving again", fmt.Sprintf(`(document.getElementById('ov-packets').textContent + '|' + document.getElementById('ov-flows').textContent) !== %q`, first))
	})

	t.Run("start and stop", func(t *testing.T) {
		b.do(t, chromedp.Navigate(r.base+"/#/"), chromedp.WaitVisible(chromedp.CSS("#monitor")))
		waitJS(t, b, "the Stop button", `document.getElementById('monitor').textContent === 'Stop' && !document.getElementById('monitor').disabled`)
		b.do(t, chromedp.Click(chromedp.CSS("#monitor")))
		eventually(t, "paused status", func() bool {
			var s StatusResponse
			getJSON(t, r.base+"/api/status", &s)
			return s.State == "paused" && !s.Monitoring
		})
		waitJS(t, b, "the Start button", `document.getElementById('monitor').textContent === 'Start'`)
		waitJS(t, b, "the paused state", `document.getElementById('ov-state').textContent === 'Paused'`)
		b.do(t, chromedp.Click(chromedp.CSS("#monitor")))
		eventually(t, "running status", func() bool {
			var s StatusResponse
			getJSON(t, r.base+"/api/status", &s)
			return s.State == "running" && s.Monitoring
		})
		waitJS(t, b, "the Stop button again", `document.getElementById('monitor').textContent === 'Stop'`)
	})

	t.Run("dark theme", func(t *testing.T) {
		b.do(t, chromedp.Navigate(r.base+"/#/"), chromedp.WaitVisible(chromedp.CSS("#ov-chart .uplot")))
		b.do(t, chromedp.Evaluate[chromedp.Void](`localStorage.setItem('nfpipe-theme', 'dark')`), chromedp.Reload())
		waitJS(t, b, "dark theme", `document.documentElement.dataset.theme === 'dark' && getComputedStyle(document.body).backgroundColor === 'rgb(13, 17, 23)'`)
		waitJS(t, b, "numbers", `document.getElementById('ov-packets').textContent !== '–'`)
		time.Sleep(2 * time.Second)
		b.shot(t, "dashboard-dark")
		b.do(t, chromedp.Navigate(r.base+"/#/map"), chromedp.WaitVisible(chromedp.CSS("#map svg path.country.hit")))
		time.Sleep(500 * time.Millisecond)
		b.shot(t, "map-dark")
		b.do(t, chromedp.Evaluate[chromedp.Void](`localStorage.removeItem('nfpipe-theme')`))
		b.do(t, chromedp.Navigate("about:blank"))
	})

	t.Run("phone width has no horizontal scroll", func(t *testing.T) {
		b.do(t, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile))
		for _, hash := range []string{"#/", "#/talkers", "#/sessions", "#/map", "#/alerts", "#/pipeline"} {
			// A fresh load each time: a hash change alone keeps the document.
			b.do(t, chromedp.Navigate("about:blank"), chromedp.Navigate(r.base+"/"+hash), chromedp.WaitVisible(chromedp.CSS("main section, main .tiles")))
			time.Sleep(700 * time.Millisecond)
			sw := eval[int](t, b, `document.documentElement.scrollWidth`)
			iw := eval[int](t, b, `window.innerWidth`)
			if sw > iw {
				t.Errorf("%s: page is %d px wide in a %d px window (horizontal scroll)", hash, sw, iw)
			}
			if hash == "#/" {
				waitJS(t, b, "numbers", `document.getElementById('ov-packets').textContent !== '–'`)
				b.shot(t, "phone")
			}
		}
		b.do(t, chromedp.ResetViewport(), chromedp.EmulateViewport(1440, 1000), chromedp.Navigate("about:blank"))
	})

	t.Run("overview with alerts", func(t *testing.T) {
		// Last, so the picture has a few minutes of history and alerts.
		b.do(t, chromedp.Navigate(r.base+"/#/"), chromedp.WaitVisible(chromedp.CSS("#ov-chart .uplot")))
		waitJS(t, b, "an alert on the overview", `document.querySelectorAll('#ov-alerts tbody tr').length > 0`)
		waitJS(t, b, "numbers", `document.getElementById('ov-packets').textContent !== '–'`)
		time.Sleep(1500 * time.Millisecond)
		b.shot(t, "dashboard")
	})

	if p := b.problems(r.base); len(p) > 0 {
		t.Errorf("the pages had problems:\n%s", strings.Join(p, "\n"))
	}
}
