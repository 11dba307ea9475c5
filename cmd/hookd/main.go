// Command hookd is the webhook delivery service: `hookd serve` runs it,
// `hookd verify` checks a captured webhook's signature, `hookd bench`
// measures it. main only parses flags and wires signals; the work is in
// internal/app.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/hookd/hookd/internal/api"
	"github.com/hookd/hookd/internal/app"
	"github.com/hookd/hookd/internal/delivery"
	"github.com/hookd/hookd/internal/eventfeed"
	"github.com/hookd/hookd/internal/health"
	"github.com/hookd/hookd/internal/maintenance"
	"github.com/hookd/hookd/internal/outbound"
	"github.com/hookd/hookd/internal/publish"
	"github.com/hookd/hookd/internal/retry"
	"github.com/hookd/hookd/internal/service"
	"github.com/hookd/hookd/webhook"
)

const usage = `hookd — webhook delivery service

usage:
  hookd serve  [flags]   run the API and the delivery engine
  hookd verify [flags]   verify a webhook signature (body on stdin)
  hookd listen [flags]   forward a project's events to a local URL (development)
  hookd bench  [flags]   measure end-to-end delivery on this machine
  hookd keys rotate-admin [flags]
                         issue a new admin key and revoke the old one
  hookd version

Run "hookd <command> -h" for the flags of a command.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return serve(args[1:], stderr)
	case "verify":
		return verify(args[1:], stdin, stdout, stderr)
	case "listen":
		return listenCmd(args[1:], stdout, stderr)
	case "bench":
		return benchCmd(args[1:], stdout, stderr)
	case "keys":
		return keysCmd(args[1:], stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, "hookd", app.Version)
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "hookd: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
}

func serve(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		cfg            app.Config
		schedule       string
		cidrs          string
		egress         string
		frameAncestors string
		proxy          string
		logLevel       string
	)
	fs.StringVar(&cfg.Addr, "addr", app.DefaultAddr, "address to listen on")
	fs.StringVar(&cfg.DB, "db", app.DefaultDB, "SQLite file, or postgres://user:pass@host/db for PostgreSQL")
	fs.StringVar(&cfg.AdminKey, "admin-key", os.Getenv("HOOKD_ADMIN_KEY"), "admin API key (env HOOKD_ADMIN_KEY); generated and printed once when unset")
	fs.StringVar(&schedule, "retry-schedule", retry.FormatSchedule(retry.DefaultSchedule), fmt.Sprintf("delays after each failed attempt (±%.0f %% jitter)", retry.DefaultJitter*100))
	fs.DurationVar(&cfg.Timeout, "timeout", outbound.DefaultTimeout, "timeout of one webhook request")
	fs.BoolVar(&cfg.AllowPrivateNetworks, "allow-private-networks", false, "allow webhooks to loopback, private and link-local addresses (development only)")
	fs.StringVar(&cidrs, "allow-cidrs", "", "comma-separated CIDRs allowed despite the private-network guard, e.g. 10.1.0.0/16")
	fs.StringVar(&proxy, "egress-proxy", "", "send every webhook through this HTTP forward proxy, http://[user:pass@]host:port (CONNECT for https endpoints); endpoint addresses are still checked")
	fs.StringVar(&egress, "egress-addresses", "", "comma-separated source addresses (IPs or CIDRs) of webhooks, shown to customers to allow-list, e.g. the egress proxy's")
	fs.StringVar(&cfg.CAFile, "ca-file", "", "PEM file of extra CA certificates trusted for https endpoints")
	fs.BoolVar(&cfg.RequireHTTPS, "require-https", false, "refuse http:// endpoint URLs")
	fs.Float64Var(&cfg.SigninFailureRate, "signin-failure-rate", service.DefaultSigninFailureRate, "failed sign-ins (wrong API keys) a client address may make per second once its burst is spent; beyond, it gets 429 without a key lookup; negative: no limit")
	fs.IntVar(&cfg.SigninFailureBurst, "signin-failure-burst", service.DefaultSigninFailureBurst, "failed sign-ins a client address may make at once before --signin-failure-rate applies")
	fs.StringVar(&cfg.EncryptionKey, "encryption-key", os.Getenv("HOOKD_ENCRYPTION_KEY"), "encrypt signing secrets at rest (env HOOKD_ENCRYPTION_KEY): 32 bytes base64 or a passphrase of 16+ characters")
	fs.IntVar(&cfg.Workers, "workers", delivery.DefaultWorkers, "concurrent webhook requests on this node")
	fs.IntVar(&cfg.PerEndpoint, "per-endpoint", delivery.DefaultPerEndpoint, "concurrent webhook requests to one endpoint")
	fs.DurationVar(&cfg.Lease, "lease", 0, fmt.Sprintf("how long a claimed delivery stays with this node before another may take it (default the larger of %s and %d×timeout)", retry.FormatSchedule([]time.Duration{delivery.MinLease}), delivery.LeaseTimeouts))
	fs.DurationVar(&cfg.Retention, "retention", maintenance.DefaultRetention, "remove events older than this once all their deliveries are finished; 0 keeps them forever")
	fs.DurationVar(&cfg.DisableAfter, "disable-after", health.DefaultDisableAfter, "disable an endpoint whose attempts have all failed for this long; 0 never disables")
	fs.IntVar(&cfg.BreakerAfter, "breaker-after", health.DefaultThreshold, "recent attempts an endpoint must have, nearly all (90 %) failed, before its deliveries are held and single probes sent")
	fs.Float64Var(&cfg.TestRate, "test-rate", service.DefaultTestRate, "Test sends a project may make a second on one node (the endpoint's own limits apply too); negative: no limit of its own")
	fs.IntVar(&cfg.TestBurst, "test-burst", service.DefaultTestBurst, "Test sends a project may make at once before --test-rate applies")
	fs.Int64Var(&cfg.MaxBodyBytes, "max-body-bytes", api.DefaultMaxBodyBytes, "largest API request body")
	fs.DurationVar(&cfg.PublishTimeout, "publish-timeout", publish.DefaultTimeout, "longest a publish waits for its database commit before it is answered 503 (retry with the same Idempotency-Key)")
	fs.IntVar(&cfg.MaxStreams, "max-streams", eventfeed.DefaultMaxStreams, "event streams open at once on this node; more are answered 429")
	fs.IntVar(&cfg.MaxProjectStreams, "max-project-streams", eventfeed.DefaultMaxProjectStreams, "event streams open at once per project on this node; more are answered 429")
	fs.IntVar(&cfg.StreamPageBytes, "stream-page-bytes", eventfeed.DefaultPageBytes, "bytes of events an event stream reads ahead from the database (at least one event)")
	fs.IntVar(&cfg.StreamSendBuffer, "stream-send-buffer", api.DefaultStreamSendBuffer, "kernel send buffer of an event stream's connection, in bytes: what a client that reads nothing costs in copying, and what one that reads may have in flight (Linux doubles it)")
	fs.DurationVar(&cfg.StreamStall, "stream-stall", api.DefaultStreamStall, "an event stream whose client takes no event for this long is dropped (it resumes with Last-Event-ID)")
	fs.StringVar(&frameAncestors, "portal-frame-ancestors", "", "comma-separated origins that may frame the customer portal's pages (CSP frame-ancestors), e.g. https://app.example.com; none: the portal cannot be framed")
	fs.StringVar(&cfg.PortalURL, "portal-url", "", "scheme and host customer portal links start with, as customers' browsers reach hookd, e.g. https://hooks.example.com (default: the host the request for a link was sent to)")
	fs.BoolVar(&cfg.Pprof, "pprof", false, "serve Go profiles at /debug/pprof/ (unauthenticated: local profiling only)")
	fs.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return parseExit(err)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "hookd serve: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if schedule != "" {
		d, err := retry.ParseSchedule(schedule)
		if err != nil {
			fmt.Fprintf(stderr, "hookd serve: --%v\n", err)
			return 2
		}
		cfg.RetrySchedule = d
	}
	if cidrs != "" {
		for _, c := range strings.Split(cidrs, ",") {
			p, err := netip.ParsePrefix(strings.TrimSpace(c))
			if err != nil {
				fmt.Fprintf(stderr, "hookd serve: --allow-cidrs: %q is not a CIDR such as 10.0.0.0/8\n", c)
				return 2
			}
			cfg.AllowCIDRs = append(cfg.AllowCIDRs, p)
		}
	}
	if proxy != "" {
		u, err := url.Parse(proxy)
		if err != nil || u.Scheme != "http" || u.Host == "" {
			fmt.Fprintf(stderr, "hookd serve: --egress-proxy: want http://host:port\n")
			return 2
		}
		cfg.EgressProxy = u
	}
	for _, a := range strings.Split(egress, ",") {
		a = strings.TrimSpace(a)
		if a == "" {
			continue
		}
		if _, err := netip.ParseAddr(a); err != nil {
			if _, err := netip.ParsePrefix(a); err != nil {
				fmt.Fprintf(stderr, "hookd serve: --egress-addresses: %q is not an IP address or CIDR\n", a)
				return 2
			}
		}
		cfg.EgressAddresses = append(cfg.EgressAddresses, a)
	}
	for _, o := range strings.Split(frameAncestors, ",") {
		if o = strings.TrimSpace(o); o != "" {
			cfg.PortalFrameAncestors = append(cfg.PortalFrameAncestors, o)
		}
	}
	if cfg.PortalURL != "" {
		u, err := url.Parse(cfg.PortalURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			fmt.Fprintf(stderr, "hookd serve: --portal-url: want https://host[:port]\n")
			return 2
		}
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(logLevel)); err != nil {
		fmt.Fprintf(stderr, "hookd serve: --log-level: %v\n", err)
		return 2
	}
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	cfg.AdminKeyOut = stderr

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a, err := app.New(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "hookd serve: %v\n", err)
		return 1
	}
	defer a.Close()
	// Printed whatever the log level: scripts and tests wait for this line
	// to learn the address (with --addr 127.0.0.1:0).
	fmt.Fprintf(stderr, "hookd serving addr=%s db=%s version=%s\n", a.Addr(), a.DB(), app.Version)
	fmt.Fprintf(stderr, "hookd web UI: http://%s/ui/ (sign in with an API key)\n", a.Addr())
	// A second signal while draining exits at once.
	go func() {
		<-ctx.Done()
		stop()
		again := make(chan os.Signal, 1)
		signal.Notify(again, os.Interrupt, syscall.SIGTERM)
		<-again
		fmt.Fprintln(stderr, "hookd: second signal, exiting without draining")
		os.Exit(1)
	}()
	if err := a.Run(ctx); err != nil {
		fmt.Fprintf(stderr, "hookd serve: %v\n", err)
		return 1
	}
	return 0
}

func verify(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		secrets   multiFlag
		id, ts    string
		signature string
		at        int64
		tolerance time.Duration
	)
	fs.Var(&secrets, "secret", "signing secret whsec_… or public key whpk_… (repeatable)")
	fs.StringVar(&id, "id", "", "value of the webhook-id header")
	fs.StringVar(&ts, "timestamp", "", "value of the webhook-timestamp header")
	fs.StringVar(&signature, "signature", "", "value of the webhook-signature header")
	fs.Int64Var(&at, "at", 0, "check the timestamp against this Unix time instead of now (for captured requests)")
	fs.DurationVar(&tolerance, "tolerance", webhook.DefaultTolerance, "accepted clock difference")
	if err := fs.Parse(args); err != nil {
		return parseExit(err)
	}
	if len(secrets) == 0 || id == "" || ts == "" || signature == "" {
		fmt.Fprintln(stderr, "hookd verify: --secret, --id, --timestamp and --signature are required; the body is read from stdin")
		return 2
	}
	opts := []webhook.Option{webhook.WithTolerance(tolerance)}
	if at != 0 {
		opts = append(opts, webhook.WithNow(func() time.Time { return time.Unix(at, 0) }))
	}
	v, err := webhook.NewVerifier(secrets, opts...)
	if err != nil {
		fmt.Fprintf(stderr, "hookd verify: %v\n", err)
		return 2
	}
	body, err := io.ReadAll(io.LimitReader(stdin, 64<<20))
	if err != nil {
		fmt.Fprintf(stderr, "hookd verify: reading body: %v\n", err)
		return 2
	}
	if err := v.VerifyValues(id, ts, signature, body); err != nil {
		fmt.Fprintf(stderr, "invalid: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, "valid")
	return 0
}

type multiFlag []string

func (m *multiFlag) String() string { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error {
	if v == "" {
		return errors.New("empty")
	}
	*m = append(*m, v)
	return nil
}

// parseExit is the exit code after a flag parse error: 0 for -h (the
// usage was asked for and printed), 2 otherwise.
func parseExit(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	return 2
}
