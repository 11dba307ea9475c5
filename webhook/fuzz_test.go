package webhook_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/hookd/hookd/webhook"
)

var sentinels = []error{
	webhook.ErrMissingHeader, webhook.ErrMalformedTimestamp, webhook.ErrTimestampTooOld,
	webhook.ErrTimestampTooNew, webhook.ErrMalformedSignature, webhook.ErrNoMatchingSignature,
}

func wrapsSentinel(err error) bool {
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// FuzzVerify feeds arbitrary header values and bodies to the verifier, which must
// never panic and must fail only with one of the sentinel errors; and it checks that
// whatever id, timestamp and body are fuzzed, our own signature over them verifies
// (also among decoys) and stops verifying when the body changes.
func FuzzVerify(f *testing.F) {
	f.Add(katID, strconv.Itoa(katTimestamp), katSignature, []byte(katBody), uint64(katTimestamp))
	f.Add(katID, strconv.Itoa(katTimestamp), katSignature+" "+katEd25519Sig, []byte(katBody), uint64(katTimestamp))
	f.Add("evt_1", "0", "v1a,AAAA v2,zz", []byte{}, uint64(0))
	f.Add("a.b", "1614265330.5", "v1,g0hM9SsE", []byte("\x00\xff"), uint64(1<<62))
	f.Add("", "", "", []byte(nil), uint64(99999999999))
	f.Add("id with spaces", "99999999999999999999", ",,, v1, v1a,", []byte(" . "), uint64(1700000000))

	v := mustVerifier(f, []string{katSecret, katPublicKey}, at(katTime))
	signer := mustSigner(f, katSecret, katPrivateKey)
	hmacOnly := mustSigner(f, katSecret)
	edOnly := mustSigner(f, katPrivateKey)

	f.Fuzz(func(t *testing.T, id, timestamp, signature string, body []byte, unix uint64) {
		if err := v.VerifyValues(id, timestamp, signature, body); err != nil && !wrapsSentinel(err) {
			t.Fatalf("VerifyValues error wraps no sentinel: %v", err)
		}

		if id == "" {
			return
		}
		signedAt := time.Unix(int64(unix%1e17), 0)
		ts := strconv.FormatInt(signedAt.Unix(), 10)
		atSigning := mustVerifier(t, []string{katSecret, katPublicKey}, at(signedAt))
		for _, s := range []*webhook.Signer{signer, hmacOnly, edOnly} {
			sig := s.Sign(id, signedAt, body)
			if err := atSigning.VerifyValues(id, ts, sig, body); err != nil {
				t.Fatalf("own signature %q does not verify: %v", sig, err)
			}
			if len(signature) < 1000 { // fewer than the 64-entry cap, so decoys cannot push it out
				if err := atSigning.VerifyValues(id, ts, signature+" "+sig, body); err != nil {
					t.Fatalf("own signature after decoys %q does not verify: %v", signature, err)
				}
			}
			tampered := append(body[:len(body):len(body)], 'x')
			if err := atSigning.VerifyValues(id, ts, sig, tampered); !errors.Is(err, webhook.ErrNoMatchingSignature) {
				t.Fatalf("tampered body: %v, want ErrNoMatchingSignature", err)
			}
		}
	})
}

// FuzzMiddleware sends arbitrary headers and bodies through Middleware: it never
// panics, answers only its documented statuses, and calls the handler exactly when
// the verifier accepts the request, with the body unchanged.
func FuzzMiddleware(f *testing.F) {
	f.Add(katID, strconv.Itoa(katTimestamp), katSignature, []byte(katBody), true)
	f.Add("evt_1", strconv.Itoa(katTimestamp), "v1,AAAA", []byte(`{"type":1}`), false)
	f.Add("", "", "", []byte(nil), true)
	v := mustVerifier(f, []string{katSecret, katPublicKey}, at(katTime))
	signer := mustSigner(f, katSecret)
	f.Fuzz(func(t *testing.T, id, ts, sig string, body []byte, sign bool) {
		if sign && id != "" {
			sig = signer.Sign(id, katTime, body)
			ts = strconv.Itoa(katTimestamp)
		}
		var got []byte
		called := false
		next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			called = true
			got, _ = io.ReadAll(r.Body)
			if _, ok := webhook.EventFromContext(r.Context()); !ok {
				t.Error("no event in the context")
			}
		})
		h := webhook.Middleware(v, webhook.WithMaxBodyBytes(1<<16), webhook.WithDeduplicator(webhook.NewMemoryDeduplicator(4, time.Hour)))(next)
		r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		r.Header[webhook.HeaderID] = []string{id}
		r.Header[webhook.HeaderTimestamp] = []string{ts}
		r.Header[webhook.HeaderSignature] = []string{sig}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		tooBig := len(body) > 1<<16
		valid := !tooBig && v.Verify(body, r.Header) == nil
		if called != valid {
			t.Fatalf("handler called %v, verifier accepts %v (status %d)", called, valid, w.Code)
		}
		if called && !bytes.Equal(got, body) {
			t.Fatalf("handler read %q, want %q", got, body)
		}
		switch w.Code {
		case http.StatusOK, http.StatusBadRequest, http.StatusUnauthorized, http.StatusRequestEntityTooLarge:
		default:
			t.Fatalf("status %d", w.Code)
		}
	})
}
