package ui_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserRequestHeaders: a delivery's page lists, per attempt, the
// request headers exactly as the receiver got them — the signature
// included, the secret never. The page fits a 390 px phone.
func TestBrowserRequestHeaders(t *testing.T) {
	e := newEnv(t, false)
	p := e.project("Acme production")
	rc := newReceiver(t, http.StatusOK, "ok")
	e.api(http.StatusCreated, "POST", "/v1/projects/"+p.ID+"/endpoints", p.Key, map[string]any{"url": rc.srv.URL + "/hooks"}, nil)
	e.api(http.StatusAccepted, "POST", "/v1/projects/"+p.ID+"/events", p.Key, map[string]any{"type": "order.created", "data": map[string]int{"n": 1}}, nil)
	got := rc.waitRequests(t, 1)[0].header
	var secret struct {
		Secret string `json:"secret"`
	}
	e.api(http.StatusOK, "GET", "/v1/projects/"+p.ID+"/secret", p.Key, nil, &secret)
	var ds struct {
		Items []struct {
			ID           string `json:"id"`
			AttemptCount int    `json:"attempt_count"`
		} `json:"items"`
	}
	// The receiver answered; wait until the attempt is recorded.
	deadline := time.Now().Add(20 * time.Second)
	for len(ds.Items) == 0 || ds.Items[0].AttemptCount == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the attempt was never recorded")
		}
		time.Sleep(10 * time.Millisecond)
		e.api(http.StatusOK, "GET", "/v1/projects/"+p.ID+"/deliveries", p.Key, nil, &ds)
	}

	ctx := newTab(t)
	do(t, ctx, chromedp.Navigate(e.base+"/ui/"))
	do(t, ctx, chromedp.SendKeys(chromedp.ID("key"), p.Key))
	submitAndWait(t, ctx, `form[action="/ui/signin"] button`)
	do(t, ctx, chromedp.Navigate(e.base+"/ui/projects/"+p.ID+"/deliveries/"+ds.Items[0].ID))
	do(t, ctx, chromedp.Click(chromedp.CSS(".request-headers summary")))
	shown := run(t, ctx, chromedp.Evaluate[map[string]string](`Object.fromEntries(Array.from(document.querySelectorAll(".request-headers dl.headers > div")).
		map(d => [d.querySelector("dt").textContent, (d.querySelector("dd code") || {textContent: ""}).textContent]))`))
	for _, name := range []string{"content-type", "user-agent", "webhook-id", "webhook-timestamp", "webhook-signature"} {
		if shown[name] == "" || shown[name] != got.Get(name) {
			t.Errorf("%s shown as %q, sent as %q", name, shown[name], got.Get(name))
		}
	}
	html := run(t, ctx, chromedp.Evaluate[string](`document.documentElement.outerHTML`))
	if secret.Secret == "" || strings.Contains(html, secret.Secret) || strings.Contains(html, strings.TrimPrefix(secret.Secret, "whsec_")) {
		t.Fatal("the signing secret is in the delivery page")
	}
	for _, width := range []int64{390, 1280} {
		do(t, ctx, chromedp.EmulateViewport(width, 900, chromedp.EmulateScale(1)))
		checkLayout(t, ctx, width)
	}
}
