package webhook_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/hookd/hookd/webhook"
)

// A sender signs each attempt with the event's id, the time of the attempt and the
// exact bytes it is about to send.
func ExampleSigner() {
	signer, err := webhook.NewSigner("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		log.Fatal(err)
	}
	body := []byte(`{"test": 2432232314}`)
	h := signer.Headers("msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 0), body)

	req, _ := http.NewRequest(http.MethodPost, "https://receiver.example/webhooks", bytes.NewReader(body))
	for name, values := range h {
		req.Header[name] = values
	}
	for _, name := range []string{webhook.HeaderID, webhook.HeaderTimestamp, webhook.HeaderSignature} {
		fmt.Printf("%s: %s\n", name, req.Header.Get(name))
	}
	// Output:
	// webhook-id: msg_p5jXN8AQM9LWM0D4loKWxJek
	// webhook-timestamp: 1614265330
	// webhook-signature: v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=
}

// During a rotation the sender signs with both secrets, newest first; a receiver
// that still has only the old one keeps verifying.
func ExampleSigner_rotation() {
	const oldSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	const newSecret = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"
	signer, _ := webhook.NewSigner(newSecret, oldSecret)
	fmt.Println(signer.Sign("msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`)))
	// Output:
	// v1,78nXHjpFP0tVJQW5D0SBwmVyyW87BV/rL6MgfM/Bw44= v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=
}

// A receiver reads the raw body once, verifies those exact bytes, and only then
// decodes them. Decoding first and verifying a re-encoding fails: JSON encoders do
// not reproduce the sender's bytes.
func ExampleVerifier() {
	// The clock is fixed so the example's output is stable; a real receiver leaves
	// it out and gets time.Now.
	signedAt := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	verifier, err := webhook.NewVerifier(
		[]string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},
		webhook.WithNow(func() time.Time { return signedAt.Add(2 * time.Second) }),
	)
	if err != nil {
		log.Fatal(err)
	}

	receiver := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if err != nil {
			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
			return
		}
		if err := verifier.Verify(body, r.Header); err != nil {
			fmt.Println("rejected:", err)
			http.Error(w, "invalid signature", http.StatusUnauthorized)
			return
		}
		var event struct{ ID, Type string }
		if err := json.Unmarshal(body, &event); err != nil {
			http.Error(w, "bad json", http.StatusBadRequest)
			return
		}
		fmt.Println("accepted:", event.Type, event.ID)
		w.WriteHeader(http.StatusNoContent)
	})
	srv := httptest.NewServer(receiver)
	defer srv.Close()

	signer, _ := webhook.NewSigner("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	send := func(body string, h http.Header) int {
		req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(body))
		for name, values := range h {
			req.Header[name] = values
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	body := `{"id":"evt_1","type":"tester.created","data":{"name":"Ada"}}`
	h := signer.Headers("evt_1", signedAt, []byte(body))
	fmt.Println(send(body, h))
	fmt.Println(send(strings.Replace(body, "Ada", "Eve", 1), h))
	// Output:
	// accepted: tester.created evt_1
	// 204
	// rejected: webhook: no matching signature: none of 1 signature(s) verifies with the 1 key(s) given; wrong secret, or the body, id or timestamp changed after signing
	// 401
}

// A captured request can be checked later by pinning the clock to the moment it was
// received, as `hookd verify --at` does.
func ExampleVerifier_VerifyValues() {
	receivedAt := time.Unix(1614265331, 0)
	verifier, _ := webhook.NewVerifier(
		[]string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},
		webhook.WithNow(func() time.Time { return receivedAt }),
	)
	err := verifier.VerifyValues("msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330",
		"v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", []byte(`{"test": 2432232314}`))
	fmt.Println("valid:", err == nil)

	// The same request checked an hour later is a possible replay.
	later, _ := webhook.NewVerifier(
		[]string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},
		webhook.WithNow(func() time.Time { return receivedAt.Add(time.Hour) }),
	)
	fmt.Println(later.VerifyValues("msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330",
		"v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", []byte(`{"test": 2432232314}`)))
	// Output:
	// valid: true
	// webhook: timestamp too old: signed at 2021-02-25T15:02:10Z, 1h0m1s before now (tolerance 5m0s)
}

// With Ed25519 the sender keeps the whsk_ private key and hands receivers the whpk_
// public key, which can verify but not sign.
func ExampleNewKeyPair() {
	private, public, err := webhook.NewKeyPair()
	if err != nil {
		log.Fatal(err)
	}
	signer, _ := webhook.NewSigner(private)
	verifier, _ := webhook.NewVerifier([]string{public})

	body := []byte(`{"type":"tester.applied"}`)
	h := signer.Headers("evt_2", time.Now(), body)
	fmt.Println(strings.HasPrefix(h.Get(webhook.HeaderSignature), "v1a,"))
	fmt.Println(verifier.Verify(body, h))
	// Output:
	// true
	// <nil>
}
