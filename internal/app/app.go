// Package app wires hookd together — store, delivery engine, publisher,
// service, API — from one Config, and runs it until its context ends. The command line and
// the end-to-end tests both start hookd through it.
package app

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"net/url"
	"os"
	"sync"
	"time"

	"github.com/hookd/hookd/internal/api"
	"github.com/hookd/hookd/internal/clock"
	"github.com/hookd/hookd/internal/delivery"
	"github.com/hookd/hookd/internal/eventfeed"
	"github.com/hookd/hookd/internal/health"
	"github.com/hookd/hookd/internal/heartbeat"
	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/maintenance"
	"github.com/hookd/hookd/internal/outbound"
	"github.com/hookd/hookd/internal/publish"
	"github.com/hookd/hookd/internal/retry"
	"github.com/hookd/hookd/internal/secretbox"
	"github.com/hookd/hookd/internal/service"
	"github.com/hookd/hookd/internal/store"
	_ "github.com/hookd/hookd/internal/store/drivers" // every driver store.Open knows
	"github.com/hookd/hookd/internal/ui"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Version is reported in the User-Agent of every webhook; set at build time
// with -ldflags "-X github.com/hookd/hookd/internal/app.Version=…".
var Version = "dev"

// userAgent is the User-Agent of hookd's webhooks (and shown with a
// delivery's request headers in the web UI).
func userAgent() string { return "hookd/" + Version }

// Defaults of Config that belong to no other package.
const (
	DefaultAddr = "127.0.0.1:8080"
	DefaultDB   = "hookd.db"
)

// Config is everything `hookd serve` can be told. Zero fields take the
// defaults given (the packages' exported Default… constants, which the
// command line's flags show too); Retention 0 keeps events forever.
type Config struct {
	// Addr to listen on; default DefaultAddr. Port 0 picks a free one
	// (see App.Addr).
	Addr string
	// DB is a SQLite file path (default DefaultDB) or a postgres:// URL;
	// store.Open picks the driver.
	DB string
	// AdminKey, when set, is accepted as an admin key (its hash is stored)
	// and replaces the admin key of an earlier AdminKey (revoked). When
	// unset and no admin key exists yet, one is generated and written once
	// to AdminKeyOut.
	AdminKey    string
	AdminKeyOut io.Writer // default os.Stderr
	// RetrySchedule: delays after each failed attempt; default
	// retry.DefaultSchedule. Jitter is ±20 % unless NoJitter.
	RetrySchedule []time.Duration
	NoJitter      bool
	// Timeout of one webhook request; default outbound.DefaultTimeout.
	Timeout time.Duration
	// AllowPrivateNetworks lifts the SSRF guard (local development, tests).
	AllowPrivateNetworks bool
	// AllowCIDRs are ranges permitted despite the SSRF guard.
	AllowCIDRs []netip.Prefix
	// CAFile adds PEM roots for endpoints behind a private CA.
	CAFile string
	// EgressProxy, when set, is an HTTP forward proxy every delivery and
	// Test goes through (outbound.Config.Proxy); endpoint addresses are
	// still checked by the guard.
	EgressProxy *url.URL
	// EgressAddresses are the source addresses receivers should allow
	// (the proxy's), shown in the API (GET /v1/egress) and the web UI.
	EgressAddresses []string
	// RequireHTTPS refuses http:// endpoint URLs.
	RequireHTTPS bool
	// EncryptionKey encrypts signing secrets at rest when set.
	EncryptionKey string
	// Workers and PerEndpoint bound concurrent requests; defaults
	// delivery.DefaultWorkers and delivery.DefaultPerEndpoint.
	Workers     int
	PerEndpoint int
	// MaxBodyBytes caps API request bodies; default api.DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// PollInterval: longest idle sleep of the delivery engine; default
	// delivery.DefaultPollInterval.
	PollInterval time.Duration
	// Lease of a claimed delivery; default delivery.DefaultLease(Timeout).
	Lease time.Duration
	// Retention: events older than this are removed once all their
	// deliveries are finished (on one elected node per cluster). 0 keeps
	// events forever; hookd serve's default is maintenance.DefaultRetention.
	Retention time.Duration
	// DisableAfter: an endpoint that has had no successful attempt for
	// this long, while its attempts kept failing, is disabled. 0 never
	// disables; hookd serve's default is health.DefaultDisableAfter.
	DisableAfter time.Duration
	// BreakerAfter is how many recent attempts an endpoint must have,
	// nearly all failed (health.DefaultFailureRatio), before its circuit
	// breaker opens; default health.DefaultThreshold.
	BreakerAfter int
	// TestRate and TestBurst limit the Test sends of one project on this
	// node (service.Config.TestRate); defaults service.DefaultTestRate and
	// DefaultTestBurst, a negative TestRate leaves only the endpoints'
	// limits.
	TestRate  float64
	TestBurst int
	// PublishTimeout bounds how long a publish waits for its commit
	// before it is answered 503 (the database is stalled); default
	// publish.DefaultTimeout. There is no unbounded wait.
	PublishTimeout time.Duration
	// Event streams (GET …/events/stream): MaxStreams and
	// MaxProjectStreams bound the streams open on this node and per
	// project (429 beyond), StreamPageBytes what one stream reads ahead,
	// StreamStall how long a stream waits for its client to take an event
	// before dropping it, StreamSendBuffer a stream connection's kernel
	// send buffer. Defaults eventfeed.DefaultMaxStreams,
	// eventfeed.DefaultMaxProjectStreams, eventfeed.DefaultPageBytes,
	// api.DefaultStreamStall and api.DefaultStreamSendBuffer.
	MaxStreams, MaxProjectStreams int
	StreamPageBytes               int
	StreamStall                   time.Duration
	StreamSendBuffer              int
	// The customer portal (docs/portal.md): PortalFrameAncestors are the
	// origins that may frame its pages (ui.Config), PortalURL the scheme
	// and host its links start with (api.Config; default the host each
	// request for one was sent to).
	PortalFrameAncestors []string
	PortalURL            string
	// Pprof serves net/http/pprof at /debug/pprof/ without authentication,
	// for profiling on a trusted machine (the bench harness uses it).
	Pprof bool
	// SigninFailureRate and SigninFailureBurst limit failed sign-ins per
	// client address (service.Config); defaults
	// service.DefaultSigninFailureRate and DefaultSigninFailureBurst,
	// negative turns the limit off.
	SigninFailureRate  float64
	SigninFailureBurst int
	Logger             *slog.Logger
	Clock              clock.Clock
}

// withDefaults fills the zero fields of c.
func (c Config) withDefaults() Config {
	c.Addr = cmp.Or(c.Addr, DefaultAddr)
	c.DB = cmp.Or(c.DB, DefaultDB)
	if c.AdminKeyOut == nil {
		c.AdminKeyOut = os.Stderr
	}
	if len(c.RetrySchedule) == 0 {
		c.RetrySchedule = retry.DefaultSchedule
	}
	c.Timeout = cmp.Or(max(c.Timeout, 0), outbound.DefaultTimeout)
	c.Workers = cmp.Or(max(c.Workers, 0), delivery.DefaultWorkers)
	c.PerEndpoint = cmp.Or(max(c.PerEndpoint, 0), delivery.DefaultPerEndpoint)
	c.MaxBodyBytes = cmp.Or(max(c.MaxBodyBytes, 0), api.DefaultMaxBodyBytes)
	c.PollInterval = cmp.Or(max(c.PollInterval, 0), delivery.DefaultPollInterval)
	c.Lease = cmp.Or(max(c.Lease, 0), delivery.DefaultLease(c.Timeout))
	c.Retention = max(c.Retention, 0)
	c.DisableAfter = max(c.DisableAfter, 0)
	c.BreakerAfter = cmp.Or(max(c.BreakerAfter, 0), health.DefaultThreshold)
	c.PublishTimeout = cmp.Or(max(c.PublishTimeout, 0), publish.DefaultTimeout)
	c.MaxStreams = cmp.Or(max(c.MaxStreams, 0), eventfeed.DefaultMaxStreams)
	c.MaxProjectStreams = cmp.Or(max(c.MaxProjectStreams, 0), eventfeed.DefaultMaxProjectStreams)
	c.StreamPageBytes = cmp.Or(max(c.StreamPageBytes, 0), eventfeed.DefaultPageBytes)
	c.StreamStall = cmp.Or(max(c.StreamStall, 0), api.DefaultStreamStall)
	c.StreamSendBuffer = cmp.Or(max(c.StreamSendBuffer, 0), api.DefaultStreamSendBuffer)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Clock == nil {
		c.Clock = clock.Real{}
	}
	return c
}

// App is a running hookd.
type App struct {
	cfg     Config
	log     *slog.Logger
	metrics *prometheus.Registry
	box     *secretbox.Box // nil: secrets stored in plain text

	store   store.Store
	client  *outbound.Client
	keys    *delivery.Keys
	engine  *delivery.Engine
	beat    *heartbeat.Beater
	maint   *maintenance.Runner
	batcher *publish.Batcher
	service *service.Service
	feed    *eventfeed.Hub

	listener  net.Listener
	server    *http.Server
	closeOnce sync.Once
}

// New opens the database (running migrations), builds every part and
// seeds the admin key; it listens on Addr but serves nothing until Run.
func New(ctx context.Context, cfg Config) (*App, error) {
	cfg = cfg.withDefaults()
	a := &App{cfg: cfg, log: cfg.Logger, metrics: prometheus.NewRegistry()}
	a.metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, step := range []func(context.Context) error{
		a.openStore,
		a.buildDelivery,
		a.buildPublisher,
		a.buildService,
		a.buildHTTP,
	} {
		if err := step(ctx); err != nil {
			a.Close()
			return nil, err
		}
	}
	return a, nil
}

// openStore opens the database with the driver its setting names and
// the encryption of secrets at rest.
func (a *App) openStore(ctx context.Context) error {
	if a.cfg.EncryptionKey != "" {
		box, err := secretbox.New(a.cfg.EncryptionKey)
		if err != nil {
			return err
		}
		a.box = box
	}
	s, err := store.Open(ctx, a.cfg.DB)
	if err != nil {
		return err
	}
	a.store = s
	return nil
}

// buildDelivery makes the webhook client, the delivery engine, the node's
// heartbeat and the maintenance runner.
func (a *App) buildDelivery(context.Context) error {
	cfg := a.cfg
	client, err := outbound.New(outbound.Config{
		Timeout:              cfg.Timeout,
		AllowPrivateNetworks: cfg.AllowPrivateNetworks,
		AllowCIDRs:           cfg.AllowCIDRs,
		CAFile:               cfg.CAFile,
		Proxy:                cfg.EgressProxy,
		UserAgent:            userAgent(),
		MaxIdleConnsPerHost:  max(cfg.PerEndpoint, delivery.DefaultPerEndpoint),
	})
	if err != nil {
		return err
	}
	a.client = client
	var open func(string) (string, error) // nil: plain text
	if a.box != nil {
		open = a.box.Open
	}
	a.keys = delivery.NewKeys(a.store, open, time.Second)
	schedule := &retry.Schedule{Delays: cfg.RetrySchedule, Jitter: retry.DefaultJitter}
	if cfg.NoJitter {
		schedule.Jitter = 0
	}
	// A process is a new node each time it starts: the one it replaces
	// (killed, on the same SQLite file) falls silent and its claims are
	// released by this one.
	node := ids.New("node", cfg.Clock.Now())
	a.engine, err = delivery.New(delivery.Config{
		Store:        a.store,
		Sender:       client,
		Keys:         a.keys,
		Clock:        cfg.Clock,
		Retry:        schedule,
		Logger:       cfg.Logger,
		Metrics:      delivery.NewMetrics(a.metrics),
		Workers:      cfg.Workers,
		PerEndpoint:  cfg.PerEndpoint,
		Lease:        cfg.Lease,
		PollInterval: cfg.PollInterval,
		Timeout:      cfg.Timeout,
		Owner:        node,
		Health: health.Policy{
			Threshold:    cfg.BreakerAfter,
			ProbeMin:     health.DefaultProbeMin,
			ProbeMax:     health.DefaultProbeMax,
			DisableAfter: cfg.DisableAfter,
			SuccessEvery: health.DefaultSuccessEvery,
		},
		// Operational events go through the service like any event; it
		// is made after the engine, and events only come once it runs.
		Notify: func(ctx context.Context, about store.Endpoint, typ string, data []byte) error {
			_, err := a.service.Events.PublishOperational(ctx, about.ProjectID, about.ID, typ, data)
			return err
		},
	})
	if err != nil {
		return err
	}
	a.beat, err = heartbeat.New(heartbeat.Config{
		Store:    a.store,
		Node:     node,
		Clock:    cfg.Clock,
		Released: func(int) { a.engine.Wake() },
		Logger:   cfg.Logger,
	})
	if err != nil {
		return err
	}
	var leader func(context.Context) (bool, error) // nil: one node, always leads
	if e, ok := a.store.(store.Elector); ok {
		leader = e.TryLeader
	}
	a.maint, err = maintenance.New(maintenance.Config{
		Store:     a.store,
		Leader:    leader,
		Clock:     cfg.Clock,
		Retention: cfg.Retention,
		Logger:    cfg.Logger,
		Metrics:   maintenance.NewMetrics(a.metrics),
	})
	return err
}

// buildPublisher makes the group-commit publisher, which hands the
// deliveries it claims to the engine.
func (a *App) buildPublisher(context.Context) error {
	// One batch at a time on both drivers. SQLite's single writer takes
	// them in turn anyway, and while a batch waits for its fsync the next
	// one grows. (Two committers, one writing while the other waits for its
	// fsync, measured 7.6k-7.9k events/s against 8.0k-9.0k for one: the
	// machine is CPU-bound, and smaller batches write more pages per
	// event.) On PostgreSQL a node's commits take the same event-type
	// counter row (its shard) and wait for each other there, and each
	// commit costs the database about the same whatever its size, so
	// fewer, larger commits win: four committers a node measured 1,646
	// events/s on one node and 896 on two, one committer 2,116 and 1,407
	// (BENCHMARKS.md, "PostgreSQL: one node and two nodes").
	feed, err := eventfeed.New(eventfeed.Config{Store: a.store, Clock: a.cfg.Clock,
		PageBytes: a.cfg.StreamPageBytes, MaxStreams: a.cfg.MaxStreams, MaxProjectStreams: a.cfg.MaxProjectStreams})
	if err != nil {
		return err
	}
	a.feed = feed
	a.batcher = publish.New(publish.Config{
		Store:    a.store,
		Clock:    a.cfg.Clock,
		Timeout:  a.cfg.PublishTimeout,
		OnCommit: a.engine.Wake,
		// Streams of the projects this node just stored events of read
		// them now, not at their next poll; other streams sleep on.
		OnEvents: func(projects []string) { feed.Notify(projects...) },
		Direct:   a.engine.Direct,
		Deliver:  a.engine.Deliver,
		Metrics:  publish.NewMetrics(a.metrics),
	})
	return nil
}

// buildService makes the domain layer the front ends share and seeds the
// admin key through it.
func (a *App) buildService(ctx context.Context) error {
	var err error
	a.service, err = service.New(service.Config{
		Store:        a.store,
		Publisher:    a.batcher,
		Tester:       &delivery.Tester{Keys: a.keys, Sender: a.client, Clock: a.cfg.Clock},
		Clock:        a.cfg.Clock,
		RequireHTTPS: a.cfg.RequireHTTPS,
		Wake:         a.engine.Wake,
		OnRotate:     a.keys.Invalidate,
		Seal:         a.box.Seal,
		Open:         a.box.Open,
		Feed:         a.feed,
		TestRate:     a.cfg.TestRate,
		TestBurst:    a.cfg.TestBurst,

		EgressAddresses: a.cfg.EgressAddresses,
		Logger:          a.cfg.Logger,

		SigninFailureRate:  a.cfg.SigninFailureRate,
		SigninFailureBurst: a.cfg.SigninFailureBurst,
	})
	if err != nil {
		return err
	}
	key, err := a.service.Keys.EnsureAdmin(ctx, a.cfg.AdminKey)
	if errors.Is(err, service.ErrAdminKeyRevoked) {
		a.log.WarnContext(ctx, "hookd: "+err.Error())
		return nil
	}
	if err != nil || key == "" {
		return err
	}
	fmt.Fprintf(a.cfg.AdminKeyOut, "\nhookd: generated an admin API key (shown once, store it now):\n\n    %s\n\n", key)
	return nil
}

// buildHTTP makes the front ends over the service, /metrics and
// (optionally) pprof, and listens.
func (a *App) buildHTTP(context.Context) error {
	handler, err := api.New(api.Config{
		Service:          a.service,
		Logger:           a.cfg.Logger,
		MaxBodyBytes:     a.cfg.MaxBodyBytes,
		Registerer:       a.metrics,
		Clock:            a.cfg.Clock,
		StreamStall:      a.cfg.StreamStall,
		StreamSendBuffer: a.cfg.StreamSendBuffer,
		PortalURL:        a.cfg.PortalURL,
	})
	if err != nil {
		return err
	}
	web, err := ui.New(ui.Config{Service: a.service, Sessions: a.store, Clock: a.cfg.Clock, Logger: a.cfg.Logger,
		UserAgent: userAgent(), PortalFrameAncestors: a.cfg.PortalFrameAncestors})
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(a.metrics, promhttp.HandlerOpts{}))
	mux.Handle("/", handler)
	// The web UI; a person opening hookd's address lands on it.
	mux.Handle(ui.Prefix, web)
	mux.Handle("GET /{$}", http.RedirectHandler(ui.Prefix, http.StatusFound))
	mux.Handle("GET /favicon.ico", ui.Favicon())
	if a.cfg.Pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	ln, err := net.Listen("tcp", a.cfg.Addr)
	if err != nil {
		return err
	}
	// Requests net/http cannot parse get the API's JSON error shape too.
	a.listener = api.JSONErrors(ln)
	a.server = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(a.cfg.Logger.Handler(), slog.LevelWarn),
		// Event streams bound their connection's send buffer.
		ConnContext: api.WithConn,
	}
	// Event streams last until their client leaves; Shutdown would wait
	// for them, so they end when it starts.
	a.server.RegisterOnShutdown(a.feed.Close)
	return nil
}

// Handler serves everything hookd serves (for tests that serve it
// another way, such as over TLS).
func (a *App) Handler() http.Handler { return a.server.Handler }

// Addr is the address the API listens on (useful with port 0).
func (a *App) Addr() string { return a.listener.Addr().String() }

// DB is the database setting with any password hidden, for logs.
func (a *App) DB() string { return store.Redact(a.cfg.DB) }

// Store is the app's store (for tests and the bench harness).
func (a *App) Store() store.Store { return a.store }

// Run serves the API and delivers until ctx ends, then shuts down
// gracefully: no new requests, queued publishes committed, in-flight
// deliveries finished and recorded.
func (a *App) Run(ctx context.Context) error {
	engineCtx, stopEngine := context.WithCancel(context.WithoutCancel(ctx))
	defer stopEngine()
	// The heartbeat goes on until the engine has drained (requests in
	// flight may take up to the timeout): a node that stopped beating
	// earlier would see them released to others and sent twice. The first
	// beat is recorded before the engine claims anything.
	beatCtx, stopBeat := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBeat()
	_, _ = a.beat.Beat(beatCtx) // a failure is logged by Run's first beat
	beatDone := make(chan error, 1)
	go func() { beatDone <- a.beat.Run(beatCtx) }()
	engineDone := make(chan error, 1)
	go func() { engineDone <- a.engine.Run(engineCtx) }()
	maintDone := make(chan error, 1)
	go func() { maintDone <- a.maint.Run(engineCtx) }()

	if n, ok := a.store.(store.Notifier); ok {
		go func() {
			for range n.Listen(engineCtx) {
				a.engine.Wake()
			}
		}()
	}

	serveErr := make(chan error, 1)
	go func() { serveErr <- a.server.Serve(a.listener) }()

	var err error
	select {
	case <-ctx.Done():
	case err = <-serveErr:
	}
	a.log.Info("hookd shutting down: draining in-flight deliveries")
	shutCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if e := a.server.Shutdown(shutCtx); e != nil && err == nil {
		err = e
	}
	a.batcher.Close()
	stopEngine()
	if e := <-engineDone; e != nil {
		// Nothing is lost (what was not recorded is sent again after its
		// lease), but the drain did not finish: say what was left.
		a.log.Error("the delivery engine's shutdown left work undone", "err", e)
	}
	<-maintDone
	stopBeat()
	<-beatDone
	// Every claim is recorded or given back: leave, so that nobody takes
	// this node for a dead one.
	leaveCtx, cancelLeave := context.WithTimeout(context.Background(), 5*time.Second)
	if e := a.beat.Leave(leaveCtx); e != nil {
		a.log.Warn("leaving the cluster's heartbeat table failed", "err", e)
	}
	cancelLeave()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// Close releases the database and connections. Call after Run returns.
func (a *App) Close() error {
	var err error
	a.closeOnce.Do(func() {
		if a.listener != nil {
			a.listener.Close()
		}
		if a.client != nil {
			a.client.CloseIdleConnections()
		}
		if a.store != nil {
			err = a.store.Close()
		}
	})
	return err
}
