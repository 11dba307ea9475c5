package api

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/webhook"
)

// Signature schemes a project can sign with.
const (
	schemeHMAC    = "hmac"    // Standard Webhooks v1 (whsec_)
	schemeEd25519 = "ed25519" // Standard Webhooks v1a (whsk_/whpk_)
)

// maxGracePeriod bounds how long an old secret keeps signing after rotation.
const maxGracePeriod = 7 * 24 * time.Hour

func parseScheme(v, dflt string) (string, error) {
	switch v {
	case "":
		return dflt, nil
	case schemeHMAC, schemeEd25519:
		return v, nil
	}
	return "", invalid("signature_scheme", `must be "hmac" or "ed25519"`)
}

// schemeOf tells the scheme from the stored secret's prefix.
func schemeOf(value string) string {
	if strings.HasPrefix(value, "whsk_") {
		return schemeEd25519
	}
	return schemeHMAC
}

func newSecretValue(scheme string) (string, error) {
	if scheme == schemeEd25519 {
		priv, _, err := webhook.NewKeyPair()
		return priv, err
	}
	return webhook.NewSecret()
}

type secretJSON struct {
	Secret    string `json:"secret"`
	PublicKey string `json:"public_key,omitempty"` // ed25519 only: what receivers verify with
}

func renderSecret(value string) (secretJSON, error) {
	out := secretJSON{Secret: value}
	if schemeOf(value) == schemeEd25519 {
		pub, err := webhook.PublicKey(value)
		if err != nil {
			// Never wrap the value itself into the error: it is logged.
			return secretJSON{}, fmt.Errorf("derive public key of stored ed25519 secret: %T", err)
		}
		out.PublicKey = pub
	}
	return out, nil
}

func (s *server) getSecret(w http.ResponseWriter, r *http.Request, c call) error {
	active, err := s.store.ActiveSecrets(r.Context(), c.projectID, s.now())
	if err != nil {
		return err
	}
	if len(active) == 0 {
		return notFound("secret")
	}
	value, err := s.open(active[0].Value)
	if err != nil {
		// Wrong or missing encryption key: an operator problem.
		return fmt.Errorf("open stored secret %s: %w", active[0].ID, err)
	}
	out, err := renderSecret(value)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

type rotateRequest struct {
	GracePeriodSeconds int64  `json:"grace_period_seconds"`
	SignatureScheme    string `json:"signature_scheme"`
}

func (s *server) rotateSecret(w http.ResponseWriter, r *http.Request, c call) error {
	var in rotateRequest
	if err := decodeBody(w, r, s.maxBody, bodyOptional, &in); err != nil {
		return err
	}
	if in.GracePeriodSeconds < 0 || in.GracePeriodSeconds > int64(maxGracePeriod/time.Second) {
		return invalid("grace_period_seconds", fmt.Sprintf("must be from 0 to %d (7 days)", int64(maxGracePeriod/time.Second)))
	}
	now := s.now()
	// Without an explicit scheme the project keeps the one it has.
	current := schemeHMAC
	active, err := s.store.ActiveSecrets(r.Context(), c.projectID, now)
	if err != nil {
		return err
	}
	if len(active) > 0 {
		v, err := s.open(active[0].Value)
		if err != nil {
			return fmt.Errorf("open stored secret %s: %w", active[0].ID, err)
		}
		current = schemeOf(v)
	}
	value, sealed, err := s.newSecret(in.SignatureScheme, current)
	if err != nil {
		return err
	}
	sec := store.Secret{ID: ids.New(ids.Secret, now), ProjectID: c.projectID, Value: sealed, CreatedAt: now}
	grace := time.Duration(in.GracePeriodSeconds) * time.Second
	if err := s.store.RotateSecret(r.Context(), sec, now.Add(grace)); err != nil {
		return err
	}
	s.onRotate(c.projectID)
	out, err := renderSecret(value)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// newSecret makes a signing secret of the requested scheme (fallback when
// the request names none) and returns it plain, for the one response that
// shows it, and sealed, for the store.
func (s *server) newSecret(requested, fallback string) (value, sealed string, err error) {
	scheme, err := parseScheme(requested, fallback)
	if err != nil {
		return "", "", err
	}
	if value, err = newSecretValue(scheme); err != nil {
		return "", "", err
	}
	if sealed, err = s.seal(value); err != nil {
		return "", "", fmt.Errorf("seal new secret: %w", err)
	}
	return value, sealed, nil
}
