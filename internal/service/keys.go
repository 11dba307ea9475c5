package service

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"math/big"
	"strings"
	"sync"
	"time"

	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/store"
)

// ProjectKeyPrefix starts every project API key; admin keys start with
// AdminKeyPrefix. The prefix lets secret scanners recognise leaked keys.
const (
	ProjectKeyPrefix = "hk_"
	AdminKeyPrefix   = "hk_adm_"
)

// MaxKeyLen bounds the key hashed per request.
const MaxKeyLen = 512

// HashKey is how API keys are stored and looked up: the SHA-256 of the key.
// A fast hash is enough because keys carry 256 random bits.
func HashKey(key string) []byte {
	sum := sha256.Sum256([]byte(key))
	return sum[:]
}

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// keyRandomChars is how many base62 digits hold 256 bits (62^43 > 2^256).
const keyRandomChars = 43

// NewKey returns prefix followed by 32 random bytes in base62, e.g.
// "hk_adm_…" for admin keys and "hk_…" for project keys. Base62 keeps the
// key one word, so a double click selects all of it.
func NewKey(prefix string) string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails; it aborts the program instead
	n := new(big.Int).SetBytes(b[:])
	out := make([]byte, keyRandomChars)
	base := big.NewInt(62)
	mod := new(big.Int)
	for i := keyRandomChars - 1; i >= 0; i-- {
		n.DivMod(n, base, mod)
		out[i] = base62[mod.Int64()]
	}
	return prefix + string(out)
}

// displayPrefix is the part of a key that may be shown again after
// creation: enough to tell keys apart, far too little to guess the rest.
func displayPrefix(key string) string {
	const shown = 6
	i := strings.LastIndexByte(key, '_') + 1
	if i+shown > len(key) {
		return key[:i]
	}
	return key[:i+shown]
}

// Keys manages API keys: creating, listing and revoking a project's keys,
// and finding the key a request presents.
type Keys struct {
	c     *core
	cache *keyCache
}

// NewAPIKey is a key just created: Key is the secret itself, returned this
// once and never again.
type NewAPIKey struct {
	APIKey
	Key string
}

// Create makes a new key for project projectID.
func (s *Keys) Create(ctx context.Context, projectID string) (NewAPIKey, error) {
	now := s.c.now()
	key := NewKey(ProjectKeyPrefix)
	k := APIKey{
		ID:        ids.New(ids.APIKey, now),
		ProjectID: projectID,
		Hash:      HashKey(key),
		Prefix:    displayPrefix(key),
		CreatedAt: now,
	}
	if err := s.c.store.CreateAPIKey(ctx, k); err != nil {
		return NewAPIKey{}, translate(err, "project")
	}
	return NewAPIKey{APIKey: k, Key: key}, nil
}

// List lists the keys of project projectID, revoked ones included, oldest
// first.
func (s *Keys) List(ctx context.Context, projectID string, p Page) (List[APIKey], error) {
	return list(p, ids.APIKey, func(k APIKey) string { return k.ID }, func(sp store.Page) ([]APIKey, error) {
		return s.c.store.ListAPIKeys(ctx, projectID, sp)
	})
}

// Revoke revokes key id of project projectID. This node stops accepting it
// at once; other nodes sharing the database within KeyCacheTTL.
func (s *Keys) Revoke(ctx context.Context, projectID, id string) error {
	if !ids.Valid(ids.APIKey, id) {
		return NotFound("api key")
	}
	if err := s.c.store.RevokeAPIKey(ctx, projectID, id, s.c.now()); err != nil {
		return translate(err, "api key")
	}
	s.cache.forget(id)
	return nil
}

var errUnauthenticated = &Error{Code: CodeUnauthenticated, Message: "missing, invalid or revoked API key"}

// Authenticate finds the valid key whose secret is key, or fails with
// CodeUnauthenticated. An admin key has ProjectID "". Lookups are cached
// for KeyCacheTTL, so a busy publisher costs no query per event.
func (s *Keys) Authenticate(ctx context.Context, key string) (APIKey, error) {
	if key == "" || len(key) > MaxKeyLen {
		return APIKey{}, errUnauthenticated
	}
	h := HashKey(key)
	hk := [sha256.Size]byte(h)
	now := s.c.clock.Now()
	k, cached, gen := s.cache.get(hk, now)
	if !cached {
		var err error
		k, err = s.c.store.GetAPIKeyByHash(ctx, h)
		if errors.Is(err, store.ErrNotFound) {
			return APIKey{}, errUnauthenticated
		}
		if err != nil {
			return APIKey{}, translate(err, "api key")
		}
	}
	if !usable(k, h) {
		return APIKey{}, errUnauthenticated
	}
	if !cached {
		s.cache.put(hk, k, now, gen)
	}
	return k, nil
}

// usable tells whether key k, found by hash h, may be used. The lookup
// was by hash already; comparing again in constant time guards against a
// driver that matched loosely.
func usable(k APIKey, h []byte) bool {
	return subtle.ConstantTimeCompare(k.Hash, h) == 1 && k.RevokedAt.IsZero()
}

// recheckKey reads key k from the store again, past the cache, and fails
// with CodeUnauthenticated unless it may still be used: what a long-lived
// stream asks, so a revocation on any node ends it.
func (c *core) recheckKey(ctx context.Context, k APIKey) error {
	got, err := c.store.GetAPIKeyByHash(ctx, k.Hash)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return errUnauthenticated
	case err != nil:
		return translate(err, "api key")
	case !usable(got, k.Hash):
		return errUnauthenticated
	}
	return nil
}

// EnsureAdmin makes sure an admin key exists. With key set, that key is
// stored (once; a node starting at the same moment may store it first).
// Without, a key is generated when none exists yet and returned, for the
// caller to show once; generated is "" when nothing was made.
func (s *Keys) EnsureAdmin(ctx context.Context, key string) (generated string, err error) {
	if key == "" {
		n, err := s.c.store.CountAdminKeys(ctx)
		if err != nil || n > 0 {
			return "", err
		}
		generated = NewKey(AdminKeyPrefix)
		key = generated
	} else if _, err := s.c.store.GetAPIKeyByHash(ctx, HashKey(key)); !errors.Is(err, store.ErrNotFound) {
		return "", err // nil: stored already
	}
	now := s.c.now()
	err = s.c.store.CreateAPIKey(ctx, APIKey{
		ID: ids.New(ids.APIKey, now), Hash: HashKey(key), Prefix: displayPrefix(key), CreatedAt: now,
	})
	switch {
	case errors.Is(err, store.ErrConflict):
		return "", nil // another node starting at the same moment stored it
	case err != nil:
		return "", err
	}
	return generated, nil
}

// keyCache remembers recent key lookups. Only valid keys are cached, so a
// flood of wrong keys cannot fill it.
type keyCache struct {
	ttl time.Duration
	max int

	mu      sync.Mutex
	entries map[[sha256.Size]byte]cachedKey
	// gen counts revocations. A lookup that started before one may have
	// read the key still valid, so its result is not cached.
	gen uint64
}

type cachedKey struct {
	key     APIKey
	expires time.Time
}

func newKeyCache(ttl time.Duration) *keyCache {
	return &keyCache{ttl: ttl, max: 10000, entries: make(map[[sha256.Size]byte]cachedKey)}
}

// get returns the cached key, or the generation to pass to put after
// looking it up.
func (c *keyCache) get(h [sha256.Size]byte, now time.Time) (k APIKey, ok bool, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[h]
	if !ok {
		return APIKey{}, false, c.gen
	}
	if !now.Before(e.expires) {
		delete(c.entries, h)
		return APIKey{}, false, c.gen
	}
	return e.key, true, c.gen
}

func (c *keyCache) put(h [sha256.Size]byte, k APIKey, now time.Time, gen uint64) {
	if c.ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if len(c.entries) >= c.max {
		// Dropping everything is crude but bounded; a full cache only
		// means more database lookups for one TTL.
		clear(c.entries)
	}
	c.entries[h] = cachedKey{key: k, expires: now.Add(c.ttl)}
}

// forget drops the key with this id, so a revocation is effective at once
// on this node.
func (c *keyCache) forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for h, e := range c.entries {
		if e.key.ID == id {
			delete(c.entries, h)
		}
	}
}
