package ui_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestSmallThings: the favicon is served (also at /favicon.ico); an
// http:// endpoint is warned about; one nothing was sent to is not
// called healthy; the description is a multi-line field.
func TestSmallThings(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	p := e.project("Acme")
	c := e.client()
	csrf := c.signIn(p.Key)
	page := "/ui/projects/" + p.ID

	for _, path := range []string{"/favicon.ico", "/ui/static/favicon.svg"} {
		a := c.get(path)
		if a.StatusCode != http.StatusOK || a.Header.Get("Content-Type") != "image/svg+xml" || !strings.HasPrefix(a.body, "<svg") {
			t.Errorf("GET %s: %d %s", path, a.StatusCode, a.Header.Get("Content-Type"))
		}
	}
	if !strings.Contains(c.get(page+"/webhooks").body, `<link rel="icon" type="image/svg+xml" href="/ui/static/favicon.svg?v=`) {
		t.Error("the pages name no icon")
	}
	if f := c.get(page + "/webhooks/new").body; !strings.Contains(f, `<textarea id="description" name="description"`) {
		t.Error("the description is not a multi-line field")
	}

	a := c.submit(page+"/webhooks", url.Values{"csrf": {csrf}, "url": {"http://receiver.example/hook"}, "description": {"line one\nline two"}})
	if !strings.Contains(a.body, "travel unencrypted") || !strings.Contains(a.body, "http: not encrypted") {
		t.Errorf("an http:// endpoint is not warned about:\n%s", a.body)
	}
	var eps struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
	}
	e.api(http.StatusOK, "GET", "/v1/projects/"+p.ID+"/endpoints", p.Key, nil, &eps)
	if len(eps.Items) != 1 {
		t.Fatalf("endpoints: %+v", eps)
	}
	edit := c.get(page + "/webhooks/" + eps.Items[0].ID + "/edit").body
	if !strings.Contains(edit, "line one\nline two</textarea>") || !strings.Contains(edit, `class="field-warning"`) {
		t.Error("the edit form loses the description's lines or the http warning")
	}
	health := c.get(page + "/webhooks/" + eps.Items[0].ID).body
	if !strings.Contains(health, `status-new">No attempts yet`) || strings.Contains(health, "Healthy") {
		t.Error("an endpoint nothing was sent to is called healthy")
	}
}
