package ui_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hookd/hookd/internal/app"
	"github.com/hookd/hookd/internal/clock"
)

// saasHost is the SaaS's own app in the browser tests: a settings page on
// another site (http://localhost:…, while hookd is http://127.0.0.1:…)
// that asks hookd for a portal link server-side, as docs/portal.md shows,
// and frames it, sizing the frame by the portal's height hint.
type saasHost struct {
	srv  *httptest.Server
	mu   sync.Mutex
	e    *env
	pid  string
	key  string // the project key that makes the links
	ttl  int
	link string // the last link made
}

func (h *saasHost) origin() string { return strings.Replace(h.srv.URL, "127.0.0.1", "localhost", 1) }

func (h *saasHost) set(key string, ttl int) {
	h.mu.Lock()
	h.key, h.ttl = key, ttl
	h.mu.Unlock()
}

func (h *saasHost) lastLink() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.link
}

func newSaaSHost(t *testing.T) *saasHost {
	h := &saasHost{}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/settings/webhooks" {
			http.NotFound(w, r)
			return
		}
		h.mu.Lock()
		key, ttl := h.key, h.ttl
		h.mu.Unlock()
		var out struct {
			URL string `json:"url"`
		}
		h.e.api(http.StatusCreated, "POST", "/v1/projects/"+h.pid+"/portal-sessions", key,
			map[string]any{"access": "manage", "ttl_seconds": ttl, "return_url": h.origin() + "/settings/webhooks"}, &out)
		h.mu.Lock()
		h.link = out.URL
		h.mu.Unlock()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, saasPage, out.URL)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

// saasPage is the host page: the SaaS's chrome around the frame.
const saasPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Settings · Northwind</title>
<style>
  * { box-sizing: border-box; }
  body { margin: 0; font: 15px/1.5 system-ui, sans-serif; background: #f4f1ea; color: #1f2a24; }
  .bar { display: flex; align-items: center; gap: 12px; padding: 14px 24px; background: #123c2f; color: #fff; }
  .bar b { font-size: 18px; letter-spacing: -.01em; }
  .bar span { opacity: .75; }
  .wrap { display: flex; gap: 24px; padding: 24px; }
  nav { flex: 0 0 180px; display: flex; flex-direction: column; gap: 6px; }
  nav a { color: #1f2a24; text-decoration: none; padding: 6px 10px; border-radius: 6px; }
  nav a.on { background: #dfe9e3; font-weight: 600; }
  main { flex: 1; min-width: 0; }
  h1 { margin: 0 0 12px; font-size: 22px; }
  iframe { display: block; width: 100%%; height: 700px; border: 1px solid #d6d0c4; border-radius: 10px; background: #fff; }
  @media (max-width: 700px) { nav { display: none; } .wrap { padding: 12px; } .bar { padding: 12px; } }
</style></head>
<body>
<div class="bar"><b>Northwind</b><span>Settings</span></div>
<div class="wrap">
  <nav aria-label="Settings"><a href="#">Profile</a><a href="#">Billing</a><a href="#">Team</a><a class="on" href="#">Integrations › Webhooks</a></nav>
  <main><h1>Webhooks</h1><iframe id="portal" title="Webhooks" src="%s"></iframe></main>
</div>
<script>
  // hookd's optional height hint: grow the frame to fit the portal.
  addEventListener("message", function (ev) {
    if (ev.data && ev.data.type === "hookd:portal-height") {
      document.getElementById("portal").style.height = Math.max(400, ev.data.height + 2) + "px";
    }
  });
</script>
</body></html>`

// portalBrowser starts a Chromium of its own for the portal: it must
// accept the logo server's test certificate.
func portalBrowser(t *testing.T) context.Context {
	t.Helper()
	path := chromium()
	if path == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true and no Chromium")
		}
		t.Skip("no Chromium found (install Debian's chromium, or set HOOKD_CHROMIUM)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.WindowSize(1280, 900),
		chromedp.Flag("lang", "en-GB"), chromedp.Flag("ignore-certificate-errors", true),
		// Third-party cookies blocked, as more and more browsers do: the
		// portal's cookie must work as a partitioned one.
		chromedp.Flag("test-third-party-cookie-phaseout", true),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(cancelTimeout)
	return ctx
}

// frame attaches to the portal's frame in the tab (a target of its own:
// another site runs in another process) once it shows sel.
func frame(t *testing.T, ctx context.Context, hookdBase, sel string) context.Context {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		infos, err := chromedp.Targets(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range infos {
			if in.Type == "iframe" && strings.HasPrefix(in.URL, hookdBase) {
				fctx, cancel := chromedp.NewContext(ctx, chromedp.WithTargetID(in.TargetID))
				t.Cleanup(cancel)
				waitFor(t, fctx, fmt.Sprintf(`!!document.querySelector(%q)`, sel))
				return fctx
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no portal frame among %d targets", len(infos))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// frameLayout checks that the portal page in the frame and the host page
// around it have no sideways scroll at the tab's width.
func frameLayout(t *testing.T, tab, f context.Context, width int64) {
	t.Helper()
	if w := run(t, tab, chromedp.Evaluate[int64](`document.documentElement.scrollWidth`)); w > width {
		t.Errorf("the host page at %d px is %d px wide", width, w)
	}
	inner := run(t, f, chromedp.Evaluate[[]int64](`[document.documentElement.scrollWidth, window.innerWidth]`))
	if inner[0] > inner[1] {
		wide := run(t, f, chromedp.Evaluate[string](`Array.from(document.querySelectorAll("body *")).
			filter(e => e.getBoundingClientRect().right > window.innerWidth + 1).
			slice(0, 5).map(e => e.tagName + "." + e.className).join(", ")`))
		t.Errorf("%s in a %d px frame (tab %d px) is %d px wide; sticking out: %s", location(t, f), inner[1], width, inner[0], wide)
	}
}

// frameClick clicks sel in the frame and waits for the page it leads to.
func frameClick(t *testing.T, f context.Context, sel, thenSel string) {
	t.Helper()
	do(t, f, chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`window.hookdOldPage = true; document.querySelector(%q).click()`, sel)))
	frameLoaded(t, f, thenSel)
}

// frameLoaded waits for a new page in the frame that shows sel (the old
// one was marked hookdOldPage).
func frameLoaded(t *testing.T, f context.Context, sel string) {
	t.Helper()
	cond := fmt.Sprintf(`!window.hookdOldPage && document.readyState === "complete" && !!document.querySelector(%q)`, sel)
	deadline := time.Now().Add(20 * time.Second)
	for {
		// Evaluating while the frame navigates may fail: look again.
		if ok, err := chromedp.Run(f, chromedp.Evaluate[bool](cond)); err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the frame never showed %s (at %s)", sel, location(t, f))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// frameReload reloads the frame's page and waits for sel.
func frameReload(t *testing.T, f context.Context, sel string) {
	t.Helper()
	do(t, f, chromedp.Evaluate[chromedp.Void](`window.hookdOldPage = true; location.reload()`))
	frameLoaded(t, f, sel)
}

// shot writes docs/portal-<name>.png of the whole tab (host page and
// frame) when HOOKD_UPDATE_SCREENSHOTS=1.
func shot(t *testing.T, tab, f context.Context, name string) {
	t.Helper()
	if os.Getenv("HOOKD_UPDATE_SCREENSHOTS") != "1" {
		return
	}
	// Let the frame, sized by its hint, paint before the picture.
	const painted = `new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))`
	for range 3 {
		run(t, f, chromedp.Evaluate[bool](painted, chromedp.EvalAwaitPromise))
		run(t, tab, chromedp.Evaluate[bool](painted, chromedp.EvalAwaitPromise))
	}
	png := run(t, tab, chromedp.FullScreenshot(100))
	path := filepath.Join("..", "..", "docs", "portal-"+name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s", path)
}

// TestBrowserPortalFramed: a SaaS's settings page on another site frames
// a portal link it asked for. Inside the frame, at 1280 and 390 px with
// no sideways scroll: the branded Webhooks page, Test, the Event Log, a
// delivery page, and Rotate with its confirmation; another project's
// pages and the operator's answer 404 there. Chromium blocks third-party
// cookies: the partitioned cookie is what works. The link's second use
// is refused; a session whose key is revoked, and one past its expiry,
// show their page in the frame, whose Go back leads the whole tab to the
// return_url.
func TestBrowserPortalFramed(t *testing.T) {
	host := newSaaSHost(t)
	logo := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/svg+xml")
		fmt.Fprint(w, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 28 28"><rect width="28" height="28" rx="7" fill="#123c2f"/><path d="M7 20V8l14 12V8" stroke="#f4f1ea" stroke-width="3" fill="none" stroke-linejoin="round"/></svg>`)
	}))
	t.Cleanup(logo.Close)
	fake := clock.NewFake(time.Now().UTC())
	e := newEnvWith(t, false, func(c *app.Config) {
		c.Clock = fake
		c.PortalFrameAncestors = []string{host.origin()}
	})
	p := e.project("Northwind production")
	host.e, host.pid = e, p.ID
	host.set(p.Key, 3600)
	e.api(http.StatusOK, "PATCH", "/v1/projects/"+p.ID, p.Key, map[string]any{"portal": map[string]any{
		"name": "Northwind", "logo_url": logo.URL + "/logo.svg", "accent_color": "#1d6b52"}}, nil)
	rc := newReceiver(t, http.StatusOK, `{"ok":true}`)
	ep := createEndpoint(t, e, p, rc.srv.URL+"/hooks/orders")
	e.api(http.StatusAccepted, "POST", "/v1/projects/"+p.ID+"/events", p.Key,
		map[string]any{"type": "order.created", "data": map[string]any{"id": "ord_1042", "total": 129.5}}, nil)
	rc.waitRequests(t, 1)

	tab := portalBrowser(t)
	settings := host.origin() + "/settings/webhooks"
	do(t, tab, chromedp.Navigate(settings))
	f := frame(t, tab, e.base, ".endpoints")
	link := host.lastLink()
	if got := location(t, f); strings.Contains(got, "hps_") || !strings.HasSuffix(got, "/webhooks") {
		t.Errorf("the frame is at %q: the token stays in the URL", got)
	}
	if brand := text(t, f, ".portal-brand"); !strings.Contains(brand, "Northwind") {
		t.Errorf("brand %q", brand)
	}
	if accent := run(t, f, chromedp.Evaluate[string](`getComputedStyle(document.documentElement).getPropertyValue("--accent").trim()`)); accent != "#1d6b52" {
		t.Errorf("--accent = %q, want the brand's", accent)
	}
	waitFor(t, f, `document.querySelector(".portal-logo").complete && document.querySelector(".portal-logo").naturalWidth > 0`)
	// Nothing of the operator's console.
	if n := run(t, f, chromedp.Evaluate[int](`document.querySelectorAll('a[href="/ui/projects"], a[href$="/api-keys"], a[href$="/activity"]').length`)); n != 0 {
		t.Errorf("%d links to the operator's pages in the portal", n)
	}
	// The height hint sized the frame.
	waitFor(t, tab, `parseInt(document.getElementById("portal").style.height) > 400`)

	// Test, in the frame.
	do(t, f, chromedp.Evaluate[chromedp.Void](`document.querySelector("form[data-test] button").click()`))
	waitFor(t, f, `!document.getElementById("test-`+ep+`").hidden && document.getElementById("test-`+ep+`").textContent.includes("200")`)
	rc.waitRequests(t, 2)
	frameLayout(t, tab, f, 1280)
	shot(t, tab, f, "framed-1280")

	// The Event Log and a delivery.
	frameClick(t, f, `.tabs a[href$="/events"]`, "table")
	frameLayout(t, tab, f, 1280)
	frameClick(t, f, `a[href*="/deliveries/"]`, ".facts")
	if h := text(t, f, "h1"); !strings.Contains(h, "order.created") {
		t.Errorf("delivery page h1 %q", h)
	}
	frameLayout(t, tab, f, 1280)

	// Rotate, with its confirmation.
	frameClick(t, f, `.tabs a[href$="/webhooks"]`, ".endpoints")
	frameClick(t, f, `a[href$="/secret/rotate"]`, `form[action$="/secret/rotate"]`)
	frameLayout(t, tab, f, 1280)
	frameClick(t, f, `form[action$="/secret/rotate"] button[type=submit]`, ".flash, .notice")
	if msg := text(t, f, "main"); !strings.Contains(msg, "Secret rotated") {
		t.Errorf("after Rotate: %.300s", msg)
	}

	// Another project's pages, and the operator's, are not there.
	other := e.project("Other customer")
	for _, path := range []string{"/ui/projects/" + other.ID + "/webhooks", "/ui/projects", "/ui/projects/" + p.ID + "/api-keys"} {
		do(t, f, chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`window.hookdOldPage = true; location.href = %q`, path)))
		frameLoaded(t, f, ".error-page")
		if h := text(t, f, "h1"); !strings.Contains(h, "not found") {
			t.Errorf("%s in the portal: %q, want a 404 page", path, h)
		}
	}

	// A phone: the same pages in the frame, no sideways scroll.
	do(t, tab, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(1)))
	frameClick(t, f, `.tabs a[href$="/webhooks"]`, ".endpoints")
	frameLayout(t, tab, f, 390)
	shot(t, tab, f, "framed-390")
	frameClick(t, f, `.tabs a[href$="/events"]`, "table")
	frameLayout(t, tab, f, 390)
	frameClick(t, f, `a[href*="/deliveries/"]`, ".facts")
	frameLayout(t, tab, f, 390)
	frameClick(t, f, `.tabs a[href$="/webhooks"]`, ".endpoints")
	frameClick(t, f, `a[href$="/secret/rotate"]`, `form[action$="/secret/rotate"]`)
	frameLayout(t, tab, f, 390)
	do(t, tab, chromedp.EmulateViewport(1280, 900, chromedp.EmulateScale(1)))

	// The link again: refused.
	do(t, tab, chromedp.Navigate(link))
	if h := text(t, tab, "h1"); h != "This link was already used" {
		t.Errorf("second use of the link: %q", h)
	}

	// A key revoked ends its sessions at their next page.
	var k struct {
		ID  string `json:"id"`
		Key string `json:"key"`
	}
	e.api(http.StatusCreated, "POST", "/v1/projects/"+p.ID+"/api-keys", p.Key, map[string]string{"name": "portal links", "scope": "project"}, &k)
	host.set(k.Key, 3600)
	do(t, tab, chromedp.Navigate(settings))
	f = frame(t, tab, e.base, ".endpoints")
	e.api(http.StatusNoContent, "DELETE", "/v1/projects/"+p.ID+"/api-keys/"+k.ID, p.Key, nil, nil)
	frameReload(t, f, ".portal-closed")
	if h := text(t, f, "h1"); h != "This link was withdrawn" {
		t.Errorf("after the key's revocation: %q", h)
	}

	// Past its expiry: the page says so, and Go back leaves the frame
	// for the SaaS's page.
	host.set(p.Key, 120)
	do(t, tab, chromedp.Navigate(settings))
	f = frame(t, tab, e.base, ".endpoints")
	fake.Advance(2 * time.Minute)
	frameReload(t, f, ".portal-closed")
	if h := text(t, f, "h1"); h != "This link expired" {
		t.Errorf("after expiry: %q", h)
	}
	shot(t, tab, f, "expired")
	back := run(t, f, chromedp.Evaluate[string](`document.querySelector(".portal-closed a").href`))
	if back != settings {
		t.Errorf("Go back leads to %q, want %q", back, settings)
	}
	do(t, tab, chromedp.Evaluate[chromedp.Void](`window.hookdOldPage = true`))
	do(t, f, chromedp.Click(chromedp.CSS(".portal-closed a"), chromedp.NodeVisible))
	frameLoaded(t, tab, "iframe#portal") // the whole tab: the SaaS's page again
	if got := location(t, tab); got != settings {
		t.Errorf("Go back led the tab to %q", got)
	}
}
