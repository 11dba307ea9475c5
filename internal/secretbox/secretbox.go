// Package secretbox encrypts signing secrets at rest with AES-256-GCM, so a
// copy of the database alone does not let anyone forge webhooks. Values
// written before encryption was turned on stay readable (they have no
// prefix), so an operator can enable it on an existing installation.
package secretbox

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

const prefix = "enc:v1:"

// Box seals and opens secrets. The zero of *Box (nil) stores plain text.
type Box struct {
	aead cipher.AEAD
}

// New derives the AES-256 key from key: 32 bytes given as base64, or else
// any passphrase of at least 16 characters (hashed with SHA-256).
func New(key string) (*Box, error) {
	var k []byte
	if b, err := base64.StdEncoding.DecodeString(key); err == nil && len(b) == 32 {
		k = b
	} else if len(key) >= 16 {
		sum := sha256.Sum256([]byte(key))
		k = sum[:]
	} else {
		return nil, errors.New("encryption key: give 32 bytes in base64 or a passphrase of at least 16 characters")
	}
	block, err := aes.NewCipher(k)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Box{aead: aead}, nil
}

// Seal encrypts plain; a nil Box returns it unchanged.
func (b *Box) Seal(plain string) (string, error) {
	if b == nil {
		return plain, nil
	}
	nonce := make([]byte, b.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	sealed := b.aead.Seal(nonce, nonce, []byte(plain), nil)
	return prefix + base64.StdEncoding.EncodeToString(sealed), nil
}

// Open decrypts a value from Seal. Plain values pass through; an encrypted
// value without a Box, or with the wrong key, is an error.
func (b *Box) Open(stored string) (string, error) {
	rest, ok := strings.CutPrefix(stored, prefix)
	if !ok {
		return stored, nil
	}
	if b == nil {
		return "", errors.New("secret is encrypted at rest: start hookd with --encryption-key")
	}
	raw, err := base64.StdEncoding.DecodeString(rest)
	if err != nil || len(raw) < b.aead.NonceSize() {
		return "", errors.New("secret: malformed encrypted value")
	}
	plain, err := b.aead.Open(nil, raw[:b.aead.NonceSize()], raw[b.aead.NonceSize():], nil)
	if err != nil {
		return "", fmt.Errorf("secret: cannot decrypt (wrong --encryption-key?)")
	}
	return string(plain), nil
}
