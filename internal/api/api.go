package api

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hookd/hookd/internal/clock"
	"github.com/hookd/hookd/internal/service"
)

// Config configures the API. Zero values take the documented defaults.
type Config struct {
	// Service does the work; the API decodes requests, calls it and
	// encodes its answers. Required.
	Service *service.Service
	Logger  *slog.Logger
	// MaxBodyBytes bounds request bodies; larger ones get 413. Default
	// DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Registerer, when set, receives a request counter and a latency
	// histogram labelled by route pattern and status code.
	Registerer prometheus.Registerer
	// Clock times event streams' stalls; default clock.Real.
	Clock clock.Clock
	// StreamStall is how long an event stream waits for its client to
	// take an event (or a heartbeat) before it drops the client, which
	// resumes with Last-Event-ID. Default DefaultStreamStall.
	StreamStall time.Duration
	// StreamSendBuffer is the kernel send buffer of a stream's
	// connection: what a client that reads nothing costs in copying, and
	// what a client that reads may have in flight. Default
	// DefaultStreamSendBuffer.
	StreamSendBuffer int
	// PortalURL is the scheme and host customer portal links start with
	// ("https://hooks.example.com"), as customers' browsers reach hookd;
	// default: the host each request that asks for one was sent to.
	PortalURL string
}

// DefaultMaxBodyBytes is Config.MaxBodyBytes's default.
const DefaultMaxBodyBytes = 256 << 10

type server struct {
	svc              *service.Service
	log              *slog.Logger
	clock            clock.Clock
	streamStall      time.Duration
	streamSendBuffer int
	maxBody          int64
	portalURL        string
	metrics          *metrics
	mux              *http.ServeMux
	// patterns are the routes registered, in order (Patterns).
	patterns []string
	// unscoped are routes registered without a scope (New fails).
	unscoped []string
}

// New returns the API handler. It serves /v1/…, /healthz and /readyz;
// /metrics is left to the caller.
func New(cfg Config) (http.Handler, error) {
	if cfg.Service == nil {
		return nil, errors.New("api: Config.Service is required")
	}
	s := &server{
		svc:       cfg.Service,
		log:       cmp.Or(cfg.Logger, slog.Default()),
		maxBody:   cmp.Or(max(cfg.MaxBodyBytes, 0), DefaultMaxBodyBytes),
		portalURL: strings.TrimRight(cfg.PortalURL, "/"),
		mux:       http.NewServeMux(),
		clock:     cfg.Clock,
		// The stall decides when a client is dropped.
		streamStall:      cmp.Or(max(cfg.StreamStall, 0), DefaultStreamStall),
		streamSendBuffer: cmp.Or(max(cfg.StreamSendBuffer, 0), DefaultStreamSendBuffer),
	}
	if s.clock == nil {
		s.clock = clock.Real{}
	}
	if cfg.Registerer != nil {
		m, err := newMetrics(cfg.Registerer)
		if err != nil {
			return nil, err
		}
		s.metrics = m
	}
	s.routes()
	if len(s.unscoped) > 0 {
		return nil, fmt.Errorf("api: routes without a scope in routeScopes: %v", s.unscoped)
	}
	return s, nil
}

// access says who may call a route. Authenticated routes also need the
// scope routeScopes gives them.
type access int

const (
	public    access = iota // no key (health checks)
	adminOnly               // no project in the path; routeScopes says admin
	anyKey                  // any valid key of the route's scope; the handler scopes by it
	inProject               // admin, or a key of the {pid} in the path
)

func (s *server) routes() {
	const p = "/v1/projects/{pid}"
	s.handle("GET /healthz", public, s.healthz)
	s.handle("GET /readyz", public, s.readyz)
	s.handle("GET /openapi.json", public, s.openAPI)

	s.handle("POST /v1/projects", adminOnly, s.createProject)
	s.handle("GET /v1/projects", anyKey, s.listProjects)
	s.handle("GET /v1/egress", anyKey, s.egress)
	s.handle("GET "+p, inProject, s.getProject)
	s.handle("PATCH "+p, inProject, s.patchProject)
	s.handle("POST "+p+"/portal-sessions", inProject, s.createPortalSession)

	s.handle("POST /v1/api-keys", adminOnly, s.createAPIKey)
	s.handle("GET /v1/api-keys", adminOnly, s.listAPIKeys)
	s.handle("DELETE /v1/api-keys/{kid}", adminOnly, s.revokeAPIKey)
	s.handle("POST /v1/api-keys/{kid}/rotate", adminOnly, s.rotateAPIKey)

	s.handle("POST "+p+"/api-keys", inProject, s.createAPIKey)
	s.handle("GET "+p+"/api-keys", inProject, s.listAPIKeys)
	s.handle("DELETE "+p+"/api-keys/{kid}", inProject, s.revokeAPIKey)

	s.handle("POST "+p+"/endpoints", inProject, s.createEndpoint)
	s.handle("GET "+p+"/endpoints", inProject, s.listEndpoints)
	s.handle("GET "+p+"/endpoints/{eid}", inProject, s.getEndpoint)
	s.handle("PATCH "+p+"/endpoints/{eid}", inProject, s.patchEndpoint)
	s.handle("DELETE "+p+"/endpoints/{eid}", inProject, s.deleteEndpoint)
	s.handle("POST "+p+"/endpoints/{eid}/test", inProject, s.testEndpoint)
	s.handle("POST "+p+"/endpoints/{eid}/recover", inProject, s.recoverEndpoint)
	s.handle("POST "+p+"/endpoints/{eid}/probe", inProject, s.probeEndpoint)
	s.handle("GET "+p+"/endpoints/{eid}/stats", inProject, s.endpointStats)

	s.handle("POST "+p+"/events", inProject, s.publishEvent)
	s.handle("POST "+p+"/events/batch", inProject, s.publishBatch)
	s.handle("GET "+p+"/events", inProject, s.listEvents)
	s.handle("GET "+p+"/events/stream", inProject, s.streamEvents)
	s.handle("GET "+p+"/events/{evid}", inProject, s.getEvent)
	s.handle("GET "+p+"/event-types", inProject, s.listEventTypes)

	s.handle("GET "+p+"/deliveries", inProject, s.listDeliveries)
	s.handle("GET "+p+"/deliveries/{did}", inProject, s.getDelivery)
	s.handle("POST "+p+"/deliveries/{did}/retry", inProject, s.retryDelivery)
	s.handle("POST "+p+"/deliveries/retry", inProject, s.retryDeliveries)

	s.handle("GET "+p+"/secret", inProject, s.getSecret)
	s.handle("POST "+p+"/secret/rotate", inProject, s.rotateSecret)

	s.handle("GET "+p+"/audit", inProject, s.listProjectAudit)
	s.handle("GET /v1/audit", adminOnly, s.listAudit)
}

// call is what a handler knows about the request after access checks.
type call struct {
	key       service.APIKey // zero for public routes
	projectID string         // the checked {pid} for inProject routes
}

type handlerFunc func(w http.ResponseWriter, r *http.Request, c call) error

// Patterns lists the mux patterns the API registered ("GET /healthz",
// …), for the test that holds the OpenAPI document to the router.
func (s *server) Patterns() []string { return slices.Clone(s.patterns) }

// Scopes gives the scope each authenticated route needs, by pattern, for
// the test that probes every route with every scope.
func (s *server) Scopes() map[string]service.Scope { return maps.Clone(routeScopes) }

func (s *server) handle(pattern string, a access, h handlerFunc) {
	s.patterns = append(s.patterns, pattern)
	need, ok := routeScopes[pattern]
	if a != public && !ok {
		s.unscoped = append(s.unscoped, pattern)
	}
	if a == adminOnly && need != service.ScopeAdmin {
		s.unscoped = append(s.unscoped, pattern+" (adminOnly, but its scope is not admin)")
	}
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		var c call
		// Who calls from where, for the audit trail and the sign-in
		// limit; authorize adds the key once it is known.
		r = r.WithContext(service.WithActor(r.Context(), service.Actor{Source: service.SourceOf(r.RemoteAddr)}))
		err := s.authorize(r, a, need, &c)
		if err == nil {
			r = r.WithContext(service.WithActor(r.Context(), service.Actor{KeyID: c.key.ID, Source: service.SourceOf(r.RemoteAddr)}))
			err = h(w, r, c)
		}
		if err != nil {
			s.writeError(w, r, err)
		}
	})
}

func (s *server) authorize(r *http.Request, a access, need service.Scope, c *call) error {
	if a == public {
		return nil
	}
	ctx := r.Context()
	k, err := s.authenticate(ctx, r)
	if err != nil {
		return err
	}
	c.key = k
	if err := service.Require(k, need); err != nil {
		return err
	}
	switch a {
	case adminOnly:
		if k.ProjectID != "" {
			return errAdminOnly // an admin-scoped key of a project: none is made
		}
	case inProject:
		pid := r.PathValue("pid")
		if k.ProjectID != "" {
			// Same answer whether or not pid exists: a project key
			// must not learn about other projects.
			if k.ProjectID != pid {
				return service.NotFound("project")
			}
		} else if _, err := s.svc.Projects.Get(ctx, pid); err != nil {
			return err
		}
		c.projectID = pid
	}
	return nil
}

// ServeHTTP answers unmatched routes with the JSON error model instead of
// the mux's plain text, recovers panics, records metrics, and marks every
// answer Cache-Control: no-store.
func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w}
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.ErrorContext(r.Context(), "api: panic", "method", r.Method, "route", r.Pattern, "panic", v)
			if !sw.wrote {
				s.writeError(sw, r, errInternal)
			}
		}
		s.metrics.observe(r.Pattern, sw.code(), time.Since(start))
	}()
	sw.Header().Set("X-Content-Type-Options", "nosniff")
	// Every answer is one tenant's data, and some carry a signing secret
	// or a new API key: no cache, shared or private, may keep any.
	sw.Header().Set("Cache-Control", "no-store")
	if _, err := url.ParseQuery(r.URL.RawQuery); err != nil {
		// r.URL.Query() would drop the bad pair silently, and a filter
		// the client meant would not apply.
		s.writeError(sw, r, service.Invalid("query", "malformed (an invalid %-escape, or a ';')"))
		return
	}
	if _, pattern := s.mux.Handler(r); pattern == "" {
		s.unmatched(sw, r)
		return
	}
	s.mux.ServeHTTP(sw, r)
}

// unmatched lets the mux decide between 404 and 405 (it knows which
// methods a path has) and answers in JSON.
func (s *server) unmatched(w http.ResponseWriter, r *http.Request) {
	probe := &probeWriter{header: http.Header{}}
	s.mux.ServeHTTP(probe, r)
	if probe.status == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", probe.header.Get("Allow"))
		s.writeError(w, r, &service.Error{Code: codeMethodNotAllowed, Message: r.Method + " is not allowed here"})
		return
	}
	s.writeError(w, r, service.NotFound("route"))
}

// probeWriter captures the mux's answer for an unmatched route.
type probeWriter struct {
	header http.Header
	status int
}

func (p *probeWriter) Header() http.Header { return p.header }
func (p *probeWriter) Write(b []byte) (int, error) {
	if p.status == 0 {
		p.status = http.StatusOK
	}
	return len(b), nil
}
func (p *probeWriter) WriteHeader(code int) {
	if p.status == 0 {
		p.status = code
	}
}

// statusWriter remembers the status for metrics and whether anything was
// written, so a panic after the header does not write a second one.
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.status, w.wrote = http.StatusOK, true
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) code() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	// Bodies are the client's own data (URLs, descriptions); there is no
	// HTML context to escape for.
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // a failed write means the client left
}

func (s *server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	e, internal := service.AsError(err)
	if internal {
		s.log.ErrorContext(r.Context(), "api: internal error",
			"method", r.Method, "route", r.Pattern, "err", err)
	}
	switch e.Code {
	case service.CodeUnauthenticated:
		w.Header().Set("WWW-Authenticate", `Bearer realm="hookd"`)
	case service.CodeUnavailable:
		// Publishers should come back soon, not hammer a database that
		// is restarting; with the same Idempotency-Key a retry is safe.
		w.Header().Set("Retry-After", "1")
	case service.CodeRateLimited:
		w.Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(e.RetryAfter.Seconds())))))
	}
	writeJSON(w, statusOf(e.Code), errorBody{Error: errorJSON{Code: string(e.Code), Message: e.Error()}})
}

// metrics are the request counter and latency histogram.
type metrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hookd_http_requests_total",
			Help: "API requests by route pattern and status code.",
		}, []string{"route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "hookd_http_request_duration_seconds",
			Help:    "API request latency by route pattern.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.latency} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *metrics) observe(pattern string, code int, d time.Duration) {
	if m == nil {
		return
	}
	if pattern == "" {
		// Raw paths would give one series per probed URL.
		pattern = "unmatched"
	}
	m.requests.WithLabelValues(pattern, strconv.Itoa(code)).Inc()
	m.latency.WithLabelValues(pattern).Observe(d.Seconds())
}

func (s *server) healthz(w http.ResponseWriter, r *http.Request, _ call) error {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

func (s *server) readyz(w http.ResponseWriter, r *http.Request, _ call) error {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.svc.Ping(ctx); err != nil {
		s.log.WarnContext(ctx, "api: readiness check failed", "err", err)
		// The service's own answer says what is wrong (a stalled
		// commit); anything else is the database not answering.
		if e, ok := err.(*service.Error); ok && e.Code == service.CodeUnavailable {
			return e
		}
		return errUnavailable
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}
