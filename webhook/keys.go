package webhook

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// Prefixes that mark what kind of key a string holds (Standard Webhooks 1.0).
const (
	SecretPrefix     = "whsec_" // symmetric HMAC-SHA256 secret, signs "v1"
	PrivateKeyPrefix = "whsk_"  // Ed25519 private key, signs "v1a"
	PublicKeyPrefix  = "whpk_"  // Ed25519 public key, verifies "v1a"
)

// Signature versions as they appear before the comma in webhook-signature entries.
const (
	VersionHMAC    = "v1"
	VersionEd25519 = "v1a"
)

const (
	// secretSize is what NewSecret generates: 256 bits, the HMAC-SHA256 block-size sweet spot.
	secretSize = 32
	// minSigningSecretSize is the spec's floor ("at least 24 bytes"); verifiers accept
	// shorter secrets because they must work with whatever the sender chose.
	minSigningSecretSize = 24
)

// NewSecret returns a new HMAC signing secret: "whsec_" followed by the standard
// base64 encoding of 32 random bytes.
func NewSecret() (string, error) {
	b := make([]byte, secretSize)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("webhook: generating secret: %w", err)
	}
	return SecretPrefix + base64.StdEncoding.EncodeToString(b), nil
}

// NewKeyPair returns a new Ed25519 key pair as Standard Webhooks strings. The private
// key is "whsk_" + base64 of the 64-byte seed-and-public-key form used by Go's
// crypto/ed25519 and libsodium; the public key is "whpk_" + base64 of the 32-byte key.
func NewKeyPair() (private, public string, err error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", "", fmt.Errorf("webhook: generating key pair: %w", err)
	}
	return encodePrivateKey(priv), encodePublicKey(pub), nil
}

// PublicKey derives the "whpk_" public key that verifies signatures made with the
// "whsk_" private key.
func PublicKey(private string) (string, error) {
	if !strings.HasPrefix(private, PrivateKeyPrefix) {
		return "", fmt.Errorf("%w: a private key starts with %q", ErrInvalidSecret, PrivateKeyPrefix)
	}
	priv, reason := decodePrivateKey(private)
	if reason != "" {
		return "", fmt.Errorf("%w: %s", ErrInvalidSecret, reason)
	}
	return encodePublicKey(priv.Public().(ed25519.PublicKey)), nil
}

func encodePrivateKey(k ed25519.PrivateKey) string {
	return PrivateKeyPrefix + base64.StdEncoding.EncodeToString(k)
}

func encodePublicKey(k ed25519.PublicKey) string {
	return PublicKeyPrefix + base64.StdEncoding.EncodeToString(k)
}

// decodeBase64 accepts padded and unpadded standard base64: secrets are pasted by
// hand and the reference libraries are not picky about padding.
func decodeBase64(s string) ([]byte, bool) {
	if b, err := base64.StdEncoding.Strict().DecodeString(s); err == nil {
		return b, true
	}
	if b, err := base64.RawStdEncoding.Strict().DecodeString(s); err == nil {
		return b, true
	}
	return nil, false
}

// The decode functions return a reason instead of an error so that callers can add
// which of several secrets was bad. A reason never contains key material.

func decodeHMACSecret(s string) ([]byte, string) {
	body, prefixed := strings.CutPrefix(s, SecretPrefix)
	b, ok := decodeBase64(body)
	switch {
	case !ok && prefixed:
		return nil, "the part after " + SecretPrefix + " is not valid base64"
	case !ok:
		return nil, fmt.Sprintf("not a %s, %s or %s key and not valid base64", SecretPrefix, PrivateKeyPrefix, PublicKeyPrefix)
	case len(b) == 0:
		return nil, "the secret is empty"
	}
	return b, ""
}

func decodePrivateKey(s string) (ed25519.PrivateKey, string) {
	b, ok := decodeBase64(strings.TrimPrefix(s, PrivateKeyPrefix))
	if !ok {
		return nil, "the part after " + PrivateKeyPrefix + " is not valid base64"
	}
	switch len(b) {
	case ed25519.SeedSize:
		return ed25519.NewKeyFromSeed(b), ""
	case ed25519.PrivateKeySize:
		priv := ed25519.NewKeyFromSeed(b[:ed25519.SeedSize])
		// A 64-byte key carries its public half; if it disagrees with the seed,
		// receivers would be handed a public key that never verifies.
		if !priv.Public().(ed25519.PublicKey).Equal(ed25519.PublicKey(b[ed25519.SeedSize:])) {
			return nil, "the public half of the " + PrivateKeyPrefix + " key does not match its seed"
		}
		return priv, ""
	default:
		return nil, fmt.Sprintf("a %s key decodes to %d or %d bytes, not %d", PrivateKeyPrefix, ed25519.SeedSize, ed25519.PrivateKeySize, len(b))
	}
}

func decodePublicKey(s string) (ed25519.PublicKey, string) {
	b, ok := decodeBase64(strings.TrimPrefix(s, PublicKeyPrefix))
	if !ok {
		return nil, "the part after " + PublicKeyPrefix + " is not valid base64"
	}
	if len(b) != ed25519.PublicKeySize {
		return nil, fmt.Sprintf("a %s key decodes to %d bytes, not %d", PublicKeyPrefix, ed25519.PublicKeySize, len(b))
	}
	return ed25519.PublicKey(b), ""
}

// secretError wraps ErrInvalidSecret, numbering the secret only when there are
// several so the message points at the right one without echoing it.
func secretError(i, n int, reason string) error {
	if n > 1 {
		return fmt.Errorf("%w (%d of %d): %s", ErrInvalidSecret, i+1, n, reason)
	}
	return fmt.Errorf("%w: %s", ErrInvalidSecret, reason)
}

var errNoSecrets = errors.New("at least one secret is required")
