package ui_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/hookd/hookd/internal/app"
	"github.com/hookd/hookd/internal/clock"
)

type apiKeyJSON struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Scope     string     `json:"scope"`
	RevokedAt *time.Time `json:"revoked_at"`
}

// TestBrowserAPIKeys: on the API keys page a person creates a publish
// key, sees it once (it works, and only publishes), reloads and sees it no
// more and no second key made; revokes it after the confirmation page,
// reloads and nothing more changes; the key is refused from then on. The
// pages fit a 390 px phone.
func TestBrowserAPIKeys(t *testing.T) {
	e := newEnv(t, false)
	p := e.project("Acme production")
	keys := func() []apiKeyJSON {
		t.Helper()
		var list struct {
			Items []apiKeyJSON `json:"items"`
		}
		e.api(http.StatusOK, "GET", "/v1/projects/"+p.ID+"/api-keys", p.Key, nil, &list)
		return list.Items
	}
	revokes := func() int {
		t.Helper()
		var audit struct {
			Items []struct {
				Action string `json:"action"`
			} `json:"items"`
		}
		e.api(http.StatusOK, "GET", "/v1/projects/"+p.ID+"/audit", p.Key, nil, &audit)
		n := 0
		for _, it := range audit.Items {
			if strings.Contains(it.Action, "revoke") {
				n++
			}
		}
		return n
	}
	before := len(keys())

	ctx := newTab(t)
	do(t, ctx, chromedp.Navigate(e.base+"/ui/"))
	do(t, ctx, chromedp.SendKeys(chromedp.ID("key"), p.Key))
	submitAndWait(t, ctx, `form[action="/ui/signin"] button`)
	submitAndWait(t, ctx, `nav.tabs a[href$="/api-keys"]`)
	keysURL := e.base + "/ui/projects/" + p.ID + "/api-keys"
	if got := location(t, ctx); got != keysURL {
		t.Fatalf("the API keys tab leads to %s", got)
	}

	// Create: the key is shown once, on the page the form led to.
	do(t, ctx, chromedp.SendKeys(chromedp.ID("key-name"), "billing service"),
		chromedp.SetValue(chromedp.ID("key-scope"), "publish"))
	submitAndWait(t, ctx, `form[action$="/api-keys"] button[type=submit]`)
	after := location(t, ctx)
	if strings.Contains(after, "hk_") {
		t.Fatalf("the new key is in the URL: %s", after)
	}
	newKey := text(t, ctx, "#new-key")
	if head := text(t, ctx, "#newkey-title"); !strings.Contains(head, "publish") || !strings.Contains(head, "billing service") {
		t.Errorf("the new key is called %q", head)
	}
	for _, width := range []int64{390, 1280} {
		do(t, ctx, chromedp.EmulateViewport(width, 900, chromedp.EmulateScale(1)))
		checkLayout(t, ctx, width)
	}
	e.api(http.StatusAccepted, "POST", "/v1/projects/"+p.ID+"/events", newKey, map[string]any{"type": "a.b", "data": map[string]any{}}, nil)
	e.api(http.StatusForbidden, "GET", "/v1/projects/"+p.ID+"/events", newKey, nil, nil)
	var created apiKeyJSON
	for _, k := range keys() {
		if k.Name == "billing service" {
			created = k
		}
	}
	if created.ID == "" || created.Scope != "publish" || len(keys()) != before+1 {
		t.Fatalf("after Create key the API lists %+v", keys())
	}
	// Reload: the key is not shown again and no second key is made.
	do(t, ctx, chromedp.Reload())
	if n := run(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll("#new-key").length`)); n != 0 ||
		strings.Contains(text(t, ctx, "main"), newKey) {
		t.Error("a reload shows the new key again")
	}
	if n := len(keys()); n != before+1 {
		t.Errorf("after a reload %d keys, want %d", n, before+1)
	}
	if row := text(t, ctx, "#key-"+created.ID); !strings.Contains(row, "billing service") || !strings.Contains(row, "publish") {
		t.Errorf("the list shows the new key as %q", row)
	}

	// Revoke, after confirming.
	submitAndWait(t, ctx, `#key-`+created.ID+` a[href$="/revoke"]`)
	if got := text(t, ctx, "main"); !strings.Contains(got, "billing service") || !strings.Contains(got, "cannot be undone") {
		t.Errorf("the confirmation says %q", got)
	}
	if len(keys()) != before+1 || revokes() != 0 {
		t.Fatal("opening the confirmation revoked something")
	}
	for _, width := range []int64{390, 1280} {
		do(t, ctx, chromedp.EmulateViewport(width, 900, chromedp.EmulateScale(1)))
		checkLayout(t, ctx, width)
	}
	submitAndWait(t, ctx, `form[action$="/revoke"] button.btn-danger`)
	if msg := text(t, ctx, ".flash"); !strings.Contains(msg, "API key revoked") {
		t.Errorf("after revoking the page says %q", msg)
	}
	if row := text(t, ctx, "#key-"+created.ID); !strings.Contains(row, "revoked") {
		t.Errorf("the revoked key's row: %q", row)
	}
	e.api(http.StatusUnauthorized, "POST", "/v1/projects/"+p.ID+"/events", newKey, map[string]any{"type": "a.b", "data": map[string]any{}}, nil)
	// Reload: no flash again, nothing else revoked; the browser's own key
	// still works.
	do(t, ctx, chromedp.Reload())
	if n := run(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll(".flash").length`)); n != 0 {
		t.Error("a reload shows the result again")
	}
	if got := location(t, ctx); !strings.HasPrefix(got, keysURL) {
		t.Errorf("after revoking at %s", got)
	}
	if n := revokes(); n != 1 {
		t.Errorf("%d revocations in the audit trail, want 1", n)
	}
	revoked := 0
	for _, k := range keys() {
		if k.RevokedAt != nil {
			revoked++
		}
	}
	if revoked != 1 {
		t.Errorf("%d keys revoked, want 1", revoked)
	}
	if h := text(t, ctx, "h1"); h != "API keys" {
		t.Errorf("signed out by the revocation? the page is %q", h)
	}
}

// TestBrowserGraceShownAndEnded: rotating with an hour's grace says until
// when the previous secret signs; reloading the result rotates nothing
// more (the secret just shown stays the secret); the Webhooks page says
// "Previous secret still signing until …" while the grace runs, on
// hookd's clock, and no more once it ended. The pages fit a 390 px phone.
func TestBrowserGraceShownAndEnded(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 12, 1, 13, 5, 0, 0, time.UTC))
	e := newEnvWith(t, false, func(cfg *app.Config) { cfg.Clock = clk })
	p := e.project("Acme production")
	secret := func() string {
		t.Helper()
		var s struct {
			Secret string `json:"secret"`
		}
		e.api(http.StatusOK, "GET", "/v1/projects/"+p.ID+"/secret", p.Key, nil, &s)
		return s.Secret
	}
	old := secret()

	ctx := newTab(t)
	do(t, ctx, chromedp.Navigate(e.base+"/ui/"))
	do(t, ctx, chromedp.SendKeys(chromedp.ID("key"), p.Key))
	submitAndWait(t, ctx, `form[action="/ui/signin"] button`)
	webhooks := e.base + "/ui/projects/" + p.ID + "/webhooks"
	if n := run(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll(".notice.grace").length`)); n != 0 {
		t.Fatal("a grace period shown before any rotation")
	}

	submitAndWait(t, ctx, `a[href$="/secret/rotate"]`)
	do(t, ctx, chromedp.Click(chromedp.CSS(`input[name=grace_period_seconds][value="3600"]`)))
	submitAndWait(t, ctx, `form[action$="/secret/rotate"] button.btn-danger`)
	shown := text(t, ctx, "#secret-value")
	if !strings.HasPrefix(shown, "whsec_") || shown == old || shown != secret() {
		t.Fatalf("after rotating the page shows %q; the secret is %q (was %q)", shown, secret(), old)
	}
	if got := text(t, ctx, "main"); !strings.Contains(got, "keeps signing beside the new one until 2026-12-01 14:05:00 UTC (in 1 h)") {
		t.Errorf("after rotating with an hour's grace:\n%s", got)
	}
	do(t, ctx, chromedp.Reload())
	if now := secret(); now != shown {
		t.Fatalf("a reload rotated again: the secret shown %q, now %q", shown, now)
	}
	if n := run(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll("#secret-value.hidden-secret").length`)); n != 1 {
		t.Error("after a reload the secret is still shown in the clear")
	}

	clk.Advance(30 * time.Minute)
	do(t, ctx, chromedp.Navigate(webhooks))
	if got := text(t, ctx, ".notice.grace"); !strings.Contains(got, "Previous secret still signing until 2026-12-01 14:05:00 UTC (in 30 min)") {
		t.Errorf("while the grace runs the Webhooks page says %q", got)
	}
	for _, width := range []int64{390, 1280} {
		do(t, ctx, chromedp.EmulateViewport(width, 900, chromedp.EmulateScale(1)))
		checkLayout(t, ctx, width)
	}

	clk.Advance(30 * time.Minute)
	do(t, ctx, chromedp.Reload())
	if got := text(t, ctx, "main"); strings.Contains(got, "still signing") || strings.Contains(got, "keeps signing") {
		t.Errorf("after the grace ended the page says:\n%s", got)
	}
}

// TestBrowserKeyboardFocus: a keyboard user presses Test, then Reveal,
// with Enter. The keyboard's focus stays beside what they did and its
// result (the Test button beside its result, announced; Copy beside the
// revealed secret), never dropped to <body>, so the next Tab goes on from
// there.
func TestBrowserKeyboardFocus(t *testing.T) {
	e := newEnv(t, false)
	p := e.project("Acme production")
	rc := newReceiver(t, http.StatusOK, `{"ok":true}`)
	var ep struct {
		ID string `json:"id"`
	}
	e.api(http.StatusCreated, "POST", "/v1/projects/"+p.ID+"/endpoints", p.Key, map[string]any{"url": rc.srv.URL + "/hooks"}, &ep)

	ctx := newTab(t)
	do(t, ctx, chromedp.Navigate(e.base+"/ui/"))
	do(t, ctx, chromedp.SendKeys(chromedp.ID("key"), p.Key))
	submitAndWait(t, ctx, `form[action="/ui/signin"] button`)

	for _, width := range []int64{1280, 390} {
		do(t, ctx, chromedp.EmulateViewport(width, 900, chromedp.EmulateScale(1)))
		do(t, ctx, chromedp.Reload())
		sent := len(rc.requests())

		// Test, from the keyboard.
		test := `#ep-` + ep.ID + ` form[data-test] button`
		do(t, ctx, chromedp.Focus(chromedp.CSS(test)), chromedp.KeyEvent(kb.Enter))
		waitFor(t, ctx, `!document.querySelector("#test-`+ep.ID+`").hidden && !document.querySelector("`+test+`").disabled`)
		rc.waitRequests(t, sent+1)
		if got := text(t, ctx, "#test-"+ep.ID); !strings.Contains(got, "200") {
			t.Errorf("at %d px Test shows %q", width, got)
		}
		if live := run(t, ctx, chromedp.Evaluate[string](`document.querySelector("#test-`+ep.ID+`").getAttribute("aria-live")`)); live == "" {
			t.Errorf("at %d px the Test result is not announced", width)
		}
		onTest := run(t, ctx, chromedp.Evaluate[bool](`document.activeElement === document.querySelector("`+test+`")`))
		if !onTest {
			t.Errorf("at %d px after Test the focus is on %s, want the Test button beside its result", width, activeElement(t, ctx))
		}
		checkLayout(t, ctx, width)

		// Reveal, from the keyboard.
		do(t, ctx, chromedp.Focus(chromedp.CSS(`form[data-reveal] button`)), chromedp.KeyEvent(kb.Enter))
		waitFor(t, ctx, `!document.querySelector("#secret-value").classList.contains("hidden-secret")`)
		if s := text(t, ctx, "#secret-value"); !strings.HasPrefix(s, "whsec_") {
			t.Errorf("at %d px Reveal shows %q", width, s)
		}
		onCopy := run(t, ctx, chromedp.Evaluate[bool](`document.activeElement === document.querySelector('[data-copy="secret-value"]')`))
		if !onCopy {
			t.Errorf("at %d px after Reveal the focus is on %s, want Copy beside the secret", width, activeElement(t, ctx))
		}
		checkLayout(t, ctx, width)
	}
}
