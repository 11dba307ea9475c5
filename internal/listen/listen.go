// Package listen is `hookd listen`: it follows a project's events over the
// server's event stream and forwards each, signed with the project's
// secret, to a URL on the developer's machine, printing one line per
// event. It reconnects by itself and resumes after the last event it
// received, so events published meanwhile are not lost.
package listen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hookd/hookd/internal/clock"
	"github.com/hookd/hookd/internal/sse"
	"github.com/hookd/hookd/webhook"
)

// Defaults of Config.
const (
	DefaultMinBackoff  = 500 * time.Millisecond
	DefaultMaxBackoff  = 15 * time.Second
	DefaultIdleTimeout = 45 * time.Second // three of the server's heartbeats
	DefaultTimeout     = 30 * time.Second
	rememberedIDs      = 10000
)

// Config configures Run.
type Config struct {
	Server    string   // hookd's base URL, e.g. http://localhost:8080
	Key       string   // an API key of the project
	ProjectID string   // optional: found from the key when it sees one project
	ForwardTo string   // where each event is POSTed
	Events    []string // type filter ("invoice.*"); empty forwards every type
	UserAgent string   // of forwarded requests; default "hookd-listen"

	Out io.Writer // one line per event; default io.Discard
	Log io.Writer // connection news; default io.Discard

	// Clock gives signature timestamps, and the reconnect backoff and the
	// idle watchdog wait on it; default clock.Real.
	Clock       clock.Clock
	MinBackoff  time.Duration // first wait before reconnecting
	MaxBackoff  time.Duration // cap of the doubling waits
	IdleTimeout time.Duration // a stream silent this long (no heartbeat) is dropped
	Timeout     time.Duration // of one forwarded request
	HTTP        *http.Client  // for the server; default a client without timeout
}

// ErrFatal wraps errors that retrying cannot fix (a wrong key, an unknown
// project, a bad filter); Run returns them instead of reconnecting.
var ErrFatal = errors.New("listen")

type listener struct {
	cfg     Config
	base    *url.URL
	forward *http.Client
	signer  *webhook.Signer
	lastID  string
	seen    map[string]struct{}
	order   []string
}

// Run listens until ctx ends (then it returns nil) or a fatal error.
func Run(ctx context.Context, cfg Config) error {
	base, err := url.Parse(strings.TrimRight(cfg.Server, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return fmt.Errorf("%w: --server must be an http or https URL", ErrFatal)
	}
	if u, err := url.Parse(cfg.ForwardTo); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%w: --forward-to must be an http or https URL", ErrFatal)
	}
	if cfg.Key == "" {
		return fmt.Errorf("%w: --key is required", ErrFatal)
	}
	if cfg.Out == nil {
		cfg.Out = io.Discard
	}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = DefaultMinBackoff
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = max(DefaultMaxBackoff, cfg.MinBackoff)
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.HTTP == nil {
		cfg.HTTP = &http.Client{}
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "hookd-listen"
	}
	l := &listener{
		cfg:  cfg,
		base: base,
		forward: &http.Client{
			Timeout: cfg.Timeout,
			// Like hookd's own deliveries: a redirect is an answer.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		seen: map[string]struct{}{},
	}
	return l.run(ctx)
}

func (l *listener) run(ctx context.Context) error {
	backoff := l.cfg.MinBackoff
	connectedOnce := false
	for {
		connected, err := l.session(ctx, connectedOnce)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, ErrFatal) {
			return err
		}
		if connected {
			connectedOnce = true
			backoff = l.cfg.MinBackoff
		}
		// Waiting starts before the line is printed, so whoever reads
		// the line knows listen waits on the clock.
		wait := l.cfg.Clock.After(backoff)
		fmt.Fprintf(l.cfg.Log, "connection lost (%v); reconnecting in %v\n", err, backoff)
		select {
		case <-ctx.Done():
			return nil
		case <-wait:
		}
		backoff = min(2*backoff, l.cfg.MaxBackoff)
	}
}

// session reads the secret, connects and forwards until the stream ends.
// connected tells whether the server accepted the stream.
func (l *listener) session(ctx context.Context, again bool) (connected bool, err error) {
	if l.cfg.ProjectID == "" {
		if err := l.findProject(ctx); err != nil {
			return false, err
		}
	}
	// Read on every connect: a rotation while disconnected is picked up.
	if err := l.readSecret(ctx); err != nil {
		return false, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	q := url.Values{}
	if len(l.cfg.Events) > 0 {
		q.Set("types", strings.Join(l.cfg.Events, ","))
	}
	u := l.url("/events/stream")
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return false, err
	}
	req.Header.Set("Authorization", "Bearer "+l.cfg.Key)
	req.Header.Set("Accept", sse.ContentType)
	if l.lastID != "" {
		req.Header.Set("Last-Event-ID", l.lastID)
	}
	resp, err := l.cfg.HTTP.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false, apiError(resp)
	}
	if again {
		fmt.Fprintf(l.cfg.Log, "reconnected; resuming after %s\n", l.lastID)
	} else {
		filter := "every event type"
		if len(l.cfg.Events) > 0 {
			filter = strings.Join(l.cfg.Events, ", ")
		}
		fmt.Fprintf(l.cfg.Log, "ready: forwarding %s of project %s to %s (Ctrl-C to stop)\n", filter, l.cfg.ProjectID, l.cfg.ForwardTo)
	}

	// The watchdog drops a stream that went silent: a dead connection
	// (a laptop that slept, a proxy that forgot it) never errors by itself.
	alive := make(chan struct{}, 1)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-alive:
			case <-l.cfg.Clock.After(l.cfg.IdleTimeout):
				cancel()
				return
			}
		}
	}()
	r := sse.NewReader(resp.Body, 0)
	r.OnLine = func() {
		select {
		case alive <- struct{}{}:
		default:
		}
	}
	for {
		ev, err := r.Next()
		if err != nil {
			if err == io.EOF {
				err = errors.New("server closed the stream")
			}
			if ctx.Err() != nil && context.Cause(ctx) == context.Canceled {
				err = fmt.Errorf("no data for %v", l.cfg.IdleTimeout)
			}
			return true, err
		}
		if ev.Type == streamClosed {
			// The server's last word before it ends the stream (the
			// client fell behind, the key was revoked, a shutdown).
			var last struct{ Message string }
			if json.Unmarshal(ev.Data, &last) == nil && last.Message != "" {
				fmt.Fprintf(l.cfg.Log, "the server ended the stream: %s\n", last.Message)
			}
			continue
		}
		if ev.ID == "" || !l.remember(ev.ID) {
			continue // seen before a reconnect
		}
		l.lastID = ev.ID
		l.deliver(ctx, ev)
	}
}

// streamClosed is the type of the last message of a stream the server
// ends (api.StreamClosedType).
const streamClosed = "hookd.stream.closed"

// remember records id and reports whether it is new.
func (l *listener) remember(id string) bool {
	if _, ok := l.seen[id]; ok {
		return false
	}
	l.seen[id] = struct{}{}
	l.order = append(l.order, id)
	if len(l.order) > rememberedIDs {
		delete(l.seen, l.order[0])
		l.order = l.order[1:]
	}
	return true
}

// deliver forwards one event and prints its line.
func (l *listener) deliver(ctx context.Context, ev sse.Event) {
	start := time.Now()
	status, err := l.post(ctx, ev)
	took := time.Since(start)
	now := l.cfg.Clock.Now()
	result := fmt.Sprint(status)
	if err != nil {
		result = "error: " + err.Error()
	}
	fmt.Fprintf(l.cfg.Out, "%s  %-24s %s  → %s  %s\n", now.Local().Format("15:04:05"), ev.Type, ev.ID, result, took.Round(time.Millisecond))
}

func (l *listener) post(ctx context.Context, ev sse.Event) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.cfg.ForwardTo, bytes.NewReader(ev.Data))
	if err != nil {
		return 0, err
	}
	for k, v := range l.signer.Headers(ev.ID, l.cfg.Clock.Now(), ev.Data) {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", l.cfg.UserAgent)
	resp, err := l.forward.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return resp.StatusCode, nil
}

func (l *listener) url(path string) string {
	return l.base.String() + "/v1/projects/" + url.PathEscape(l.cfg.ProjectID) + path
}

// findProject asks which projects the key sees; a project key sees one.
func (l *listener) findProject(ctx context.Context) error {
	var list struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
	}
	if err := l.get(ctx, l.base.String()+"/v1/projects", &list); err != nil {
		return err
	}
	if len(list.Items) != 1 {
		return fmt.Errorf("%w: the key sees %d projects; name one with --project", ErrFatal, len(list.Items))
	}
	l.cfg.ProjectID = list.Items[0].ID
	return nil
}

func (l *listener) readSecret(ctx context.Context) error {
	var s struct {
		Secret string `json:"secret"`
	}
	if err := l.get(ctx, l.url("/secret"), &s); err != nil {
		return err
	}
	signer, err := webhook.NewSigner(s.Secret)
	if err != nil {
		return fmt.Errorf("%w: the project's secret: %v", ErrFatal, err)
	}
	l.signer = signer
	return nil
}

func (l *listener) get(ctx context.Context, u string, into any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+l.cfg.Key)
	cctx, cancel := context.WithTimeout(ctx, l.cfg.Timeout)
	defer cancel()
	resp, err := l.cfg.HTTP.Do(req.WithContext(cctx))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return apiError(resp)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(into); err != nil {
		return fmt.Errorf("reading %s: %w", u, err)
	}
	return nil
}

// apiError reads hookd's error answer. Client errors are fatal but for
// 408 and 429; server errors and anything else are worth a retry.
func apiError(resp *http.Response) error {
	var body struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	_ = json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&body)
	msg := fmt.Sprintf("server answered %s", resp.Status)
	if body.Error.Message != "" {
		msg += ": " + body.Error.Message
	}
	if resp.StatusCode >= 400 && resp.StatusCode < 500 &&
		resp.StatusCode != http.StatusRequestTimeout && resp.StatusCode != http.StatusTooManyRequests {
		return fmt.Errorf("%w: %s", ErrFatal, msg)
	}
	return errors.New(msg)
}
