package outbound

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/hookd/hookd/internal/clock"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultTimeout             = 15 * time.Second
	DefaultUserAgent           = "hookd/dev"
	DefaultMaxResponseBytes    = 4096
	DefaultMaxIdleConnsPerHost = 64
)

const (
	// drainLimit bounds what is read past the excerpt so that the
	// connection can go back to the pool; a longer body costs a new
	// connection rather than unbounded reading.
	drainLimit = 64 << 10
	// maxHeaderBytes bounds the response headers the transport accepts.
	maxHeaderBytes = 64 << 10
	// Limits on the response headers kept in a Result (they are stored
	// with every attempt).
	maxKeptHeaderBytes = 8 << 10
	maxKeptValueBytes  = 1 << 10
)

// Config configures a Client. The zero value is a safe production setup.
type Config struct {
	// Timeout bounds a whole Send: connecting, TLS, writing the request,
	// waiting for the response and reading the excerpt. Default 15s.
	Timeout time.Duration
	// AllowPrivateNetworks lifts the address guard entirely, for local
	// development and tests. Default false.
	AllowPrivateNetworks bool
	// AllowCIDRs are ranges that may be dialed even though the guard would
	// refuse them (an operator's internal receivers). Default none.
	AllowCIDRs []netip.Prefix
	// CAFile names a PEM file of extra roots trusted beside the system
	// roots (a private CA). Default "": system roots only.
	CAFile string
	// RootCAs, when set, replaces the system roots (CAFile still adds to
	// it). Meant for tests. Default nil: system roots.
	RootCAs *x509.CertPool
	// UserAgent is sent on every request. Default "hookd/dev".
	UserAgent string
	// MaxResponseBytes is how much of a response body Result keeps.
	// Default 4096.
	MaxResponseBytes int
	// Resolver resolves endpoint host names. Default net.DefaultResolver.
	Resolver Resolver
	// MaxIdleConnsPerHost is the keep-alive pool size per endpoint host.
	// Default 64.
	MaxIdleConnsPerHost int
	// Clock is what a Retry-After date is measured from. Default the
	// system clock. (Durations are measured on the monotonic clock.)
	Clock clock.Clock
	// Proxy, when set, is an HTTP forward proxy (http://[user:pass@]host:port)
	// every request goes through: CONNECT for https:// endpoints, absolute
	// form for http://. Endpoint addresses are still resolved and checked by
	// the guard, and the proxy is asked for the checked IP. Default nil: direct.
	Proxy *url.URL
}

// Client sends webhook requests. It is safe for concurrent use and should
// be shared, since it keeps connections alive between sends.
type Client struct {
	proxy     *egressProxy // nil: direct
	dialer    *guardedDialer
	timeout   time.Duration
	ua        string
	maxBody   int
	transport *http.Transport
	clock     clock.Clock
}

// New returns a Client for cfg. It fails when cfg is invalid or CAFile
// cannot be read or holds no certificate.
func New(cfg Config) (*Client, error) {
	if cfg.Timeout < 0 {
		return nil, errors.New("outbound: Timeout must not be negative")
	}
	if cfg.MaxResponseBytes < 0 {
		return nil, errors.New("outbound: MaxResponseBytes must not be negative")
	}
	if cfg.MaxIdleConnsPerHost < 0 {
		return nil, errors.New("outbound: MaxIdleConnsPerHost must not be negative")
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = DefaultUserAgent
	}
	if cfg.MaxResponseBytes == 0 {
		cfg.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if cfg.MaxIdleConnsPerHost == 0 {
		cfg.MaxIdleConnsPerHost = DefaultMaxIdleConnsPerHost
	}
	if cfg.Resolver == nil {
		cfg.Resolver = net.DefaultResolver
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	allow := make([]netip.Prefix, 0, len(cfg.AllowCIDRs))
	for _, p := range cfg.AllowCIDRs {
		if !p.IsValid() {
			return nil, fmt.Errorf("outbound: invalid AllowCIDRs entry %v", p)
		}
		allow = append(allow, p.Masked())
	}
	if cfg.Proxy != nil {
		if err := checkProxyURL(cfg.Proxy); err != nil {
			return nil, err
		}
	}
	roots, err := rootPool(cfg.RootCAs, cfg.CAFile)
	if err != nil {
		return nil, err
	}

	dialer := newGuardedDialer(&guard{off: cfg.AllowPrivateNetworks, allow: allow}, cfg.Resolver)
	transport := &http.Transport{
		// The environment's proxy would dial on our behalf, beyond the
		// guard's reach; Config.Proxy tunnels from the guarded dialer.
		Proxy:       nil,
		DialContext: dialer.DialContext,
		TLSClientConfig: &tls.Config{
			MinVersion: tls.VersionTLS12,
			RootCAs:    roots,
		},
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           0, // no global cap; the per-host cap bounds each endpoint
		MaxIdleConnsPerHost:    cfg.MaxIdleConnsPerHost,
		IdleConnTimeout:        90 * time.Second,
		MaxResponseHeaderBytes: maxHeaderBytes,
		// Not asking for gzip keeps excerpts readable as sent and spares
		// decompressing bodies nobody reads.
		DisableCompression: true,
	}
	var proxy *egressProxy
	if cfg.Proxy != nil {
		proxy = newEgressProxy(cfg.Proxy, transport)
		dialer.proxy = proxy
	}
	return &Client{
		proxy:     proxy,
		dialer:    dialer,
		timeout:   cfg.Timeout,
		ua:        cfg.UserAgent,
		maxBody:   cfg.MaxResponseBytes,
		transport: transport,
		clock:     cfg.Clock,
	}, nil
}

// rootPool builds the trusted roots: nil (the platform's own verifier)
// unless a pool or a CA file is given.
func rootPool(base *x509.CertPool, caFile string) (*x509.CertPool, error) {
	if caFile == "" {
		return base, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("outbound: reading CA file: %w", err)
	}
	var pool *x509.CertPool
	if base != nil {
		pool = base.Clone()
	} else if pool, err = x509.SystemCertPool(); err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("outbound: CA file %s holds no PEM certificate", caFile)
	}
	return pool, nil
}

// CloseIdleConnections closes kept-alive connections; call it on shutdown.
func (c *Client) CloseIdleConnections() {
	c.transport.CloseIdleConnections()
	if c.proxy != nil {
		c.proxy.plain.CloseIdleConnections()
	}
}

// Request is one webhook POST.
type Request struct {
	URL  string
	Body []byte
	// Header holds the webhook-* headers. Content-Type and User-Agent are
	// set by Send and override any given here.
	Header http.Header
}

// Result is the outcome of one Send, ready to be recorded as an attempt.
type Result struct {
	// StatusCode is the response status, 0 when no response arrived.
	StatusCode int
	// Duration is from the start of Send until the excerpt was read.
	Duration time.Duration
	// Err is a readable reason why no response arrived, "" when one did
	// (whatever its status, and even if reading its body then failed).
	Err string
	// ResponseHeaders are the response's headers, trimmed to a bounded
	// size; nil when no response arrived.
	ResponseHeaders http.Header
	// ResponseBody is the start of the response body: at most
	// MaxResponseBytes bytes, cut at a character boundary, invalid UTF-8
	// and NUL bytes replaced so that any database can store it.
	ResponseBody string
	// RetryAfter is the response's Retry-After header as a duration, 0
	// when absent, malformed or in the past.
	RetryAfter time.Duration
}

// errSendTimeout is the cause of a context ended by Client's own timeout,
// telling it apart from the caller's cancellation.
var errSendTimeout = errors.New("outbound: send timeout")

// Send POSTs r and reports what happened. It never returns an error:
// every failure is described in Result.Err.
func (c *Client) Send(ctx context.Context, r Request) Result {
	start := time.Now()
	ctx, cancel := context.WithTimeoutCause(ctx, c.timeout, errSendTimeout)
	defer cancel()
	var prog progress
	ctx = httptrace.WithClientTrace(ctx, prog.trace())

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.URL, bytes.NewReader(r.Body))
	if err != nil {
		return Result{Duration: time.Since(start), Err: "invalid url: " + err.Error()}
	}
	for k, vs := range r.Header {
		req.Header[k] = slices.Clone(vs)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", c.ua)

	// The transport directly, not an http.Client: a webhook never follows
	// a redirect (a 3xx is the endpoint's answer, recorded as sent), and
	// the client's redirect machinery copied every request's headers.
	var rt http.RoundTripper = c.transport
	if c.proxy != nil && req.URL.Scheme == "http" {
		if err := c.pinHTTP(ctx, req); err != nil {
			return Result{Duration: time.Since(start), Err: c.describe(ctx, err, &prog)}
		}
		rt = c.proxy.plain
	}
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return Result{Duration: time.Since(start), Err: c.describe(ctx, err, &prog)}
	}
	body := readExcerpt(resp.Body, c.maxBody)
	// Reading on lets the connection be reused; a body past the limit is
	// abandoned and costs only that connection.
	_, _ = io.CopyN(io.Discard, resp.Body, drainLimit)
	_ = resp.Body.Close()

	res := Result{
		StatusCode:      resp.StatusCode,
		Duration:        time.Since(start),
		ResponseHeaders: trimHeaders(resp.Header),
		ResponseBody:    body,
	}
	if v := resp.Header.Get("Retry-After"); v != "" {
		if d, ok := ParseRetryAfter(v, c.clock.Now()); ok {
			res.RetryAfter = d
		}
	}
	return res
}

// readExcerpt reads at most limit bytes and makes them storable text.
func readExcerpt(r io.Reader, limit int) string {
	b, _ := io.ReadAll(io.LimitReader(r, int64(limit)))
	if len(b) == limit {
		b = dropPartialRune(b)
	}
	return storableText(b, limit)
}

// dropPartialRune removes a multi-byte character cut off by truncation.
func dropPartialRune(b []byte) []byte {
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			if !utf8.FullRune(b[i:]) {
				return b[:i]
			}
			break
		}
	}
	return b
}

// storableText replaces invalid UTF-8 and NUL bytes (which PostgreSQL text
// refuses) with U+FFFD, then cuts the result back to limit bytes, since a
// replacement is longer than the byte it replaces.
func storableText(b []byte, limit int) string {
	if utf8.Valid(b) && bytes.IndexByte(b, 0) < 0 {
		return string(b)
	}
	var out []byte
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		if r == 0 {
			r = utf8.RuneError
		}
		if len(out)+utf8.RuneLen(r) > limit {
			break
		}
		out = utf8.AppendRune(out, r)
		b = b[size:]
	}
	return string(out)
}

// trimHeaders copies h, cutting long values and dropping whatever goes
// past the budget, so that a hostile receiver cannot bloat the event log.
func trimHeaders(h http.Header) http.Header {
	out := make(http.Header, len(h))
	budget := maxKeptHeaderBytes
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, v := range h[k] {
			if len(v) > maxKeptValueBytes {
				v = string(dropPartialRune([]byte(v[:maxKeptValueBytes])))
			}
			cost := len(k) + len(v)
			if cost > budget {
				return out
			}
			budget -= cost
			out[k] = append(out[k], v)
		}
	}
	return out
}

// Phases of a request, as far as it got, for timeout messages.
const (
	phaseConnecting int32 = iota
	phaseResolving
	phaseTLS
	phaseSending
	phaseWaiting
)

// progress follows a request through httptrace. The hooks may run on
// transport goroutines, hence the atomic.
type progress struct{ phase atomic.Int32 }

func (p *progress) trace() *httptrace.ClientTrace {
	return &httptrace.ClientTrace{
		DNSStart:          func(httptrace.DNSStartInfo) { p.phase.Store(phaseResolving) },
		DNSDone:           func(httptrace.DNSDoneInfo) { p.phase.Store(phaseConnecting) },
		TLSHandshakeStart: func() { p.phase.Store(phaseTLS) },
		GotConn:           func(httptrace.GotConnInfo) { p.phase.Store(phaseSending) },
		WroteRequest:      func(httptrace.WroteRequestInfo) { p.phase.Store(phaseWaiting) },
	}
}

func (p *progress) String() string {
	switch p.phase.Load() {
	case phaseResolving:
		return "during DNS lookup"
	case phaseTLS:
		return "during TLS handshake"
	case phaseSending:
		return "while sending request"
	case phaseWaiting:
		return "waiting for response"
	default:
		return "while connecting"
	}
}
