package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/hookd/hookd/internal/store"
)

// HashKey is how API keys are stored and looked up: the SHA-256 of the key.
// A fast hash is enough because keys carry 256 random bits; it is exported
// so the app can seed the admin key.
func HashKey(key string) []byte {
	sum := sha256.Sum256([]byte(key))
	return sum[:]
}

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// keyRandomChars is how many base62 digits hold 256 bits (62^43 > 2^256).
const keyRandomChars = 43

// NewKey returns prefix followed by 32 random bytes in base62, e.g.
// "hk_adm_…" for admin keys and "hk_…" for project keys. Base62 keeps the key
// one word, so a double click selects all of it.
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

// displayPrefix is the part of a key that may be shown again after creation:
// enough to tell keys apart, far too little to guess the rest.
func displayPrefix(key string) string {
	const shown = 6
	i := strings.LastIndexByte(key, '_') + 1
	if i+shown > len(key) {
		return key[:i]
	}
	return key[:i+shown]
}

// maxKeyLen bounds the bearer token hashed per request.
const maxKeyLen = 512

// bearer extracts the key from "Authorization: Bearer <key>".
func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, key, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	key = strings.TrimSpace(key)
	if key == "" || len(key) > maxKeyLen {
		return "", false
	}
	return key, true
}

// keyCache remembers recent key lookups so that a busy publisher does not
// cost one extra query per event. Only valid keys are cached, so a flood of
// wrong keys cannot fill it.
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
	key     store.APIKey
	expires time.Time
}

func newKeyCache(ttl time.Duration) *keyCache {
	return &keyCache{ttl: ttl, max: 10000, entries: make(map[[sha256.Size]byte]cachedKey)}
}

// get returns the cached key, or the generation to pass to put after
// looking it up.
func (c *keyCache) get(h [sha256.Size]byte, now time.Time) (k store.APIKey, ok bool, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[h]
	if !ok {
		return store.APIKey{}, false, c.gen
	}
	if !now.Before(e.expires) {
		delete(c.entries, h)
		return store.APIKey{}, false, c.gen
	}
	return e.key, true, c.gen
}

func (c *keyCache) put(h [sha256.Size]byte, k store.APIKey, now time.Time, gen uint64) {
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

// authenticate finds the caller's key, or fails with 401.
func (s *server) authenticate(ctx context.Context, r *http.Request) (store.APIKey, error) {
	raw, ok := bearer(r)
	if !ok {
		return store.APIKey{}, errUnauthenticated
	}
	h := HashKey(raw)
	var hk [sha256.Size]byte
	copy(hk[:], h)
	now := s.clock.Now()
	k, cached, gen := s.keys.get(hk, now)
	if !cached {
		var err error
		k, err = s.store.GetAPIKeyByHash(ctx, h)
		if err != nil {
			if isNotFound(err) {
				return store.APIKey{}, errUnauthenticated
			}
			return store.APIKey{}, err
		}
	}
	// The lookup was by hash already; comparing again in constant time
	// guards against a driver that matched loosely.
	if subtle.ConstantTimeCompare(k.Hash, h) != 1 || !k.RevokedAt.IsZero() {
		return store.APIKey{}, errUnauthenticated
	}
	if !cached {
		s.keys.put(hk, k, now, gen)
	}
	return k, nil
}
