package service

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

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
	c      *core
	cache  *keyCache
	signin *signinLimiter
}

// NewAPIKey is a key just created: Key is the secret itself, returned this
// once and never again.
type NewAPIKey struct {
	APIKey
	Key string
}

// CreateKey is the input of Keys.Create.
type CreateKey struct {
	// Name says what the key is for ("billing service"): at most
	// MaxNameLen characters, may be empty.
	Name string
	// Scope is what the key may do (ParseScope); "" is ScopeProject for a
	// project's key and ScopeAdmin for an admin key.
	Scope string
}

// Validate checks the input, naming the field at fault.
func (in CreateKey) Validate() error {
	if utf8.RuneCountInString(strings.TrimSpace(in.Name)) > MaxNameLen {
		return Invalid("name", "must be at most "+strconv.Itoa(MaxNameLen)+" characters")
	}
	if err := checkText("name", in.Name, false); err != nil {
		return err
	}
	if in.Scope == "" {
		return nil
	}
	_, err := ParseScope(in.Scope)
	return err
}

// Create makes a key of project projectID ("" for an admin key), on
// behalf of key by, which must be allowed to manage keys there and may
// create only keys of its own scope or narrower.
func (s *Keys) Create(ctx context.Context, by APIKey, projectID string, in CreateKey) (NewAPIKey, error) {
	if err := in.Validate(); err != nil {
		return NewAPIKey{}, err
	}
	scope, prefix := Scope(in.Scope), ProjectKeyPrefix
	switch {
	case projectID == "" && scope == "":
		scope = ScopeAdmin
	case projectID == "" && scope != ScopeAdmin:
		return NewAPIKey{}, Invalid("scope", "a key of no project is an admin key: its scope is admin")
	case projectID == "":
	case scope == "":
		scope = ScopeProject
	case scope == ScopeAdmin:
		return NewAPIKey{}, Invalid("scope", "an admin key belongs to no project; make it as an admin key")
	}
	if scope == ScopeAdmin {
		prefix = AdminKeyPrefix
	}
	if err := s.authorizeManage(by, projectID); err != nil {
		return NewAPIKey{}, err
	}
	if err := Require(by, scope); err != nil {
		return NewAPIKey{}, err
	}
	now := s.c.now()
	key := NewKey(prefix)
	k := APIKey{
		ID:        ids.New(ids.APIKey, now),
		ProjectID: projectID,
		Hash:      HashKey(key),
		Prefix:    displayPrefix(key),
		Name:      strings.TrimSpace(in.Name),
		Scope:     string(scope),
		CreatedBy: by.ID,
		CreatedAt: now,
	}
	if err := s.c.store.CreateAPIKey(ctx, k); err != nil {
		return NewAPIKey{}, translate(err, "project")
	}
	s.c.record(ctx, projectID, ActionKeyCreated, k.ID, k.Prefix+"…")
	return NewAPIKey{APIKey: k, Key: key}, nil
}

// authorizeManage checks that key by may manage the keys of projectID
// ("" for admin keys). Front ends check this too; the service does not
// rely on them.
func (s *Keys) authorizeManage(by APIKey, projectID string) error {
	need := ScopeProject
	if projectID == "" {
		need = ScopeAdmin
	}
	if err := Require(by, need); err != nil {
		return err
	}
	if by.ProjectID != "" && by.ProjectID != projectID {
		return NotFound("project")
	}
	return nil
}

// List lists the keys of project projectID ("" for admin keys), revoked
// ones included, oldest first.
func (s *Keys) List(ctx context.Context, projectID string, p Page) (List[APIKey], error) {
	return list(p, ids.APIKey, func(k APIKey) string { return k.ID }, func(sp store.Page) ([]APIKey, error) {
		return s.c.store.ListAPIKeys(ctx, projectID, sp)
	})
}

// errLastManager: a key other than an admin key would leave its project
// with no key that can manage it.
var errLastManager = &Error{Code: CodeConflict, Message: "this would revoke the project's last key of scope project " +
	"(revoking a key revokes the keys it created); only an admin key can do that"}

// Revoke revokes key id of project projectID ("" for admin keys) on
// behalf of key by, and with it every key it created, transitively; their
// UI sessions end in the same transaction. A key may revoke only keys of
// its own scope or narrower, and only an admin key may leave a project
// without a key of scope project. This node stops accepting the keys at
// once, other nodes sharing the database within KeyCacheTTL. It returns
// the ids of the keys it revoked.
func (s *Keys) Revoke(ctx context.Context, by APIKey, projectID, id string) ([]string, error) {
	if !ids.Valid(ids.APIKey, id) {
		return nil, NotFound("api key")
	}
	if err := s.authorizeManage(by, projectID); err != nil {
		return nil, err
	}
	k, err := s.c.store.GetAPIKey(ctx, projectID, id)
	if err != nil {
		return nil, translate(err, "api key")
	}
	if err := Require(by, Scope(k.Scope)); err != nil {
		return nil, err
	}
	r := store.KeyRevocation{ProjectID: projectID, ID: id, At: s.c.now()}
	if Scope(by.Scope) != ScopeAdmin {
		r.KeepScope = string(ScopeProject)
	}
	revoked, err := s.c.store.RevokeAPIKey(ctx, r)
	if errors.Is(err, store.ErrConflict) {
		return nil, errLastManager
	}
	if err != nil {
		return nil, translate(err, "api key")
	}
	s.revoked(revoked)
	detail := ""
	if len(revoked) > 1 {
		detail = fmt.Sprintf("with %d keys it created", len(revoked)-1)
	}
	s.c.record(ctx, projectID, ActionKeyRevoked, id, detail)
	return revoked, nil
}

// revoked tells the cache and the OnRevoke hook about revoked keys.
func (s *Keys) revoked(keyIDs []string) {
	if len(keyIDs) == 0 {
		return
	}
	for _, id := range keyIDs {
		s.cache.forget(id)
	}
	s.c.onRevoke(keyIDs)
}

// Rotate replaces key id of project projectID ("" for admin keys), on
// behalf of key by: a new key with the same name, scope and project takes
// over the keys the old one created, and the old one is revoked. The new
// key is returned this once.
func (s *Keys) Rotate(ctx context.Context, by APIKey, projectID, id string) (NewAPIKey, error) {
	if !ids.Valid(ids.APIKey, id) {
		return NewAPIKey{}, NotFound("api key")
	}
	if err := s.authorizeManage(by, projectID); err != nil {
		return NewAPIKey{}, err
	}
	old, err := s.c.store.GetAPIKey(ctx, projectID, id)
	if err != nil {
		return NewAPIKey{}, translate(err, "api key")
	}
	if err := Require(by, Scope(old.Scope)); err != nil {
		return NewAPIKey{}, err
	}
	if !old.RevokedAt.IsZero() {
		return NewAPIKey{}, &Error{Code: CodeConflict, Message: "the key is revoked; create a new one instead"}
	}
	return s.replace(ctx, old, []string{old.ID})
}

// replace stores a key like tmpl (name, scope, project, creator,
// bootstrap) and revokes the keys old, handing what they created over.
func (s *Keys) replace(ctx context.Context, tmpl APIKey, old []string) (NewAPIKey, error) {
	now := s.c.now()
	prefix := ProjectKeyPrefix
	if tmpl.ProjectID == "" {
		prefix = AdminKeyPrefix
	}
	key := NewKey(prefix)
	k := APIKey{
		ID: ids.New(ids.APIKey, now), ProjectID: tmpl.ProjectID, Hash: HashKey(key), Prefix: displayPrefix(key),
		Name: tmpl.Name, Scope: tmpl.Scope, CreatedBy: tmpl.CreatedBy, Bootstrap: tmpl.Bootstrap, CreatedAt: now,
	}
	if err := s.c.store.ReplaceAPIKeys(ctx, k, old); err != nil {
		return NewAPIKey{}, translate(err, "api key")
	}
	s.revoked(old)
	// A rotation: the new key is created, the old ones revoked.
	s.c.record(ctx, k.ProjectID, ActionKeyCreated, k.ID, k.Prefix+"… replacing "+strings.Join(old, ", "))
	for _, id := range old {
		s.c.record(ctx, k.ProjectID, ActionKeyRevoked, id, "replaced by "+k.ID)
	}
	return NewAPIKey{APIKey: k, Key: key}, nil
}

var errUnauthenticated = &Error{Code: CodeUnauthenticated, Message: "missing, invalid or revoked API key"}

// KeyUseResolution is how exactly APIKey.LastUsedAt is kept: a key's use
// is written at most once per this long, so a busy publisher costs one
// write a minute, not one per event.
const KeyUseResolution = time.Minute

// Authenticate finds the valid key whose secret is key, or fails with
// CodeUnauthenticated. An admin key has ProjectID "". Lookups are cached
// for KeyCacheTTL, so a busy publisher costs no query per event; the
// key's LastUsedAt is written at most once per KeyUseResolution.
//
// Failed sign-ins are limited per source (the Actor's, on ctx): beyond
// Config.SigninFailureBurst failures, a source gets CodeRateLimited
// without a lookup until its allowance refills at SigninFailureRate a
// second. A key found in the cache (valid, used recently) passes even
// then; a source that is not failing is never slowed. Failures are
// logged and audited (signin.failed) at most once a minute per source.
func (s *Keys) Authenticate(ctx context.Context, key string) (APIKey, error) {
	if key == "" || len(key) > MaxKeyLen {
		return APIKey{}, errUnauthenticated
	}
	h := HashKey(key)
	hk := [sha256.Size]byte(h)
	now := s.c.clock.Now()
	k, cached, gen := s.cache.get(hk, now)
	source := ActorOf(ctx).Source
	if !cached {
		if retry, ok := s.signin.check(source, now); !ok {
			return APIKey{}, errTooManySignins(retry)
		}
		var err error
		k, err = s.c.store.GetAPIKeyByHash(ctx, h)
		if errors.Is(err, store.ErrNotFound) {
			return APIKey{}, s.failed(ctx, source, now)
		}
		if err != nil {
			return APIKey{}, translate(err, "api key")
		}
	}
	if !usable(k, h) {
		return APIKey{}, s.failed(ctx, source, now)
	}
	touch := now.Sub(k.LastUsedAt) >= KeyUseResolution
	if cached {
		touch = touch && s.cache.used(hk, now)
	} else {
		if touch {
			k.LastUsedAt = now
		}
		s.cache.put(hk, k, now, gen)
	}
	if touch {
		at := s.c.now()
		// A failed write only leaves LastUsedAt older; the request goes on.
		_ = s.c.store.TouchAPIKey(ctx, k.ID, at, at.Add(-KeyUseResolution))
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
// stream asks, so a revocation on any node ends it. The checks of one key
// share reads that began after they asked: 1,000 streams on one key each
// read it before every read of events, 18 % of the node's CPU in the
// second after they opened while publishes waited.
func (c *core) recheckKey(ctx context.Context, k APIKey) error {
	got, err := c.keyReads.Get(ctx, string(k.Hash), func(ctx context.Context, h string) (store.APIKey, error) {
		return c.store.GetAPIKeyByHash(ctx, []byte(h))
	})
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

// Names of the admin keys hookd makes itself.
const (
	nameGeneratedAdmin = "admin (generated at first start)"
	nameFlagAdmin      = "admin (--admin-key)"
	nameRotatedAdmin   = "admin (hookd keys rotate-admin)"
)

// ErrAdminKeyRevoked: the admin key hookd was started with was revoked
// (rotated). It authenticates nothing; hookd starts anyway.
var ErrAdminKeyRevoked = errors.New("the --admin-key given was revoked (rotated); it authenticates nothing: start with the current admin key")

// failed counts a failed sign-in of source and reports it when due.
func (s *Keys) failed(ctx context.Context, source string, now time.Time) error {
	if r := s.signin.fail(source, now); r != nil {
		s.c.reportFailures(ctx, r)
	}
	return errUnauthenticated
}

// SignIn is Authenticate for a sign-in that starts a session (the web
// UI): a success is recorded in the audit trail (signin.succeeded), by
// the key that signed in.
func (s *Keys) SignIn(ctx context.Context, key string) (APIKey, error) {
	k, err := s.Authenticate(ctx, key)
	if err != nil {
		return APIKey{}, err
	}
	s.c.recordAs(ctx, Actor{KeyID: k.ID, Source: ActorOf(ctx).Source}, k.ProjectID, ActionSigninSucceeded, k.ID, "web UI")
	return k, nil
}

// EnsureAdmin makes sure an admin key exists. With key set, that key is
// stored (once; a node starting at the same moment may store it first)
// and replaces the admin keys hookd made itself before (an earlier
// --admin-key, one generated, one rotated): those are revoked and the
// keys they created pass to it. Without, a key is generated when none
// exists yet and returned, for the caller to show once; generated is ""
// when nothing was made. A key given that was revoked is
// ErrAdminKeyRevoked.
func (s *Keys) EnsureAdmin(ctx context.Context, key string) (generated string, err error) {
	if key == "" {
		n, err := s.c.store.CountAdminKeys(ctx)
		if err != nil || n > 0 {
			return "", err
		}
		generated = NewKey(AdminKeyPrefix)
		now := s.c.now()
		err = s.c.store.CreateAPIKey(ctx, APIKey{
			ID: ids.New(ids.APIKey, now), Hash: HashKey(generated), Prefix: displayPrefix(generated),
			Name: nameGeneratedAdmin, Scope: string(ScopeAdmin), Bootstrap: true, CreatedAt: now,
		})
		if errors.Is(err, store.ErrConflict) {
			return "", nil
		}
		return generated, err
	}
	switch k, err := s.c.store.GetAPIKeyByHash(ctx, HashKey(key)); {
	case err == nil && !k.RevokedAt.IsZero():
		return "", ErrAdminKeyRevoked
	case !errors.Is(err, store.ErrNotFound):
		return "", err // nil: stored already
	}
	old, err := s.bootstrapKeys(ctx)
	if err != nil {
		return "", err
	}
	now := s.c.now()
	k := APIKey{
		ID: ids.New(ids.APIKey, now), Hash: HashKey(key), Prefix: displayPrefix(key),
		Name: nameFlagAdmin, Scope: string(ScopeAdmin), Bootstrap: true, CreatedAt: now,
	}
	err = s.c.store.ReplaceAPIKeys(ctx, k, old)
	switch {
	case errors.Is(err, store.ErrConflict):
		return "", nil // another node starting at the same moment stored it
	case err != nil:
		return "", err
	}
	s.revoked(old)
	return "", nil
}

// RotateAdmin issues a new admin key that replaces the ones hookd made
// itself (the --admin-key's, one generated or rotated before): they are
// revoked and the keys they created pass to the new one. The key is
// returned this once.
func (s *Keys) RotateAdmin(ctx context.Context) (NewAPIKey, error) {
	old, err := s.bootstrapKeys(ctx)
	if err != nil {
		return NewAPIKey{}, err
	}
	return s.replace(ctx, APIKey{Name: nameRotatedAdmin, Scope: string(ScopeAdmin), Bootstrap: true}, old)
}

// bootstrapKeys lists the valid admin keys hookd made itself.
func (s *Keys) bootstrapKeys(ctx context.Context) ([]string, error) {
	var out []string
	page := store.Page{Limit: 500}
	for {
		ks, err := s.c.store.ListAPIKeys(ctx, "", page)
		if err != nil {
			return nil, translate(err, "api key")
		}
		for _, k := range ks {
			if k.Bootstrap && k.RevokedAt.IsZero() {
				out = append(out, k.ID)
			}
		}
		if len(ks) < page.Limit {
			return out, nil
		}
		page.After = ks[len(ks)-1].ID
	}
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

// used notes a use of the cached key at now, and reports whether it is
// the first in KeyUseResolution (the caller then writes it). A key not
// cached any more is the caller's to write.
func (c *keyCache) used(h [sha256.Size]byte, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[h]
	if !ok {
		return true
	}
	if now.Sub(e.key.LastUsedAt) < KeyUseResolution {
		return false
	}
	e.key.LastUsedAt = now
	c.entries[h] = e
	return true
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
