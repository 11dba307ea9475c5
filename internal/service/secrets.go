package service

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/webhook"
)

// Signature schemes a project can sign with.
const (
	SchemeHMAC    = "hmac"    // Standard Webhooks v1 (whsec_)
	SchemeEd25519 = "ed25519" // Standard Webhooks v1a (whsk_/whpk_)
)

// MaxGracePeriod bounds how long an old secret keeps signing after a
// rotation.
const MaxGracePeriod = 7 * 24 * time.Hour

func parseScheme(v, dflt string) (string, error) {
	switch v {
	case "":
		return dflt, nil
	case SchemeHMAC, SchemeEd25519:
		return v, nil
	}
	return "", Invalid("signature_scheme", `must be "hmac" or "ed25519"`)
}

// schemeOf tells the scheme from the secret's prefix.
func schemeOf(value string) string {
	if strings.HasPrefix(value, "whsk_") {
		return SchemeEd25519
	}
	return SchemeHMAC
}

// Secrets reveals and rotates a project's signing secret. Secrets are
// sealed (Config.Seal) before they are stored and opened when read back;
// no error the service returns contains one.
type Secrets struct {
	c *core
}

// Secret is a project's current signing secret, as shown to its owner.
type Secret struct {
	// Secret is the whsec_… (HMAC) or whsk_… (Ed25519 private key) value.
	Secret string
	// PublicKey is the whpk_… receivers verify with; Ed25519 only.
	PublicKey string
}

func reveal(value string) (Secret, error) {
	out := Secret{Secret: value}
	if schemeOf(value) == SchemeEd25519 {
		pub, err := webhook.PublicKey(value)
		if err != nil {
			// Never wrap the value itself into the error: it is logged.
			return Secret{}, fmt.Errorf("derive public key of stored ed25519 secret: %T", err)
		}
		out.PublicKey = pub
	}
	return out, nil
}

// Reveal returns the newest active secret of project projectID.
func (s *Secrets) Reveal(ctx context.Context, projectID string) (Secret, error) {
	value, err := s.current(ctx, projectID, s.c.now())
	if err != nil {
		return Secret{}, err
	}
	if value == "" {
		return Secret{}, NotFound("secret")
	}
	out, err := reveal(value)
	if err == nil {
		s.c.record(ctx, projectID, ActionSecretRevealed, "", "")
	}
	return out, err
}

// current is the newest active secret, opened; "" when there is none.
func (s *Secrets) current(ctx context.Context, projectID string, now time.Time) (string, error) {
	active, err := s.c.store.ActiveSecrets(ctx, projectID, now)
	if err != nil {
		return "", translate(err, "project")
	}
	if len(active) == 0 {
		return "", nil
	}
	value, err := s.c.open(active[0].Value)
	if err != nil {
		// Wrong or missing encryption key: an operator problem.
		return "", fmt.Errorf("open stored secret %s: %w", active[0].ID, err)
	}
	return value, nil
}

// RotateSecret is the input of Secrets.Rotate.
type RotateSecret struct {
	// GracePeriodSeconds is how long the old secret keeps signing beside
	// the new one: 0 (it stops at once) to MaxGracePeriod in seconds.
	GracePeriodSeconds int64
	// SignatureScheme of the new secret: "hmac" or "ed25519"; empty keeps
	// the project's current scheme.
	SignatureScheme string
}

// Validate checks the input, naming the field at fault.
func (in RotateSecret) Validate() error {
	maxSeconds := int64(MaxGracePeriod / time.Second)
	if in.GracePeriodSeconds < 0 || in.GracePeriodSeconds > maxSeconds {
		return Invalid("grace_period_seconds", "must be from 0 to "+strconv.FormatInt(maxSeconds, 10)+" (7 days)")
	}
	_, err := parseScheme(in.SignatureScheme, SchemeHMAC)
	return err
}

// Rotate makes a new signing secret for project projectID and returns it.
// The old one keeps signing for the grace period, then expires. OnRotate
// is told, so cached signers pick the new secret up.
func (s *Secrets) Rotate(ctx context.Context, projectID string, in RotateSecret) (Secret, error) {
	if err := in.Validate(); err != nil {
		return Secret{}, err
	}
	now := s.c.now()
	current, err := s.current(ctx, projectID, now)
	if err != nil {
		return Secret{}, err
	}
	// Without an explicit scheme the project keeps the one it has.
	value, sealed, err := s.newSecret(in.SignatureScheme, schemeOf(current))
	if err != nil {
		return Secret{}, err
	}
	sec := store.Secret{ID: ids.New(ids.Secret, now), ProjectID: projectID, Value: sealed, CreatedAt: now}
	grace := time.Duration(in.GracePeriodSeconds) * time.Second
	if err := s.c.store.RotateSecret(ctx, sec, now.Add(grace)); err != nil {
		return Secret{}, translate(err, "project")
	}
	s.c.onRotate(projectID)
	s.c.record(ctx, projectID, ActionSecretRotated, sec.ID, "grace "+grace.String())
	return reveal(value)
}

// newSecret makes a signing secret of the requested scheme (fallback when
// the request names none) and returns it plain, for the one answer that
// shows it, and sealed, for the store.
func (s *Secrets) newSecret(requested, fallback string) (value, sealed string, err error) {
	scheme, err := parseScheme(requested, fallback)
	if err != nil {
		return "", "", err
	}
	if scheme == SchemeEd25519 {
		value, _, err = webhook.NewKeyPair()
	} else {
		value, err = webhook.NewSecret()
	}
	if err != nil {
		return "", "", err
	}
	if sealed, err = s.c.seal(value); err != nil {
		return "", "", fmt.Errorf("seal new secret: %w", err)
	}
	return value, sealed, nil
}

// GraceEnds is when the previous signing secrets of project projectID
// stop signing beside the current one — the end of a rotation's grace
// period; zero when only the current secret signs.
func (s *Secrets) GraceEnds(ctx context.Context, projectID string) (time.Time, error) {
	active, err := s.c.store.ActiveSecrets(ctx, projectID, s.c.now())
	if err != nil {
		return time.Time{}, translate(err, "project")
	}
	var end time.Time
	for i, a := range active {
		if i > 0 && a.ExpiresAt.After(end) {
			end = a.ExpiresAt
		}
	}
	return end, nil
}
