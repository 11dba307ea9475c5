// Package webhook signs and verifies webhooks in the Standard Webhooks 1.0 format
// (https://www.standardwebhooks.com). It is what hookd uses to sign deliveries and
// what receivers can use to check them; it imports only the Go standard library, so
// a receiver can depend on it without pulling in the rest of hookd.
//
// # Wire format
//
// A webhook is an HTTP POST with three headers:
//
//	webhook-id:        msg_p5jXN8AQM9LWM0D4loKWxJek   (same on every retry; use it to deduplicate)
//	webhook-timestamp: 1614265330                      (Unix seconds when this attempt was signed)
//	webhook-signature: v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=
//
// The signature covers "<webhook-id>.<webhook-timestamp>.<body>" over the exact body
// bytes. "v1," entries are HMAC-SHA256 with a shared "whsec_" secret; "v1a," entries
// are Ed25519 signatures made with a "whsk_" private key and checked with the matching
// "whpk_" public key, so a receiver holding only the public key cannot forge webhooks.
// The header may list several entries separated by spaces (one per signing key while
// a secret is being rotated); one matching entry is enough.
//
// # Sending
//
// Create a [Signer] once from the current secret (newest first when several sign
// during a rotation) and call [Signer.Headers] for each attempt with the event id,
// the time of the attempt and the body bytes that will be sent.
//
// # Receiving with Middleware
//
// [Middleware] does all of a receiver's checks for a net/http handler: it reads the
// body once with a limit, verifies it, refuses replays outside the tolerance,
// de-duplicates by webhook-id (with [WithDeduplicator]; [NewMemoryDeduplicator] for
// one process, a SQL table for several, see the example of [Deduplicator]), and
// hands the next handler the [Event] ([EventFromContext]) and the raw body:
//
//	verifier, err := webhook.NewVerifier([]string{os.Getenv("WEBHOOK_SECRET")})
//	if err != nil { ... }
//	verify := webhook.Middleware(verifier,
//		webhook.WithDeduplicator(webhook.NewMemoryDeduplicator(100_000, 72*time.Hour)))
//	http.Handle("POST /webhooks", verify(handler))
//
// A duplicate is answered 200 without calling the handler; a handler that answers
// outside 2xx, or panics, releases the id so the sender's retry is processed.
//
// # Receiving by hand: verify the raw body
//
// The most common way to break verification is to verify something other than the
// bytes that were received: decoding the JSON and encoding it again, letting a
// framework parse the body first, trimming whitespace or converting line endings all
// change the bytes, and the signature no longer matches. Read the body once into a
// []byte (with a size limit), pass exactly those bytes to [Verifier.Verify], and only
// then decode them:
//
//	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
//	if err != nil { ... }
//	if err := verifier.Verify(body, r.Header); err != nil {
//		http.Error(w, "invalid signature", http.StatusUnauthorized)
//		return
//	}
//	json.Unmarshal(body, &event)
//
// Verification also rejects timestamps more than [DefaultTolerance] (five minutes)
// away from the verifier's clock, which bounds how long a captured request can be
// replayed; inject the clock with [WithNow] to check a captured request later.
// Deliveries are at-least-once: the same webhook-id can arrive again, so process it
// idempotently.
//
// # Errors
//
// Every verification failure wraps one of the exported sentinel errors, so callers
// can branch with [errors.Is], and carries a message that is safe to print: it names
// what was wrong but never contains a secret.
package webhook
