package webhook_test

import (
	"net/http"
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
