package webhook_test

import (
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/hookd/hookd/webhook"
)

// A receiver wraps its handler in Middleware: the handler sees only verified
// webhooks, each webhook-id once, and finds the event in the request's context.
func ExampleMiddleware() {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" // from hookd, when the endpoint was created
	verifier, err := webhook.NewVerifier([]string{secret})
	if err != nil {
		log.Fatal(err)
	}
	verify := webhook.Middleware(verifier,
		webhook.WithDeduplicator(webhook.NewMemoryDeduplicator(100_000, 24*time.Hour)))

	mux := http.NewServeMux()
	mux.Handle("POST /webhooks", verify(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ev, _ := webhook.EventFromContext(r.Context())
		fmt.Printf("%s %s\n", ev.Type, ev.Data)
		w.WriteHeader(http.StatusNoContent)
	})))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	// What hookd sends: the same webhook twice (a retry), then a forgery.
	signer, _ := webhook.NewSigner(secret)
	send := func(id, body string, signer *webhook.Signer) {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/webhooks", strings.NewReader(body))
		for name, vs := range signer.Headers(id, time.Now(), []byte(body)) {
			req.Header[name] = vs
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		resp.Body.Close()
		fmt.Println(resp.StatusCode)
	}
	body := `{"id":"evt_1","type":"tester.created","timestamp":"2026-11-26T12:00:00Z","data":{"name":"Ada"}}`
	send("evt_1", body, signer)
	send("evt_1", body, signer)
	forger, _ := webhook.NewSigner("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD")
	send("evt_2", body, forger)
	// Output:
	// tester.created {"name":"Ada"}
	// 204
	// 200
	// 401
}

// The next handler gets the verified event from the context, and the raw body in
// r.Body for code that decodes it itself.
func ExampleEventFromContext() {
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ev, ok := webhook.EventFromContext(r.Context())
		if !ok { // not behind Middleware
			http.Error(w, "unverified", http.StatusInternalServerError)
			return
		}
		log.Printf("webhook %s (%s) signed at %s: %s", ev.ID, ev.Type, ev.Timestamp, ev.Data)
		w.WriteHeader(http.StatusNoContent)
	})
	verifier, _ := webhook.NewVerifier([]string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"})
	http.Handle("POST /webhooks", webhook.Middleware(verifier)(handler))
}

// Several secrets during a rotation, a body limit, and rejections logged.
func ExampleWithErrorHandler() {
	verifier, err := webhook.NewVerifier([]string{
		"whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD", // new
		"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", // old, until every sender has the new one
	})
	if err != nil {
		log.Fatal(err)
	}
	verify := webhook.Middleware(verifier,
		webhook.WithMaxBodyBytes(512<<10),
		webhook.WithErrorHandler(func(w http.ResponseWriter, r *http.Request, status int, err error) {
			log.Printf("refused webhook from %s: %v", r.RemoteAddr, err) // never contains a secret
			http.Error(w, http.StatusText(status), status)
		}))
	_ = verify
}

// A MemoryDeduplicator remembers ids for one process; keep them as long as the
// sender retries.
func ExampleNewMemoryDeduplicator() {
	dedup := webhook.NewMemoryDeduplicator(100_000, 72*time.Hour)
	verifier, _ := webhook.NewVerifier([]string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"})
	_ = webhook.Middleware(verifier, webhook.WithDeduplicator(dedup))
}
