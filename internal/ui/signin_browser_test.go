package ui_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserSignInOut signs in with a key in a real browser, sees the
// projects, and signs out.
func TestBrowserSignInOut(t *testing.T) {
	e := newEnv(t, false)
	e.project("Acme")
	ctx := newTab(t)
	do(t, ctx, chromedp.Navigate(e.base+"/ui/"))
	if got := location(t, ctx); !strings.HasSuffix(got, "/ui/signin") {
		t.Fatalf("signed out, /ui/ went to %s", got)
	}
	screenshot(t, ctx, "signin")
	do(t, ctx, chromedp.SendKeys(chromedp.ID("key"), e.adminKey))
	submitAndWait(t, ctx, `form[action="/ui/signin"] button[type=submit]`)
	if got := location(t, ctx); !strings.HasSuffix(got, "/ui/projects") {
		t.Fatalf("after sign-in at %s", got)
	}
	if got := text(t, ctx, "main"); !strings.Contains(got, "Acme") {
		t.Errorf("projects page: %q", got)
	}
	submitAndWait(t, ctx, `form.signout button`)
	if got := location(t, ctx); !strings.HasSuffix(got, "/ui/signin") {
		t.Fatalf("after sign-out at %s", got)
	}
	do(t, ctx, chromedp.Navigate(e.base+"/ui/projects"))
	if got := location(t, ctx); !strings.HasSuffix(got, "/ui/signin") {
		t.Errorf("signed out, /ui/projects went to %s", got)
	}
}
