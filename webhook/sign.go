package webhook

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Header names (Standard Webhooks 1.0). http.Header canonicalises them on Set, and
// the names are case-insensitive on the wire.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// Signer signs webhooks with one or more keys. It holds no mutable state and is safe
// for concurrent use.
type Signer struct {
	keys []signingKey
}

type signingKey struct {
	hmac []byte             // set for whsec_ secrets
	priv ed25519.PrivateKey // set for whsk_ keys
}

// NewSigner returns a Signer for the given secrets, newest first. Each is a
// "whsec_" HMAC secret (at least 24 bytes; raw base64 without the prefix is accepted
// too) or a "whsk_" Ed25519 private key. More than one secret is for rotation:
// every webhook then carries one signature per secret, so receivers that know
// either keep verifying. Errors wrap ErrInvalidSecret and never contain the secret.
func NewSigner(secrets ...string) (*Signer, error) {
	if len(secrets) == 0 {
		return nil, fmt.Errorf("%w: %w", ErrInvalidSecret, errNoSecrets)
	}
	s := &Signer{keys: make([]signingKey, 0, len(secrets))}
	for i, secret := range secrets {
		var k signingKey
		switch {
		case strings.HasPrefix(secret, PrivateKeyPrefix):
			priv, reason := decodePrivateKey(secret)
			if reason != "" {
				return nil, secretError(i, len(secrets), reason)
			}
			k.priv = priv
		case strings.HasPrefix(secret, PublicKeyPrefix):
			return nil, secretError(i, len(secrets), "a "+PublicKeyPrefix+" public key cannot sign; use the matching "+PrivateKeyPrefix+" private key")
		default:
			b, reason := decodeHMACSecret(secret)
			if reason != "" {
				return nil, secretError(i, len(secrets), reason)
			}
			if len(b) < minSigningSecretSize {
				return nil, secretError(i, len(secrets), fmt.Sprintf("a signing secret needs at least %d bytes, this one has %d", minSigningSecretSize, len(b)))
			}
			k.hmac = b
		}
		s.keys = append(s.keys, k)
	}
	return s, nil
}

// Sign returns the webhook-signature header value for one attempt: one
// "v1,<base64>" (HMAC) or "v1a,<base64>" (Ed25519) entry per secret, in the order
// the secrets were given, separated by spaces. The timestamp is truncated to whole
// seconds, as it is sent. The id must not contain '.', which would make the signed
// content ambiguous; hookd's ids never do.
func (s *Signer) Sign(id string, timestamp time.Time, body []byte) string {
	return s.sign(id, strconv.FormatInt(timestamp.Unix(), 10), body)
}

func (s *Signer) sign(id, ts string, body []byte) string {
	var msg []byte // built only if an Ed25519 key needs it
	var b strings.Builder
	for i, k := range s.keys {
		if i > 0 {
			b.WriteByte(' ')
		}
		if k.priv != nil {
			if msg == nil {
				msg = signedContent(id, ts, body)
			}
			b.WriteString(VersionEd25519 + ",")
			b.WriteString(base64.StdEncoding.EncodeToString(ed25519.Sign(k.priv, msg)))
			continue
		}
		b.WriteString(VersionHMAC + ",")
		b.WriteString(base64.StdEncoding.EncodeToString(hmacSHA256(k.hmac, id, ts, body)))
	}
	return b.String()
}

// Headers returns webhook-id, webhook-timestamp (Unix seconds) and
// webhook-signature for one attempt, ready to copy onto an outgoing request.
func (s *Signer) Headers(id string, timestamp time.Time, body []byte) http.Header {
	ts := strconv.FormatInt(timestamp.Unix(), 10)
	h := make(http.Header, 3)
	h.Set(HeaderID, id)
	h.Set(HeaderTimestamp, ts)
	h.Set(HeaderSignature, s.sign(id, ts, body))
	return h
}

// String describes the signer without its secrets, so that logging one by accident
// (fmt's %v and %+v) leaks nothing.
func (s *Signer) String() string {
	versions := make([]string, len(s.keys))
	for i, k := range s.keys {
		versions[i] = VersionHMAC
		if k.priv != nil {
			versions[i] = VersionEd25519
		}
	}
	return "webhook.Signer{" + strings.Join(versions, " ") + "}"
}

// GoString keeps %#v from printing the secrets.
func (s *Signer) GoString() string { return s.String() }

func signedContent(id, ts string, body []byte) []byte {
	msg := make([]byte, 0, len(id)+len(ts)+2+len(body))
	msg = append(msg, id...)
	msg = append(msg, '.')
	msg = append(msg, ts...)
	msg = append(msg, '.')
	return append(msg, body...)
}

// hmacSHA256 writes the signed content piecewise so large bodies are not copied.
func hmacSHA256(key []byte, id, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}
