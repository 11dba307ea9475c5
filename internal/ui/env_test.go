package ui_test

import (
	"context"
	"crypto/sha256"
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

	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/store/sqlite"
	"github.com/hookd/hookd/internal/ui"
)

// env is a UI over a SQLite store in t.TempDir(), served by httptest.
type env struct {
	t        *testing.T
	store    store.Store
	srv      *httptest.Server
	adminKey string
}

func newEnv(t *testing.T, tls bool) *env {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "hookd.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	e := &env{t: t, store: db}
	e.adminKey = e.key("")
	h, err := ui.New(ui.Config{
		Store: db,
		Authenticate: func(ctx context.Context, key string) (store.APIKey, error) {
			sum := sha256.Sum256([]byte(key))
			k, err := db.GetAPIKeyByHash(ctx, sum[:])
			if err == nil && !k.RevokedAt.IsZero() {
				err = store.ErrNotFound
			}
			return k, err
		},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(ui.Prefix, h)
	if tls {
		e.srv = httptest.NewTLSServer(mux)
	} else {
		e.srv = httptest.NewServer(mux)
	}
	t.Cleanup(e.srv.Close)
	return e
}

// key stores a new API key of projectID ("" for admin) and returns it.
func (e *env) key(projectID string) string {
	e.t.Helper()
	key := "hk_test_" + ids.New("k", time.Now())
	sum := sha256.Sum256([]byte(key))
	err := e.store.CreateAPIKey(e.t.Context(), store.APIKey{
		ID: ids.New(ids.APIKey, time.Now()), ProjectID: projectID, Hash: sum[:], Prefix: key[:10], CreatedAt: time.Now(),
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return key
}

// project creates a project and a key for it.
func (e *env) project(name string) (store.Project, string) {
	e.t.Helper()
	p := store.Project{ID: ids.New(ids.Project, time.Now()), Name: name, CreatedAt: time.Now().UTC()}
	if err := e.store.CreateProject(e.t.Context(), p); err != nil {
		e.t.Fatal(err)
	}
	return p, e.key(p.ID)
}

// client is a browser without script: it keeps cookies and does not
// follow redirects, so tests see each answer.
type client struct {
	t    *testing.T
	e    *env
	http *http.Client
}

func (e *env) client() *client {
	jar, _ := cookiejar.New(nil)
	hc := e.srv.Client()
	hc.Jar = jar
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &client{t: e.t, e: e, http: hc}
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
	req, err := http.NewRequest(http.MethodGet, c.e.srv.URL+path, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	return c.do(req)
}

// post sends a form as a browser on this origin would (Origin and
// Sec-Fetch-Site set); header may override or add headers.
func (c *client) post(path string, form url.Values, header http.Header) answer {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodPost, c.e.srv.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", c.e.srv.URL)
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

var storePage = store.Page{Limit: 100}
