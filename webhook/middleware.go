package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"
)

// DefaultMaxBodyBytes bounds the body the middleware reads: hookd accepts event data
// up to 256 KiB, and the envelope around it is small.
const DefaultMaxBodyBytes = 1 << 20

// DefaultInProgressRetryAfter is the Retry-After the middleware sends, with a 409,
// to a duplicate that arrives while the first request with its webhook-id is still
// being handled.
const DefaultInProgressRetryAfter = 5 * time.Second

// Event is a verified webhook, as the next handler gets it from EventFromContext.
type Event struct {
	// ID is the webhook-id header: the same on every retry of one webhook.
	ID string
	// Timestamp is the webhook-timestamp header: when this attempt was signed.
	Timestamp time.Time
	// Type and Data are the "type" and "data" members of a JSON body
	// ({"id","type","timestamp","data"} from hookd). They are empty when the body
	// is not a JSON object; the signature covers the bytes, not their shape.
	Type string
	Data json.RawMessage
	// Body is the raw body exactly as received and verified. The request's Body
	// holds the same bytes for handlers that read it.
	Body []byte
}

type eventKey struct{}

// EventFromContext returns the event the middleware verified for this request.
func EventFromContext(ctx context.Context) (Event, bool) {
	ev, ok := ctx.Value(eventKey{}).(Event)
	return ev, ok
}

// MiddlewareOption configures Middleware.
type MiddlewareOption func(*middleware)

// WithMaxBodyBytes bounds the request body (default DefaultMaxBodyBytes); a larger
// one is answered 413 without being read further.
func WithMaxBodyBytes(n int64) MiddlewareOption {
	return func(m *middleware) { m.maxBody = n }
}

// WithDeduplicator de-duplicates verified webhooks by webhook-id (see Deduplicator).
// Without one, every verified request reaches the next handler.
func WithDeduplicator(d Deduplicator) MiddlewareOption {
	return func(m *middleware) { m.dedup = d }
}

// WithErrorHandler replaces how refused requests are answered (and lets them be
// logged). status is what the middleware would answer: 400 for missing or malformed
// headers, 401 for a signature that does not verify or a timestamp outside the
// tolerance, 405 for a method other than POST, 413 for a body over the limit, 503
// when the Deduplicator fails. err wraps one of the package's sentinel errors for
// 400 and 401; its text never holds a secret. The default writes err's text with
// status.
func WithErrorHandler(f func(w http.ResponseWriter, r *http.Request, status int, err error)) MiddlewareOption {
	return func(m *middleware) { m.onError = f }
}

type middleware struct {
	v       *Verifier
	maxBody int64
	dedup   Deduplicator
	onError func(w http.ResponseWriter, r *http.Request, status int, err error)
	next    http.Handler
}

// Middleware returns net/http middleware that lets through only webhooks verified
// by v. For each request it
//
//   - refuses methods other than POST (405);
//   - reads the raw body once, at most WithMaxBodyBytes (413 beyond);
//   - verifies the signature with v's keys (HMAC secrets and Ed25519 public keys;
//     several during a rotation) and refuses a timestamp outside v's tolerance,
//     which bounds replays (400 or 401, see WithErrorHandler);
//   - with WithDeduplicator, claims the webhook-id: a webhook handled before is
//     answered 200 without calling next, one being handled by another request right
//     now is answered 409 with Retry-After (the sender retries; it is not handled
//     twice at once);
//   - calls next with the Event in the request's context (EventFromContext) and the
//     raw body, unchanged, in r.Body;
//   - completes the claim if next answered 2xx, and releases it if next answered
//     anything else or panicked, so the sender's retry is processed.
//
// The id is claimed only after the signature verifies, so forged requests cannot
// mark ids as seen. Middleware panics if v is nil.
func Middleware(v *Verifier, opts ...MiddlewareOption) func(http.Handler) http.Handler {
	if v == nil {
		panic("webhook: Middleware needs a Verifier")
	}
	cfg := middleware{v: v, maxBody: DefaultMaxBodyBytes, onError: defaultOnError}
	for _, opt := range opts {
		opt(&cfg)
	}
	if cfg.maxBody <= 0 {
		cfg.maxBody = DefaultMaxBodyBytes
	}
	return func(next http.Handler) http.Handler {
		m := cfg
		m.next = next
		return &m
	}
}

func defaultOnError(w http.ResponseWriter, _ *http.Request, status int, err error) {
	http.Error(w, err.Error(), status)
}

var (
	errMethod      = errors.New("webhook: a webhook is a POST")
	errTooLarge    = errors.New("webhook: body too large")
	errReadBody    = errors.New("webhook: reading the body failed")
	errDedupFailed = errors.New("webhook: cannot check for duplicates right now; retry later")
)

func (m *middleware) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		m.onError(w, r, http.StatusMethodNotAllowed, errMethod)
		return
	}
	body, err := m.readBody(w, r)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.Is(err, errTooLarge) || errors.As(err, &tooLarge) {
			m.onError(w, r, http.StatusRequestEntityTooLarge, errTooLarge)
		} else {
			m.onError(w, r, http.StatusBadRequest, errReadBody)
		}
		return
	}
	id := firstValue(r.Header, HeaderID)
	ts := firstValue(r.Header, HeaderTimestamp)
	if err := m.v.Verify(body, r.Header); err != nil {
		status := http.StatusUnauthorized
		if errors.Is(err, ErrMissingHeader) || errors.Is(err, ErrMalformedTimestamp) || errors.Is(err, ErrMalformedSignature) {
			status = http.StatusBadRequest
		}
		m.onError(w, r, status, err)
		return
	}

	ev := Event{ID: id, Body: body}
	if secs, err := strconv.ParseInt(ts, 10, 64); err == nil { // verified: canonical digits
		ev.Timestamp = time.Unix(secs, 0)
	}
	var envelope struct {
		Type string          `json:"type"`
		Data json.RawMessage `json:"data"`
	}
	if json.Unmarshal(body, &envelope) == nil {
		ev.Type, ev.Data = envelope.Type, envelope.Data
	}

	if m.dedup == nil {
		m.serveNext(w, r, ev)
		return
	}
	ctx := r.Context()
	claim, err := m.dedup.Claim(ctx, id)
	if err != nil {
		w.Header().Set("Retry-After", strconv.Itoa(int(DefaultInProgressRetryAfter/time.Second)))
		m.onError(w, r, http.StatusServiceUnavailable, errDedupFailed)
		return
	}
	switch claim {
	case Duplicate:
		w.WriteHeader(http.StatusOK)
		return
	case InProgress:
		w.Header().Set("Retry-After", strconv.Itoa(int(DefaultInProgressRetryAfter/time.Second)))
		http.Error(w, "webhook "+id+" is being processed by another request", http.StatusConflict)
		return
	}

	// Claimed: whatever happens now, the claim is completed or released. Both use
	// a context that outlives a client that hung up, since the outcome is known.
	sw := &statusWriter{ResponseWriter: w}
	settled := false
	defer func() {
		if settled {
			return
		}
		// next panicked (or called runtime.Goexit): let the retry process it.
		_ = m.dedup.Release(context.WithoutCancel(ctx), id)
	}()
	m.serveNext(sw, r, ev)
	status := sw.status
	if status == 0 {
		status = http.StatusOK
	}
	if status >= 200 && status < 300 {
		_ = m.dedup.Complete(context.WithoutCancel(ctx), id)
	} else {
		_ = m.dedup.Release(context.WithoutCancel(ctx), id)
	}
	settled = true
}

func (m *middleware) serveNext(w http.ResponseWriter, r *http.Request, ev Event) {
	r2 := r.WithContext(context.WithValue(r.Context(), eventKey{}, ev))
	r2.Body = io.NopCloser(bytes.NewReader(ev.Body))
	r2.ContentLength = int64(len(ev.Body))
	m.next.ServeHTTP(w, r2)
}

// readBody reads at most maxBody bytes; a declared length over the limit is refused
// before anything is read.
func (m *middleware) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if r.ContentLength > m.maxBody {
		return nil, errTooLarge
	}
	size := m.maxBody
	if r.ContentLength >= 0 {
		size = r.ContentLength
	}
	buf := bytes.NewBuffer(make([]byte, 0, min(size, 64<<10)+1))
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, m.maxBody))
	return buf.Bytes(), err
}

func firstValue(h http.Header, name string) string {
	if vs := headerValues(h, name); len(vs) > 0 {
		return vs[0]
	}
	return ""
}

// statusWriter remembers the status the next handler answered. Unwrap lets
// http.ResponseController reach the underlying writer's Flush, Hijack and deadlines.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 && code >= 200 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) Flush() {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }
