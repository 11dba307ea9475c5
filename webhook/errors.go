package webhook

import "errors"

// Sentinel errors. Errors returned by this package wrap exactly one of them, with
// details appended, so use errors.Is rather than comparing messages.
var (
	// ErrMissingHeader: webhook-id, webhook-timestamp or webhook-signature is absent or empty.
	ErrMissingHeader = errors.New("webhook: missing header")
	// ErrMalformedTimestamp: webhook-timestamp is not a decimal count of Unix seconds.
	ErrMalformedTimestamp = errors.New("webhook: malformed timestamp")
	// ErrTimestampTooOld: the timestamp is further in the past than the tolerance allows.
	ErrTimestampTooOld = errors.New("webhook: timestamp too old")
	// ErrTimestampTooNew: the timestamp is further in the future than the tolerance allows.
	ErrTimestampTooNew = errors.New("webhook: timestamp too new")
	// ErrMalformedSignature: webhook-signature holds no well-formed entry of a known
	// version (v1 or v1a). Malformed entries next to a well-formed one are skipped.
	ErrMalformedSignature = errors.New("webhook: malformed signature header")
	// ErrNoMatchingSignature: no entry verifies under any of the verifier's keys.
	ErrNoMatchingSignature = errors.New("webhook: no matching signature")
	// ErrInvalidSecret: a secret or key given to NewSigner, NewVerifier or PublicKey
	// cannot be used.
	ErrInvalidSecret = errors.New("webhook: invalid secret")
)
