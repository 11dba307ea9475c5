package webhook_test

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/hookd/hookd/webhook"
)

// The hot path of every delivery is one Headers call per attempt; receivers
// run Verify once per request.

var benchBody = []byte(`{"id":"evt_01JD0000000000000000000000","type":"tester.created","timestamp":"2026-11-26T12:00:00Z","data":{"name":"Ada Lovelace","plan":"pro","seats":12}}`)

func BenchmarkSignHMAC(b *testing.B) {
	s, err := webhook.NewSigner("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		b.Fatal(err)
	}
	ts := time.Unix(1614265330, 0)
	b.ReportAllocs()
	for b.Loop() {
		_ = s.Headers("evt_01JD0000000000000000000000", ts, benchBody)
	}
}

func BenchmarkSignEd25519(b *testing.B) {
	priv, _, err := webhook.NewKeyPair()
	if err != nil {
		b.Fatal(err)
	}
	s, err := webhook.NewSigner(priv)
	if err != nil {
		b.Fatal(err)
	}
	ts := time.Unix(1614265330, 0)
	b.ReportAllocs()
	for b.Loop() {
		_ = s.Headers("evt_01JD0000000000000000000000", ts, benchBody)
	}
}

func BenchmarkVerifyHMAC(b *testing.B) {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	s, _ := webhook.NewSigner(secret)
	ts := time.Unix(1614265330, 0)
	h := s.Headers("evt_01JD0000000000000000000000", ts, benchBody)
	v, err := webhook.NewVerifier([]string{secret}, webhook.WithNow(func() time.Time { return ts }))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := v.Verify(benchBody, http.Header(h)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMiddleware is one request through Middleware: read the body, verify,
// decode the envelope, call the next handler. With a deduplicator each request has
// a new webhook-id (claim and complete); "duplicate" repeats one.
func BenchmarkMiddleware(b *testing.B) {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	s, _ := webhook.NewSigner(secret)
	ts := time.Unix(1614265330, 0)
	v, err := webhook.NewVerifier([]string{secret}, webhook.WithNow(func() time.Time { return ts }))
	if err != nil {
		b.Fatal(err)
	}
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	for _, bc := range []struct {
		name   string
		dedup  bool
		unique bool
	}{
		{"verify", false, false},
		{"dedup", true, true},
		{"duplicate", true, false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var opts []webhook.MiddlewareOption
			if bc.dedup {
				opts = append(opts, webhook.WithDeduplicator(webhook.NewMemoryDeduplicator(1<<20, time.Hour)))
			}
			h := webhook.Middleware(v, opts...)(next)
			headers := make([]http.Header, 1)
			if bc.unique {
				headers = make([]http.Header, b.N)
			}
			for i := range headers {
				headers[i] = s.Headers("evt_"+strconv.Itoa(i), ts, benchBody)
			}
			req, _ := http.NewRequest(http.MethodPost, "/webhooks", nil)
			body := bytes.NewReader(benchBody)
			req.Body = io.NopCloser(body)
			w := &discardWriter{h: http.Header{}}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				body.Reset(benchBody)
				req.ContentLength = int64(len(benchBody))
				req.Header = headers[i%len(headers)]
				w.code = 0
				h.ServeHTTP(w, req)
				if w.code != http.StatusNoContent && w.code != http.StatusOK {
					b.Fatalf("status %d", w.code)
				}
			}
		})
	}
}

type discardWriter struct {
	h    http.Header
	code int
}

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardWriter) WriteHeader(code int)        { d.code = code }
