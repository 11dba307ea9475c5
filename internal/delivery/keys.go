package delivery

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/webhook"
)

// Keys turns a project's active signing secrets into a webhook.Signer,
// caching it briefly: at thousands of deliveries per second the secrets
// table would otherwise be read once per request.
type Keys struct {
	store store.Store
	// Open decrypts a secret as stored; nil when secrets are stored plain.
	open func(string) (string, error)
	ttl  time.Duration

	mu    sync.Mutex
	cache map[string]keyEntry
}

type keyEntry struct {
	signer *webhook.Signer
	until  time.Time
}

// NewKeys returns Keys reading from s. open decrypts stored secrets (nil:
// stored plain). ttl bounds how long a rotation on another node may take to
// be seen here; rotations on this node call Invalidate and are seen at once.
func NewKeys(s store.Store, open func(string) (string, error), ttl time.Duration) *Keys {
	return &Keys{store: s, open: open, ttl: ttl, cache: make(map[string]keyEntry)}
}

// ErrNoSecret: the project has no active signing secret.
var ErrNoSecret = errors.New("project has no active signing secret")

// Signer returns the signer for projectID at now: every active secret,
// newest first.
func (k *Keys) Signer(ctx context.Context, projectID string, now time.Time) (*webhook.Signer, error) {
	k.mu.Lock()
	e, ok := k.cache[projectID]
	k.mu.Unlock()
	if ok && now.Before(e.until) {
		return e.signer, nil
	}
	secrets, err := k.store.ActiveSecrets(ctx, projectID, now)
	if err != nil {
		return nil, err
	}
	if len(secrets) == 0 {
		return nil, ErrNoSecret
	}
	values := make([]string, 0, len(secrets))
	until := now.Add(k.ttl)
	for _, s := range secrets {
		v := s.Value
		if k.open != nil {
			if v, err = k.open(v); err != nil {
				return nil, err
			}
		}
		values = append(values, v)
		// An expiring secret must stop signing exactly when it expires.
		if !s.ExpiresAt.IsZero() && s.ExpiresAt.Before(until) {
			until = s.ExpiresAt
		}
	}
	signer, err := webhook.NewSigner(values...)
	if err != nil {
		return nil, err
	}
	k.mu.Lock()
	k.cache[projectID] = keyEntry{signer: signer, until: until}
	k.mu.Unlock()
	return signer, nil
}

// Invalidate forgets the cached signer of projectID (after a rotation).
func (k *Keys) Invalidate(projectID string) {
	k.mu.Lock()
	delete(k.cache, projectID)
	k.mu.Unlock()
}
