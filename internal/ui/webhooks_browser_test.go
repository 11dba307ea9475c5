package ui_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hookd/hookd/webhook"
)

// receiver is a webhook endpoint on loopback that records what it got and
// answers with a status the test sets.
type receiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	status int
	answer string
	got    []received
}

type received struct {
	header http.Header
	body   []byte
}

func newReceiver(t testing.TB, status int, answer string) *receiver {
	rc := &receiver{status: status, answer: answer}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.got = append(rc.got, received{r.Header.Clone(), body})
		status, answer := rc.status, rc.answer
		rc.mu.Unlock()
		w.WriteHeader(status)
		io.WriteString(w, answer)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

// waitRequests waits until the receiver got n requests and returns them.
func (rc *receiver) waitRequests(t testing.TB, n int) []received {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if got := rc.requests(); len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("the receiver got %d requests, want %d", len(rc.requests()), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// verifies reports whether r verifies with exactly one secret of secrets,
// checked one at a time.
func (r received) verifiesWith(t *testing.T, secret string) bool {
	t.Helper()
	v, err := webhook.NewVerifier([]string{secret})
	if err != nil {
		t.Fatal(err)
	}
	return v.Verify(r.body, r.header) == nil
}

// xss is what a tenant or a receiver might write to attack the people who
// read it in the UI: it must show as text and never run.
const xss = `<script>window.__xss="script"</script><img src=x onerror="window.__xss='img'">`

// noXSS fails the test when the page ran injected script.
func noXSS(t *testing.T, ctx context.Context) {
	t.Helper()
	if ran := run(t, ctx, chromedp.Evaluate[string](`String(window.__xss || "")`)); ran != "" {
		t.Fatalf("injected script ran on %s: %s", location(t, ctx), ran)
	}
	if n := run(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll("main script, main img").length`)); n != 0 {
		t.Fatalf("%d injected elements on %s", n, location(t, ctx))
	}
}

// TestBrowserWebhooks is a person's day with the UI: sign in, add an
// endpoint, press Test, find a published event in the Event Log with its
// status code, open its delivery and attempts, resend it, rotate the
// secret after confirming, and sign out. Along the way, text that tenants
// and receivers wrote must show as text and never run.
func TestBrowserWebhooks(t *testing.T) {
	e := newEnv(t, false)
	p := e.project("Acme production")
	// The receiver's answer is shown too (Test, attempts): it is
	// somebody else's text as well.
	ok := newReceiver(t, http.StatusOK, `{"received":true,"note":"`+strings.ReplaceAll(xss, `"`, `'`)+`"}`)
	ctx := newTab(t)

	// Sign in with the project key.
	do(t, ctx, chromedp.Navigate(e.base+"/ui/"))
	do(t, ctx, chromedp.SendKeys(chromedp.ID("key"), p.Key))
	submitAndWait(t, ctx, `form[action="/ui/signin"] button`)
	webhooksURL := e.base + "/ui/projects/" + p.ID + "/webhooks"
	if got := location(t, ctx); got != webhooksURL {
		t.Fatalf("after sign-in at %s, want %s", got, webhooksURL)
	}

	// Add an endpoint; a bad URL is refused beside its field first.
	submitAndWait(t, ctx, `a[href$="/webhooks/new"]`)
	do(t, ctx,
		chromedp.SendKeys(chromedp.ID("url"), "not a url"),
		chromedp.SendKeys(chromedp.ID("description"), "Billing sync "+xss),
	)
	submitAndWait(t, ctx, `form button[type=submit].btn-primary`)
	if msg := text(t, ctx, "#url-error"); msg == "" {
		t.Fatal("no error beside the URL field")
	}
	if v := run(t, ctx, chromedp.Value(chromedp.ID("description"))); !strings.Contains(v, "<script>") {
		t.Errorf("the description typed was not kept: %q", v)
	}
	do(t, ctx, chromedp.SetValue(chromedp.ID("url"), ok.srv.URL+"/hooks"))
	submitAndWait(t, ctx, `form button[type=submit].btn-primary`)
	if got := location(t, ctx); !strings.HasPrefix(got, webhooksURL) {
		t.Fatalf("after adding at %s", got)
	}
	if got := text(t, ctx, "table.endpoints .desc"); !strings.Contains(got, xss) {
		t.Errorf("description shown as %q, want the text %q", got, xss)
	}
	noXSS(t, ctx)

	// Test: the receiver's status code shows in place, and nothing is
	// logged.
	do(t, ctx, chromedp.Click(chromedp.CSS(`form[data-test] button`)))
	waitFor(t, ctx, `(document.querySelector(".test-result:not([hidden])") || {}).textContent`)
	if got := text(t, ctx, ".test-result"); !strings.Contains(got, "200") || !strings.Contains(got, "<script>") {
		t.Errorf("Test shows %q, want the receiver's 200 and its answer as text", got)
	}
	noXSS(t, ctx)
	if reqs := ok.waitRequests(t, 1); !strings.Contains(string(reqs[0].body), `"type":"webhook.test"`) {
		t.Errorf("the test request carried %s", reqs[0].body)
	}

	// Publish through the API; the Event Log shows it with its code.
	var pub struct {
		ID string `json:"id"`
	}
	e.api(http.StatusAccepted, "POST", "/v1/projects/"+p.ID+"/events", p.Key,
		map[string]any{"type": "tester.created", "data": map[string]string{"name": xss}}, &pub)
	ok.waitRequests(t, 2)
	submitAndWait(t, ctx, `.tabs a[href$="/events"]`)
	reloadUntil(t, ctx, `table.log tbody tr`, "200")
	row := text(t, ctx, "table.log tbody tr")
	for _, want := range []string{"tester.created", "Succeeded", "200"} {
		if !strings.Contains(row, want) {
			t.Errorf("Event Log row %q lacks %q", row, want)
		}
	}
	if strings.Contains(row, "webhook.test") {
		t.Error("the test event is in the Event Log")
	}

	// The delivery: its body (data shown as text) and its attempt.
	submitAndWait(t, ctx, `table.log tbody tr a`)
	if got := text(t, ctx, "#event-body"); !strings.Contains(got, pub.ID) || !strings.Contains(got, `<img src=x onerror=`) {
		t.Errorf("event body shown as %q", got)
	}
	noXSS(t, ctx)
	if got := text(t, ctx, ".attempts"); !strings.Contains(got, "#1") || !strings.Contains(got, "200") || !strings.Contains(got, "onerror=") {
		t.Errorf("attempts: %q", got)
	}

	// Resend: the event again, with the same event id, as a new delivery
	// (the one that succeeded stays as it was); its page comes next.
	submitAndWait(t, ctx, `form[action$="/resend"] button`)
	if got := text(t, ctx, ".flash"); !strings.Contains(got, "Resent as a new delivery") {
		t.Errorf("after Resend the page says %q", got)
	}
	reqs := ok.waitRequests(t, 3)
	if a, b := reqs[1].header.Get("webhook-id"), reqs[2].header.Get("webhook-id"); a != pub.ID || b != pub.ID {
		t.Errorf("webhook-id %q then %q, want %q both times", a, b, pub.ID)
	}
	reloadUntil(t, ctx, ".attempts", "#1")

	// Rotate after the confirmation; from then on only the new secret
	// verifies.
	do(t, ctx, chromedp.Navigate(webhooksURL))
	oldSecret := revealSecret(t, ctx)
	submitAndWait(t, ctx, `a[href$="/secret/rotate"]`)
	if got := text(t, ctx, "main"); !strings.Contains(got, "stops signing immediately") {
		t.Errorf("the confirmation says %q", got)
	}
	if checked := run(t, ctx, chromedp.Evaluate[string](`document.querySelector("input[name=grace_period_seconds]:checked").value`)); checked != "0" {
		t.Errorf("grace period %q chosen by default, want none (0)", checked)
	}
	submitAndWait(t, ctx, `form[action$="/secret/rotate"] button.btn-danger`)
	newSecret := text(t, ctx, "#secret-value")
	if !strings.HasPrefix(newSecret, "whsec_") || newSecret == oldSecret {
		t.Fatalf("after rotating the page shows %q (old %q)", newSecret, oldSecret)
	}
	e.api(http.StatusAccepted, "POST", "/v1/projects/"+p.ID+"/events", p.Key,
		map[string]any{"type": "tester.applied", "data": map[string]int{"n": 1}}, nil)
	reqs = ok.waitRequests(t, 4)
	last := reqs[3]
	if !last.verifiesWith(t, newSecret) || last.verifiesWith(t, oldSecret) {
		t.Errorf("after rotating: verifies with the new secret %v, with the old %v; want only the new",
			last.verifiesWith(t, newSecret), last.verifiesWith(t, oldSecret))
	}

	// Sign out: the pages are gone for this browser.
	submitAndWait(t, ctx, `form.signout button`)
	do(t, ctx, chromedp.Navigate(webhooksURL))
	if got := location(t, ctx); !strings.HasSuffix(got, "/ui/signin") {
		t.Errorf("after signing out, the webhooks page went to %s", got)
	}
}

// revealSecret presses Reveal and returns the secret shown in place.
func revealSecret(t *testing.T, ctx context.Context) string {
	t.Helper()
	do(t, ctx, chromedp.Click(chromedp.CSS(`form[data-reveal] button`)))
	waitFor(t, ctx, `!document.querySelector("#secret-value").classList.contains("hidden-secret")`)
	s := text(t, ctx, "#secret-value")
	if !strings.HasPrefix(s, "whsec_") {
		t.Fatalf("revealed %q", s)
	}
	return s
}

// reloadUntil reloads the page until the element sel contains want: the
// page shows what the delivery engine did by the time it was rendered.
func reloadUntil(t *testing.T, ctx context.Context, sel, want string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got, err := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(`(document.querySelector(%q) || {}).textContent || ""`, sel)))
		if err == nil && strings.Contains(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never showed %q (last %q, %v)", sel, want, got, err)
		}
		time.Sleep(100 * time.Millisecond)
		// A reload may meet the page's own refresh; the next round
		// looks again either way.
		_ = chromedp.Do(ctx, chromedp.Reload())
	}
}
