package ui

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/hookd/hookd/internal/clock"
	"github.com/hookd/hookd/internal/service"
	"github.com/hookd/hookd/internal/store"
)

// Config configures the UI. Zero values take the defaults given.
type Config struct {
	// Service is the domain layer every page calls. Required.
	Service *service.Service
	// Sessions keeps the sign-ins (a store.Store does). Required.
	Sessions Sessions
	Clock    clock.Clock  // default clock.Real{}
	Logger   *slog.Logger // default slog.Default()
	// SessionTTL is how long a sign-in lasts; default DefaultSessionTTL.
	SessionTTL time.Duration
	// UserAgent is the User-Agent hookd's webhooks carry, shown among a
	// delivery's request headers; default "hookd".
	UserAgent string
	// PortalFrameAncestors are the origins that may frame the customer
	// portal's pages (CSP frame-ancestors; CheckFrameAncestors). None:
	// 'none', as every other page.
	PortalFrameAncestors []string
}

// Sessions is the part of store.Store the UI keeps its sessions in, so
// that every node sharing the database accepts them.
type Sessions interface {
	CreateSession(ctx context.Context, s store.Session) error
	GetSession(ctx context.Context, hash []byte, now time.Time) (store.Session, error)
	DeleteSession(ctx context.Context, hash []byte) error
	// The one-time results of forms (flash.go).
	PutFlash(ctx context.Context, f store.Flash) error
	TakeFlash(ctx context.Context, sessionHash []byte, id string, now time.Time) ([]byte, error)
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
	svc         *service.Service
	sessions    Sessions
	clock       clock.Clock
	log         *slog.Logger
	sessionTTL  time.Duration
	userAgent   string
	pages       *pages
	mux         *http.ServeMux
	crossOrigin *http.CrossOriginProtection
	// frameAncestors: Config.PortalFrameAncestors.
	frameAncestors []string
}

// New returns the UI. Mount it at Prefix.
func New(cfg Config) (*UI, error) {
	if cfg.Service == nil || cfg.Sessions == nil {
		return nil, errors.New("ui: Config.Service and Sessions are required")
	}
	u := &UI{
		svc:         cfg.Service,
		sessions:    cfg.Sessions,
		clock:       cfg.Clock,
		log:         cfg.Logger,
		sessionTTL:  cfg.SessionTTL,
		userAgent:   cfg.UserAgent,
		mux:         http.NewServeMux(),
		crossOrigin: http.NewCrossOriginProtection(),
	}
	if err := CheckFrameAncestors(cfg.PortalFrameAncestors); err != nil {
		return nil, err
	}
	u.frameAncestors = slices.Clone(cfg.PortalFrameAncestors)
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
	const p = "/ui/projects/{pid}"
	u.mux.Handle("GET /ui/static/", staticHandler())
	u.mux.HandleFunc("GET /ui/{$}", u.signedIn(u.home))
	u.mux.HandleFunc("GET /ui/signin", u.public(u.signinForm))
	u.mux.HandleFunc("POST /ui/signin", u.public(u.signin))
	u.mux.HandleFunc("POST /ui/signout", u.signedInAnyScope(u.signout))
	u.mux.HandleFunc("GET /ui/portal/{token}", u.portalStart)
	u.mux.HandleFunc("GET /ui/portal/closed", u.portalClosedPage)
	u.mux.HandleFunc("GET "+p+"/brand.css", u.signedIn(u.inProject(u.brandCSS)))

	u.mux.HandleFunc("GET /ui/projects", u.signedIn(u.projects))
	u.mux.HandleFunc("POST /ui/projects", u.adminOnly(u.createProject))
	u.mux.HandleFunc("POST "+p+"/keys", u.adminOnly(u.inProject(u.createKey)))

	u.mux.HandleFunc("GET "+p+"/webhooks", u.signedIn(u.inProject(u.webhooks)))
	u.mux.HandleFunc("GET "+p+"/webhooks/new", u.signedIn(u.inProject(u.newEndpoint)))
	u.mux.HandleFunc("POST "+p+"/webhooks", u.signedIn(u.inProject(u.createEndpoint)))
	u.mux.HandleFunc("GET "+p+"/webhooks/{eid}", u.signedIn(u.inProject(u.endpointPage)))
	u.mux.HandleFunc("POST "+p+"/webhooks/{eid}/recover", u.signedIn(u.inProject(u.recoverEndpoint)))
	u.mux.HandleFunc("POST "+p+"/webhooks/{eid}/probe", u.signedIn(u.inProject(u.probeEndpoint)))
	u.mux.HandleFunc("GET "+p+"/webhooks/{eid}/edit", u.signedIn(u.inProject(u.editEndpoint)))
	u.mux.HandleFunc("POST "+p+"/webhooks/{eid}", u.signedIn(u.inProject(u.updateEndpoint)))
	u.mux.HandleFunc("POST "+p+"/webhooks/{eid}/enable", u.signedIn(u.inProject(u.enableEndpoint)))
	u.mux.HandleFunc("POST "+p+"/webhooks/{eid}/disable", u.signedIn(u.inProject(u.disableEndpoint)))
	u.mux.HandleFunc("GET "+p+"/webhooks/{eid}/delete", u.signedIn(u.inProject(u.confirmDelete)))
	u.mux.HandleFunc("POST "+p+"/webhooks/{eid}/delete", u.signedIn(u.inProject(u.deleteEndpoint)))
	u.mux.HandleFunc("GET "+p+"/webhooks/{eid}/test", u.signedIn(u.inProject(u.testPage)))
	u.mux.HandleFunc("POST "+p+"/webhooks/{eid}/test", u.signedIn(u.inProject(u.testEndpoint)))

	u.mux.HandleFunc("GET "+p+"/api-keys", u.signedIn(u.inProject(u.keys)))
	u.mux.HandleFunc("POST "+p+"/api-keys", u.signedIn(u.inProject(u.createAPIKey)))
	u.mux.HandleFunc("GET "+p+"/api-keys/{kid}/revoke", u.signedIn(u.inProject(u.confirmRevoke)))
	u.mux.HandleFunc("POST "+p+"/api-keys/{kid}/revoke", u.signedIn(u.inProject(u.revokeAPIKey)))

	u.mux.HandleFunc("POST "+p+"/secret/reveal", u.signedIn(u.inProject(u.revealSecret)))
	u.mux.HandleFunc("GET "+p+"/secret/rotate", u.signedIn(u.inProject(u.confirmRotate)))
	u.mux.HandleFunc("POST "+p+"/secret/rotate", u.signedIn(u.inProject(u.rotateSecret)))

	u.mux.HandleFunc("GET "+p+"/events", u.signedIn(u.inProject(u.eventLog)))
	u.mux.HandleFunc("GET "+p+"/event-types", u.signedIn(u.inProject(u.eventTypes)))
	u.mux.HandleFunc("GET "+p+"/activity", u.signedIn(u.inProject(u.activity)))
	u.mux.HandleFunc("GET "+p+"/events/resend", u.signedIn(u.inProject(u.resendPreview)))
	u.mux.HandleFunc("POST "+p+"/events/resend", u.signedIn(u.inProject(u.resendMatching)))
	u.mux.HandleFunc("GET "+p+"/deliveries/{did}", u.signedIn(u.inProject(u.delivery)))
	u.mux.HandleFunc("GET "+p+"/events/{evid}/body", u.signedIn(u.inProject(u.eventBody)))
	u.mux.HandleFunc("POST "+p+"/deliveries/{did}/resend", u.signedIn(u.inProject(u.resend)))
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
