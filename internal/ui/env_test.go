package ui_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/app"
	"github.com/hookd/hookd/internal/app/apptest"
)

const adminKey = "hk_adm_ui_test_0123456789abcdef"

// env is a whole hookd (app.New: store, services, delivery engine, API
// and UI) on a SQLite file in t.TempDir(), listening on a free port.
type env struct {
	t   testing.TB
	app *app.App
	// base is where the browser and the HTTP client reach it.
	base     string
	adminKey string
	srvTLS   *httptest.Server // set when the env serves over TLS
}

func newEnv(t testing.TB, tls bool) *env {
	t.Helper()
	return newEnvWith(t, tls, nil)
}

// newEnvWith is newEnv with mod applied to hookd's configuration.
func newEnvWith(t testing.TB, tls bool, mod func(*app.Config)) *env {
	t.Helper()
	cfg := app.Config{
		Addr:                 "127.0.0.1:0",
		DB:                   filepath.Join(t.TempDir(), "hookd.db"),
		AdminKey:             adminKey,
		AllowPrivateNetworks: true, // receivers are httptest servers on loopback
		RetrySchedule:        []time.Duration{time.Hour},
		Timeout:              5 * time.Second,
		PollInterval:         50 * time.Millisecond,
		Logger:               slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if mod != nil {
		mod(&cfg)
	}
	a := apptest.Start(t, cfg)
	e := &env{t: t, app: a, base: "http://" + a.Addr(), adminKey: adminKey}
	if tls {
		e.srvTLS = httptest.NewTLSServer(a.Handler())
		t.Cleanup(e.srvTLS.Close)
		e.base = e.srvTLS.URL
	}
	return e
}

// api calls hookd's JSON API with key and decodes the answer into out
// (when non-nil); it fails the test unless the status is want.
func (e *env) api(want int, method, path, key string, body, out any, header ...string) {
	e.t.Helper()
	var r io.Reader
	if body != nil {
		// Unescaped, so that "<" reaches hookd as "<", as any client
		// may send it.
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(body); err != nil {
			e.t.Fatal(err)
		}
		r = &b
	}
	req, err := http.NewRequest(method, e.base+path, r)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := e.httpClient().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		e.t.Fatalf("%s %s: %d, want %d: %s", method, path, resp.StatusCode, want, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			e.t.Fatalf("%s %s: %v", method, path, err)
		}
	}
}

func (e *env) httpClient() *http.Client {
	if e.srvTLS != nil {
		return e.srvTLS.Client()
	}
	return &http.Client{}
}

type project struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Key   string
	KeyID string
}

// project creates a project and a key for it through the API.
func (e *env) project(name string) project {
	e.t.Helper()
	var p project
	e.api(http.StatusCreated, "POST", "/v1/projects", e.adminKey, map[string]string{"name": name}, &p)
	var k struct {
		ID  string `json:"id"`
		Key string `json:"key"`
	}
	e.api(http.StatusCreated, "POST", "/v1/projects/"+p.ID+"/api-keys", e.adminKey, nil, &k)
	p.Key, p.KeyID = k.Key, k.ID
	return p
}

// client is a browser without script: it keeps cookies and does not
// follow redirects, so tests see each answer.
type client struct {
	t    testing.TB
	e    *env
	http *http.Client
}

func (e *env) client() *client {
	jar, _ := cookiejar.New(nil)
	// A copy: over TLS, httpClient is the test server's one client, and
	// each browser keeps its own cookies.
	hc := new(http.Client)
	*hc = *e.httpClient()
	hc.Jar = jar
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &client{t: e.t, e: e, http: hc}
}

// as is the client reporting to t (a fuzz target's own test).
func (c *client) as(t testing.TB) *client {
	cp := *c
	cp.t = t
	return &cp
}

type answer struct {
	*http.Response
	body string
}

func (c *client) do(req *http.Request) answer {
	c.t.Helper()
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return answer{resp, string(b)}
}

func (c *client) get(path string) answer {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodGet, c.e.base+path, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	return c.do(req)
}

// post sends a form as a browser on this origin would (Origin and
// Sec-Fetch-Site set); header may override or add headers.
func (c *client) post(path string, form url.Values, header http.Header) answer {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodPost, c.e.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", c.e.base)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	for k, v := range header {
		req.Header[k] = v
	}
	return c.do(req)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf is the CSRF token of the forms on the page at path.
func (c *client) csrf(path string) string {
	c.t.Helper()
	a := c.get(path)
	m := csrfRE.FindStringSubmatch(a.body)
	if m == nil {
		c.t.Fatalf("GET %s (%d): no CSRF field in the page", path, a.StatusCode)
	}
	return m[1]
}

// signIn signs in with key and returns the session's CSRF token.
func (c *client) signIn(key string) string {
	c.t.Helper()
	token := c.csrf("/ui/signin")
	a := c.post("/ui/signin", url.Values{"csrf": {token}, "key": {key}}, nil)
	if a.StatusCode != http.StatusSeeOther || a.Header.Get("Location") != "/ui/" {
		c.t.Fatalf("sign-in: %d %s, want 303 to /ui/", a.StatusCode, a.Header.Get("Location"))
	}
	home := c.get("/ui/").Header.Get("Location")
	return c.csrf(home)
}

// submit posts a form as post does, wants the answer every change gives
// (303 See Other) and follows it: the page that shows the result.
func (c *client) submit(path string, form url.Values) answer {
	c.t.Helper()
	a := c.post(path, form, nil)
	if a.StatusCode != http.StatusSeeOther {
		c.t.Fatalf("POST %s: %d, want 303 See Other:\n%.2000s", path, a.StatusCode, a.body)
	}
	return c.get(a.Header.Get("Location"))
}
