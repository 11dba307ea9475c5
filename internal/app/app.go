// Package app wires hookd together — store, publisher, delivery engine, API —
// from one Config, and runs it until its context ends. The command line and
// the end-to-end tests both start hookd through it.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/hookd/hookd/internal/api"
	"github.com/hookd/hookd/internal/clock"
	"github.com/hookd/hookd/internal/delivery"
	"github.com/hookd/hookd/internal/heartbeat"
	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/maintenance"
	"github.com/hookd/hookd/internal/outbound"
	"github.com/hookd/hookd/internal/publish"
	"github.com/hookd/hookd/internal/retry"
	"github.com/hookd/hookd/internal/secretbox"
	"github.com/hookd/hookd/internal/service"
	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/store/postgres"
	"github.com/hookd/hookd/internal/store/sqlite"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Version is reported in the User-Agent of every webhook; set at build time
// with -ldflags "-X github.com/hookd/hookd/internal/app.Version=…".
var Version = "dev"

// Config is everything `hookd serve` can be told. Zero fields take the
// defaults given.
type Config struct {
	// Addr to listen on; default "127.0.0.1:8080". Port 0 picks a free one
	// (see App.Addr).
	Addr string
	// DB is a SQLite file path (default "hookd.db") or a postgres:// URL.
	DB string
	// AdminKey, when set, is accepted as an admin key (its hash is stored).
	// When unset and no admin key exists yet, one is generated and written
	// once to AdminKeyOut.
	AdminKey    string
	AdminKeyOut io.Writer // default os.Stderr
	// RetrySchedule: delays after each failed attempt; default
	// retry.DefaultSchedule. Jitter is ±20 % unless NoJitter.
	RetrySchedule []time.Duration
	NoJitter      bool
	// Timeout of one webhook request; default 15s.
	Timeout time.Duration
	// AllowPrivateNetworks lifts the SSRF guard (local development, tests).
	AllowPrivateNetworks bool
	// AllowCIDRs are ranges permitted despite the SSRF guard.
	AllowCIDRs []netip.Prefix
	// CAFile adds PEM roots for endpoints behind a private CA.
	CAFile string
	// RequireHTTPS refuses http:// endpoint URLs.
	RequireHTTPS bool
	// EncryptionKey encrypts signing secrets at rest when set.
	EncryptionKey string
	// Workers and PerEndpoint bound concurrent requests (defaults 256, 32).
	Workers     int
	PerEndpoint int
	// MaxBodyBytes caps API request bodies; default 256 KiB.
	MaxBodyBytes int64
	// PollInterval: longest idle sleep of the delivery engine; default 1s.
	PollInterval time.Duration
	// Lease of a claimed delivery; default the larger of 5m and 10×Timeout.
	Lease time.Duration
	// Retention: events older than this are removed once all their
	// deliveries are finished (on one elected node per cluster); default
	// 30 days, negative keeps events forever.
	Retention time.Duration
	// Pprof serves net/http/pprof at /debug/pprof/ without authentication,
	// for profiling on a trusted machine (the bench harness uses it).
	Pprof  bool
	Logger *slog.Logger
	Clock  clock.Clock
}

// App is a running hookd.
type App struct {
	cfg       Config
	log       *slog.Logger
	store     store.Store
	batcher   *publish.Batcher
	engine    *delivery.Engine
	maint     *maintenance.Runner
	beat      *heartbeat.Beater
	client    *outbound.Client
	keys      *delivery.Keys
	listener  net.Listener
	server    *http.Server
	pg        *postgres.DB
	closeOnce sync.Once
}

// New opens the database (running migrations), seeds the admin key and
// builds every part; it listens on Addr but serves nothing until Run.
func New(ctx context.Context, cfg Config) (*App, error) {
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:8080"
	}
	if cfg.DB == "" {
		cfg.DB = "hookd.db"
	}
	if cfg.AdminKeyOut == nil {
		cfg.AdminKeyOut = os.Stderr
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 15 * time.Second
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 256 << 10
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if len(cfg.RetrySchedule) == 0 {
		cfg.RetrySchedule = retry.DefaultSchedule
	}
	if cfg.Lease <= 0 {
		// The lease must outlast a request at the timeout plus its wait
		// behind the endpoint's other requests: up to 8 rounds of the
		// timeout (see delivery.Engine.queueCap).
		cfg.Lease = max(5*time.Minute, 10*cfg.Timeout)
	}
	a := &App{cfg: cfg, log: cfg.Logger}
	ok := false
	defer func() {
		if !ok {
			a.Close()
		}
	}()

	var box *secretbox.Box
	if cfg.EncryptionKey != "" {
		b, err := secretbox.New(cfg.EncryptionKey)
		if err != nil {
			return nil, err
		}
		box = b
	}

	// One batch at a time on SQLite: its single writer takes them in turn
	// anyway, and while a batch waits for its fsync the next one grows.
	// (Two committers, one writing while the other waits for its fsync,
	// measured 7.6k-7.9k events/s against 8.0k-9.0k for one: the machine is
	// CPU-bound, and smaller batches write more pages per event.)
	committers := 1
	if isPostgres(cfg.DB) {
		db, err := postgres.Open(ctx, cfg.DB)
		if err != nil {
			return nil, fmt.Errorf("open postgres: %w", err)
		}
		a.store, a.pg = db, db
		// Several transactions in flight keep PostgreSQL busy; SQLite has
		// one writer, so more would only queue.
		committers = 4
	} else {
		db, err := sqlite.Open(ctx, cfg.DB)
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", cfg.DB, err)
		}
		a.store = db
	}

	client, err := outbound.New(outbound.Config{
		Timeout:              cfg.Timeout,
		AllowPrivateNetworks: cfg.AllowPrivateNetworks,
		AllowCIDRs:           cfg.AllowCIDRs,
		CAFile:               cfg.CAFile,
		UserAgent:            "hookd/" + Version,
		MaxIdleConnsPerHost:  max(cfg.PerEndpoint, 32),
	})
	if err != nil {
		return nil, err
	}
	a.client = client

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	var open func(string) (string, error)
	if box != nil {
		open = box.Open
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
		Metrics:      delivery.NewMetrics(reg),
		Workers:      cfg.Workers,
		PerEndpoint:  cfg.PerEndpoint,
		Lease:        cfg.Lease,
		PollInterval: cfg.PollInterval,
		Owner:        node,
	})
	if err != nil {
		return nil, err
	}
	a.beat, err = heartbeat.New(heartbeat.Config{
		Store:    a.store,
		Node:     node,
		Clock:    cfg.Clock,
		Released: func(int) { a.engine.Wake() },
		Logger:   cfg.Logger,
	})
	if err != nil {
		return nil, err
	}
	var leader func(context.Context) (bool, error) // nil: SQLite, always leads
	if a.pg != nil {
		leader = a.pg.TryLeader
	}
	a.maint, err = maintenance.New(maintenance.Config{
		Store:     a.store,
		Leader:    leader,
		Clock:     cfg.Clock,
		Retention: cfg.Retention,
		Logger:    cfg.Logger,
		Metrics:   maintenance.NewMetrics(reg),
	})
	if err != nil {
		return nil, err
	}
	a.batcher = publish.New(publish.Config{
		Store:      a.store,
		Clock:      cfg.Clock,
		Committers: committers,
		OnCommit:   a.engine.Wake,
		Direct:     a.engine.Direct,
		Deliver:    a.engine.Deliver,
		Metrics:    publish.NewMetrics(reg),
	})

	svc, err := service.New(service.Config{
		Store:        a.store,
		Publisher:    a.batcher,
		Tester:       &delivery.Tester{Keys: a.keys, Sender: client, Clock: cfg.Clock},
		Clock:        cfg.Clock,
		RequireHTTPS: cfg.RequireHTTPS,
		Wake:         a.engine.Wake,
		OnRotate:     a.keys.Invalidate,
		Seal:         box.Seal,
		Open:         box.Open,
	})
	if err != nil {
		return nil, err
	}
	if err := a.seedAdminKey(ctx, svc); err != nil {
		return nil, err
	}
	handler, err := api.New(api.Config{
		Service:      svc,
		Logger:       cfg.Logger,
		MaxBodyBytes: cfg.MaxBodyBytes,
		Registerer:   reg,
	})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.Handle("/", handler)
	if cfg.Pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, err
	}
	a.listener = ln
	a.server = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn),
	}
	ok = true
	return a, nil
}

// Addr is the address the API listens on (useful with port 0).
func (a *App) Addr() string { return a.listener.Addr().String() }

// DB is the database setting with any password hidden, for logs.
func (a *App) DB() string { return redactDB(a.cfg.DB) }

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

	if a.pg != nil {
		go func() {
			for range a.pg.Listen(engineCtx) {
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
	<-engineDone
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

// seedAdminKey stores the configured admin key, or generates one when
// none exists and shows it once.
func (a *App) seedAdminKey(ctx context.Context, svc *service.Service) error {
	key, err := svc.Keys.EnsureAdmin(ctx, a.cfg.AdminKey)
	if err != nil || key == "" {
		return err
	}
	fmt.Fprintf(a.cfg.AdminKeyOut, "\nhookd: generated an admin API key (shown once, store it now):\n\n    %s\n\n", key)
	return nil
}

func isPostgres(db string) bool {
	return strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://")
}

// redactDB hides a password in a connection URL before logging it.
func redactDB(db string) string {
	if !isPostgres(db) {
		return db
	}
	if i, j := strings.Index(db, "://"), strings.LastIndex(db, "@"); i >= 0 && j > i {
		return db[:i+3] + "…@" + db[j+1:]
	}
	return db
}
