package ui

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/hookd/hookd/internal/clock"
	"github.com/hookd/hookd/internal/store"
)

// Config configures the UI. Zero values take the defaults given.
type Config struct {
	// Store keeps the sessions (and, until the services land, is read
	// for projects).
	Store store.Store
	// Authenticate finds the valid API key whose secret is key; any error
	// refuses the sign-in.
	Authenticate func(ctx context.Context, key string) (store.APIKey, error)
	Clock        clock.Clock  // default clock.Real{}
	Logger       *slog.Logger // default slog.Default()
	// SessionTTL is how long a sign-in lasts; default DefaultSessionTTL.
	SessionTTL time.Duration
}

// DefaultSessionTTL is how long a sign-in lasts unless configured: a
// working day, so a forgotten browser does not stay signed in for long.
const DefaultSessionTTL = 12 * time.Hour

// maxFormBytes bounds a posted form.
const maxFormBytes = 64 << 10

// Prefix is where the UI is mounted.
const Prefix = "/ui/"

// UI is the web UI's http.Handler.
type UI struct {
	store        store.Store
	authenticate func(ctx context.Context, key string) (store.APIKey, error)
	clock        clock.Clock
	log          *slog.Logger
	sessionTTL   time.Duration
	pages        *pages
	mux          *http.ServeMux
	crossOrigin  *http.CrossOriginProtection
}

// New returns the UI. Mount it at Prefix.
func New(cfg Config) (*UI, error) {
	if cfg.Store == nil || cfg.Authenticate == nil {
		return nil, errors.New("ui: Config.Store and Authenticate are required")
	}
	u := &UI{
		store:        cfg.Store,
		authenticate: cfg.Authenticate,
		clock:        cfg.Clock,
		log:          cfg.Logger,
		sessionTTL:   cfg.SessionTTL,
		mux:          http.NewServeMux(),
		crossOrigin:  http.NewCrossOriginProtection(),
	}
	if u.clock == nil {
		u.clock = clock.Real{}
	}
	if u.log == nil {
		u.log = slog.Default()
	}
	if u.sessionTTL <= 0 {
		u.sessionTTL = DefaultSessionTTL
	}
	p, err := parsePages()
	if err != nil {
		return nil, err
	}
	u.pages = p
	u.routes()
	return u, nil
}

func (u *UI) routes() {
	u.mux.Handle("GET /ui/static/", staticHandler())
	u.mux.HandleFunc("GET /ui/{$}", u.signedIn(u.home))
	u.mux.HandleFunc("GET /ui/signin", u.public(u.signinForm))
	u.mux.HandleFunc("POST /ui/signin", u.public(u.signin))
	u.mux.HandleFunc("POST /ui/signout", u.signedIn(u.signout))

	u.mux.HandleFunc("GET /ui/projects", u.signedIn(u.projects))
	u.mux.HandleFunc("GET /ui/projects/{pid}/webhooks", u.inProject(u.webhooks))
}

// securityHeaders are set on every response, errors and static files
// included. The policy allows only this origin's script and style files:
// no inline script, no inline style, no framing (the Rotate and Delete
// buttons cannot be clickjacked), forms posted only here.
var securityHeaders = map[string]string{
	"Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
		"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
	"X-Frame-Options":        "DENY",
	"X-Content-Type-Options": "nosniff",
	"Referrer-Policy":        "same-origin",
	// Pages show secrets, keys and tenant data: keep them out of caches
	// and the back-forward cache of shared machines.
	"Cache-Control": "no-store",
}

// ServeHTTP sets the security headers, recovers panics and answers
// unknown pages with the UI's own 404 page.
func (u *UI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	for k, v := range securityHeaders {
		w.Header().Set(k, v)
	}
	sw := &statusWriter{ResponseWriter: w}
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			u.log.ErrorContext(r.Context(), "ui: panic", "method", r.Method, "route", r.Pattern, "panic", v)
			if !sw.wrote {
				u.renderError(sw, r, nil, errInternal)
			}
		}
	}()
	// Forms are small; a bigger body is not one of ours.
	r.Body = http.MaxBytesReader(sw, r.Body, maxFormBytes)
	if _, pattern := u.mux.Handler(r); pattern == "" {
		u.renderError(sw, r, nil, errPageNotFound)
		return
	}
	u.mux.ServeHTTP(sw, r)
}

// statusWriter remembers whether anything was written, so a panic after
// the header does not write a second one.
type statusWriter struct {
	http.ResponseWriter
	wrote bool
}

func (w *statusWriter) WriteHeader(code int) {
	w.wrote = true
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// redirect answers a form post or a page move with 303 See Other, so the
// browser follows with GET and a reload does not post again.
func redirect(w http.ResponseWriter, r *http.Request, to string) {
	http.Redirect(w, r, to, http.StatusSeeOther)
}
