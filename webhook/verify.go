package webhook

import (
	"crypto/ed25519"
	"crypto/hmac"
	"encoding/base64"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// DefaultTolerance is how far a webhook-timestamp may be from the verifier's clock,
// in either direction, before the webhook is rejected.
const DefaultTolerance = 5 * time.Minute

const (
	// maxSignatures bounds the work one request can cause: every Ed25519 entry costs
	// a signature verification per public key. Senders add one entry per active key,
	// so a real header has a handful.
	maxSignatures = 64
	// maxTimestampDigits keeps timestamps far from int64 and time.Time overflow.
	maxTimestampDigits = 18
	// maxReported bounds attacker-controlled text copied into error messages.
	maxReported = 32
)

// Verifier checks webhooks against one or more keys. It holds no mutable state and
// is safe for concurrent use.
type Verifier struct {
	hmacKeys  [][]byte
	pubKeys   []ed25519.PublicKey
	tolerance time.Duration
	now       func() time.Time
}

// Option configures a Verifier.
type Option func(*Verifier)

// WithTolerance sets how far the webhook-timestamp may be from now, in either
// direction (default DefaultTolerance), counted in whole seconds. Zero accepts only
// the current second; NewVerifier rejects a negative tolerance.
func WithTolerance(d time.Duration) Option {
	return func(v *Verifier) { v.tolerance = d }
}

// WithNow sets the clock timestamps are checked against (default time.Now), for
// tests and for checking a captured request at the moment it was received.
func WithNow(now func() time.Time) Option {
	return func(v *Verifier) { v.now = now }
}

// NewVerifier returns a Verifier that accepts a webhook signed by any of keys. Each
// key is a "whsec_" HMAC secret (raw base64 without the prefix is accepted too) or a
// "whpk_" Ed25519 public key. Pass several during a rotation. Errors wrap
// ErrInvalidSecret and never contain the key.
func NewVerifier(keys []string, opts ...Option) (*Verifier, error) {
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: %w", ErrInvalidSecret, errNoSecrets)
	}
	v := &Verifier{tolerance: DefaultTolerance, now: time.Now}
	for i, key := range keys {
		switch {
		case strings.HasPrefix(key, PublicKeyPrefix):
			pub, reason := decodePublicKey(key)
			if reason != "" {
				return nil, secretError(i, len(keys), reason)
			}
			v.pubKeys = append(v.pubKeys, pub)
		case strings.HasPrefix(key, PrivateKeyPrefix):
			// Accepting it would work, but it would teach receivers to hold the
			// key that forges webhooks.
			return nil, secretError(i, len(keys), "a "+PrivateKeyPrefix+" private key belongs to the sender; verify with its "+PublicKeyPrefix+" public key (see PublicKey)")
		default:
			b, reason := decodeHMACSecret(key)
			if reason != "" {
				return nil, secretError(i, len(keys), reason)
			}
			v.hmacKeys = append(v.hmacKeys, b)
		}
	}
	for _, opt := range opts {
		opt(v)
	}
	if v.tolerance < 0 {
		return nil, fmt.Errorf("webhook: tolerance must not be negative, got %s", v.tolerance)
	}
	if v.now == nil {
		v.now = time.Now
	}
	return v, nil
}

// Verify checks a received webhook: body must be the request body exactly as read
// from the wire, and h the request headers (names are case-insensitive). Several
// webhook-signature header lines are treated as one space-separated list.
func (v *Verifier) Verify(body []byte, h http.Header) error {
	id, ts, sig := headerValues(h, HeaderID), headerValues(h, HeaderTimestamp), headerValues(h, HeaderSignature)
	first := func(vs []string) string {
		if len(vs) == 0 {
			return ""
		}
		return vs[0]
	}
	return v.VerifyValues(first(id), first(ts), strings.Join(sig, " "), body)
}

// headerValues also finds lowercase keys, which http.Header.Values misses: maps
// built by hand from serverless or proxy events often use the wire spelling.
func headerValues(h http.Header, name string) []string {
	if vs := h.Values(name); len(vs) > 0 {
		return vs
	}
	return h[name]
}

// VerifyValues checks a webhook given the three header values and the raw body. It
// returns nil if the timestamp is within tolerance and at least one well-formed
// entry of the signature list verifies under one of the keys; malformed entries and
// unknown versions next to it are ignored. Otherwise the error wraps one of the
// package's sentinel errors.
func (v *Verifier) VerifyValues(id, timestamp, signature string, body []byte) error {
	for _, hv := range [...]struct{ name, value string }{
		{HeaderID, id}, {HeaderTimestamp, timestamp}, {HeaderSignature, signature},
	} {
		if hv.value == "" {
			return fmt.Errorf("%w %s", ErrMissingHeader, hv.name)
		}
	}
	if err := v.checkTimestamp(timestamp); err != nil {
		return err
	}
	sigs := parseSignatureHeader(signature)
	if err := sigs.err(); err != nil {
		return err
	}

	var macs [][]byte // one per HMAC key, computed on the first v1 entry
	var msg []byte    // signed content, built on the first v1a entry
	tried := false
	for _, s := range sigs.entries {
		switch s.version {
		case VersionHMAC:
			if len(v.hmacKeys) == 0 {
				continue
			}
			tried = true
			if macs == nil {
				macs = make([][]byte, len(v.hmacKeys))
				for i, k := range v.hmacKeys {
					macs[i] = hmacSHA256(k, id, timestamp, body)
				}
			}
			for _, m := range macs {
				if hmac.Equal(m, s.sig) {
					return nil
				}
			}
		case VersionEd25519:
			if len(v.pubKeys) == 0 {
				continue
			}
			tried = true
			if msg == nil {
				msg = signedContent(id, timestamp, body)
			}
			for _, pub := range v.pubKeys {
				if ed25519.Verify(pub, msg, s.sig) {
					return nil
				}
			}
		}
	}
	if !tried {
		// Well-formed signatures of a scheme this verifier has no key for: say so,
		// since "no match" alone reads like a wrong secret.
		have := "only " + PublicKeyPrefix + " public keys (v1a)"
		if len(v.pubKeys) == 0 {
			have = "only " + SecretPrefix + " secrets (v1)"
		}
		return fmt.Errorf("%w: the header has only %s signatures and the verifier has %s", ErrNoMatchingSignature, sigs.versions(), have)
	}
	return fmt.Errorf("%w: none of %d signature(s) verifies with the %d key(s) given; wrong secret, or the body, id or timestamp changed after signing", ErrNoMatchingSignature, len(sigs.entries), len(v.hmacKeys)+len(v.pubKeys))
}

// String describes the verifier without its keys.
func (v *Verifier) String() string {
	return fmt.Sprintf("webhook.Verifier{%d secret(s), %d public key(s), tolerance %s}", len(v.hmacKeys), len(v.pubKeys), v.tolerance)
}

// GoString keeps %#v from printing the secrets.
func (v *Verifier) GoString() string { return v.String() }

// checkTimestamp requires canonical decimal Unix seconds: the signed content uses
// the header text, and other libraries sign the number re-formatted, so "+1" or
// "007" would verify here and nowhere else.
func (v *Verifier) checkTimestamp(ts string) error {
	if len(ts) > maxTimestampDigits || (len(ts) > 1 && ts[0] == '0') {
		return fmt.Errorf("%w: %s is not Unix seconds", ErrMalformedTimestamp, quote(ts))
	}
	var secs int64
	for i := 0; i < len(ts); i++ {
		c := ts[i]
		if c < '0' || c > '9' {
			return fmt.Errorf("%w: %s is not Unix seconds", ErrMalformedTimestamp, quote(ts))
		}
		secs = secs*10 + int64(c-'0')
	}
	// Whole seconds on both sides, like the reference libraries, so a webhook
	// exactly at the edge of the window is judged the same everywhere. Seconds stay
	// far from overflow: secs < 10^18.
	now := v.now().Unix()
	limit := int64(v.tolerance / time.Second)
	signed := func() string { return time.Unix(secs, 0).UTC().Format(time.RFC3339) }
	if age := now - secs; age > limit {
		return fmt.Errorf("%w: signed at %s, %s before now (tolerance %s)", ErrTimestampTooOld, signed(), seconds(age), v.tolerance)
	}
	if ahead := secs - now; ahead > limit {
		return fmt.Errorf("%w: signed at %s, %s after now (tolerance %s); is a clock wrong?", ErrTimestampTooNew, signed(), seconds(ahead), v.tolerance)
	}
	return nil
}

// seconds formats a distance in seconds; beyond two days, in days, since a replayed
// or garbage timestamp can be centuries away.
func seconds(n int64) string {
	if n > 2*86400 {
		return fmt.Sprintf("%d days", n/86400)
	}
	return (time.Duration(n) * time.Second).String()
}

// signatureList is a parsed webhook-signature header.
type signatureList struct {
	entries   []signatureEntry // well-formed entries of known versions, in header order
	total     int              // entries in the header
	malformed int
	problem   string   // why the first malformed entry was rejected
	unknown   []string // distinct unknown versions, at most a few
	tooMany   bool
}

type signatureEntry struct {
	version string // VersionHMAC or VersionEd25519
	sig     []byte
}

// parseSignatureHeader splits a webhook-signature value into entries. It never
// fails: callers decide from the counts, because one good entry among bad ones is
// still a valid header.
func parseSignatureHeader(header string) signatureList {
	var l signatureList
	for i, field := range strings.Fields(header) {
		l.total++
		version, encoded, ok := strings.Cut(field, ",")
		if !ok || version == "" {
			l.reject(i, "not in version,signature form")
			continue
		}
		var size int
		switch version {
		case VersionHMAC:
			size = 32 // SHA-256
		case VersionEd25519:
			size = ed25519.SignatureSize
		default:
			if len(l.unknown) < 4 && !slices.Contains(l.unknown, version) {
				l.unknown = append(l.unknown, version)
			}
			continue
		}
		// Strict, because other libraries compare the base64 text: an encoding with
		// stray padding bits must not verify here alone.
		sig, err := base64.StdEncoding.Strict().DecodeString(encoded)
		switch {
		case err != nil:
			l.reject(i, version+" signature is not valid base64")
		case len(sig) != size:
			l.reject(i, fmt.Sprintf("%s signature is %d bytes, want %d", version, len(sig), size))
		case len(l.entries) == maxSignatures:
			l.tooMany = true
		default:
			l.entries = append(l.entries, signatureEntry{version: version, sig: sig})
		}
	}
	return l
}

func (l *signatureList) reject(i int, reason string) {
	if l.malformed == 0 {
		l.problem = fmt.Sprintf("entry %d: %s", i+1, reason)
	}
	l.malformed++
}

// err reports a header that cannot match anything, or is too big to try.
func (l *signatureList) err() error {
	switch {
	case l.tooMany:
		return fmt.Errorf("%w: more than %d signatures", ErrMalformedSignature, maxSignatures)
	case len(l.entries) > 0:
		return nil
	case l.malformed > 0:
		return fmt.Errorf("%w: %s (%d of %d entries malformed)", ErrMalformedSignature, l.problem, l.malformed, l.total)
	case len(l.unknown) > 0:
		quoted := make([]string, len(l.unknown))
		for i, u := range l.unknown {
			quoted[i] = quote(u)
		}
		return fmt.Errorf("%w: no %s or %s entry, only unsupported version(s) %s", ErrMalformedSignature, VersionHMAC, VersionEd25519, strings.Join(quoted, ", "))
	default:
		return fmt.Errorf("%w: no entries", ErrMalformedSignature)
	}
}

// versions names the versions present, for error messages.
func (l *signatureList) versions() string {
	var vs []string
	for _, e := range l.entries {
		if !slices.Contains(vs, e.version) {
			vs = append(vs, e.version)
		}
	}
	return strings.Join(vs, " and ")
}

// quote shortens and quotes text from the request for an error message.
func quote(s string) string {
	if len(s) > maxReported {
		return fmt.Sprintf("%q...", s[:maxReported])
	}
	return fmt.Sprintf("%q", s)
}
