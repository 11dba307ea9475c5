package service_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/service"
)

// adminKey is a valid admin key of the env, as a front end would hold it
// after Authenticate.
func (e *env) adminKey() service.APIKey {
	e.t.Helper()
	k, err := e.svc.Keys.RotateAdmin(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return k.APIKey
}

func (e *env) createKey(by service.APIKey, pid, name, scope string) service.NewAPIKey {
	e.t.Helper()
	k, err := e.svc.Keys.Create(context.Background(), by, pid, service.CreateKey{Name: name, Scope: scope})
	if err != nil {
		e.t.Fatalf("create %s key %q by %s: %v", scope, name, by.Scope, err)
	}
	return k
}

func (e *env) valid(key string) bool {
	e.t.Helper()
	_, err := e.svc.Keys.Authenticate(context.Background(), key)
	return err == nil
}

func TestAPIKeys(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	pid := e.project("a")
	admin := e.adminKey()
	k := e.createKey(admin, pid, " billing service ", "")
	if !strings.HasPrefix(k.Key, service.ProjectKeyPrefix) || !strings.HasPrefix(k.Key, k.Prefix) || len(k.Prefix) != len("hk_")+6 {
		t.Fatalf("created %+v", k)
	}
	if k.Name != "billing service" || k.Scope != "project" || k.CreatedBy != admin.ID {
		t.Fatalf("name %q scope %q created by %q", k.Name, k.Scope, k.CreatedBy)
	}
	got, err := e.svc.Keys.Authenticate(ctx, k.Key)
	if err != nil || got.ID != k.ID || got.ProjectID != pid || got.Scope != "project" {
		t.Fatalf("authenticate %+v, %v", got, err)
	}
	for _, bad := range []string{"", "hk_wrong", strings.Repeat("k", service.MaxKeyLen+1)} {
		_, err := e.svc.Keys.Authenticate(ctx, bad)
		wantError(t, err, service.CodeUnauthenticated, "")
	}
	if _, err := e.svc.Keys.Revoke(ctx, admin, pid, k.ID); err != nil {
		t.Fatal(err)
	}
	// Revoked on this node: refused at once, whatever the cache held.
	_, err = e.svc.Keys.Authenticate(ctx, k.Key)
	wantError(t, err, service.CodeUnauthenticated, "")
	_, err = e.svc.Keys.Revoke(ctx, admin, pid, "key_nope")
	wantError(t, err, service.CodeNotFound, "")
	l, err := e.svc.Keys.List(ctx, pid, service.Page{})
	if err != nil || len(l.Items) != 1 || l.Items[0].RevokedAt.IsZero() {
		t.Fatalf("list %+v, %v", l, err)
	}

	for _, tc := range []struct {
		pid, name, scope, field string
	}{
		{pid, "x", "owner", "scope"},
		{pid, "x", "admin", "scope"},  // admin keys belong to no project
		{"", "x", "project", "scope"}, // a key of no project is an admin key
		{pid, strings.Repeat("n", service.MaxNameLen+1), "read", "name"},
		{pid, "bad\x00name", "read", "name"},
	} {
		_, err := e.svc.Keys.Create(ctx, admin, tc.pid, service.CreateKey{Name: tc.name, Scope: tc.scope})
		wantError(t, err, service.CodeInvalidArgument, tc.field)
	}
}

// TestKeyScopes: a key creates only keys of its scope or narrower and
// revokes only those; narrower keys cannot manage keys at all.
func TestKeyScopes(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	pid, other := e.project("a"), e.project("b")
	admin := e.adminKey()
	mgr := e.createKey(admin, pid, "manager", "project").APIKey
	pub := e.createKey(mgr, pid, "publisher", "publish").APIKey
	read := e.createKey(mgr, pid, "reader", "read").APIKey
	if pub.CreatedBy != mgr.ID {
		t.Fatalf("created by %q, want %q", pub.CreatedBy, mgr.ID)
	}

	for _, tc := range []struct {
		by    service.APIKey
		pid   string
		scope string
		code  service.Code
	}{
		{mgr, "", "admin", service.CodeInsufficientScope},     // a project key makes no admin key
		{mgr, other, "read", service.CodeNotFound},            // nor keys of another project
		{pub, pid, "publish", service.CodeInsufficientScope},  // publish keys only publish
		{read, pid, "read", service.CodeInsufficientScope},    // read keys only read
		{pub, pid, "project", service.CodeInsufficientScope},  // never wider
		{read, pid, "publish", service.CodeInsufficientScope}, // nor sideways
	} {
		_, err := e.svc.Keys.Create(ctx, tc.by, tc.pid, service.CreateKey{Scope: tc.scope})
		wantError(t, err, tc.code, "")
		if tc.code == service.CodeInsufficientScope && !strings.Contains(err.Error(), "this needs a key of scope ") {
			t.Fatalf("message %v does not name the scope needed", err)
		}
	}
	// An admin key makes admin keys, not a project key.
	a2 := e.createKey(admin, "", "second admin", "")
	if a2.Scope != "admin" || !strings.HasPrefix(a2.Key, service.AdminKeyPrefix) {
		t.Fatalf("admin key %+v", a2)
	}
	_, err := e.svc.Keys.Revoke(ctx, pub, pid, read.ID)
	wantError(t, err, service.CodeInsufficientScope, "")
	_, err = e.svc.Keys.Revoke(ctx, mgr, "", a2.ID)
	wantError(t, err, service.CodeInsufficientScope, "")
}

// TestRevokeCascades: revoking a key revokes what it created, so a key
// minted by a key does not outlive its parent.
func TestRevokeCascades(t *testing.T) {
	var hooked [][]string
	e := newEnv(t, func(c *service.Config) {
		c.OnRevoke = func(ids []string) { hooked = append(hooked, slices.Sorted(slices.Values(ids))) }
	})
	ctx := context.Background()
	pid := e.project("a")
	admin := e.adminKey()
	orig := e.createKey(admin, pid, "original", "project")
	child := e.createKey(orig.APIKey, pid, "child", "project")
	grand := e.createKey(child.APIKey, pid, "grandchild", "publish")
	// The keys are cached as valid before the revocation.
	for _, k := range []string{orig.Key, child.Key, grand.Key} {
		if !e.valid(k) {
			t.Fatal("a new key is not valid")
		}
	}
	// The child cannot revoke the original and its own tree with it:
	// that leaves the project no manager key.
	_, err := e.svc.Keys.Revoke(ctx, child.APIKey, pid, orig.ID)
	wantError(t, err, service.CodeConflict, "")
	if !e.valid(orig.Key) || !e.valid(child.Key) {
		t.Fatal("a refused revocation revoked a key")
	}
	revoked, err := e.svc.Keys.Revoke(ctx, orig.APIKey, pid, child.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Sorted(slices.Values([]string{child.ID, grand.ID}))
	if slices.Sort(revoked); !slices.Equal(revoked, want) {
		t.Fatalf("revoked %v, want %v", revoked, want)
	}
	if e.valid(child.Key) || e.valid(grand.Key) || !e.valid(orig.Key) {
		t.Fatal("after revoking the child: the child or its key still valid, or the original not")
	}
	if len(hooked) != 1 || !slices.Equal(hooked[0], want) {
		t.Fatalf("OnRevoke got %v, want [%v]", hooked, want)
	}
	// The last manager key: not by itself, but by an admin key.
	_, err = e.svc.Keys.Revoke(ctx, orig.APIKey, pid, orig.ID)
	wantError(t, err, service.CodeConflict, "")
	if _, err := e.svc.Keys.Revoke(ctx, admin, pid, orig.ID); err != nil {
		t.Fatal(err)
	}
	if e.valid(orig.Key) {
		t.Fatal("revoked by the admin key, still valid")
	}
}

// TestLastUsed: a key's last use is written once a minute at most, and
// is within a minute of the truth.
func TestLastUsed(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	pid := e.project("a")
	k := e.createKey(e.adminKey(), pid, "publisher", "publish")
	lastUsed := func() time.Time {
		t.Helper()
		got, err := e.db.GetAPIKey(ctx, pid, k.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got.LastUsedAt
	}
	if !lastUsed().IsZero() {
		t.Fatal("a new key was used")
	}
	first := e.clock.Now()
	e.valid(k.Key)
	if got := lastUsed(); !got.Equal(first) {
		t.Fatalf("LastUsedAt %v, want %v", got, first)
	}
	// Many uses within the minute (from the cache and, after its TTL,
	// from the database) write nothing more.
	for range 50 {
		e.clock.Advance(time.Second)
		e.valid(k.Key)
	}
	if got := lastUsed(); !got.Equal(first) {
		t.Fatalf("LastUsedAt %v after uses within a minute, want %v", got, first)
	}
	e.clock.Advance(11 * time.Second)
	e.valid(k.Key)
	if got := lastUsed(); !got.Equal(e.clock.Now()) {
		t.Fatalf("LastUsedAt %v a minute later, want %v", got, e.clock.Now())
	}
}

func TestRotateKey(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	pid := e.project("a")
	admin := e.adminKey()
	a2 := e.createKey(admin, "", "ops", "")
	made := e.createKey(a2.APIKey, pid, "made by ops", "read")
	next, err := e.svc.Keys.Rotate(ctx, admin, "", a2.ID)
	if err != nil {
		t.Fatal(err)
	}
	if next.Name != "ops" || next.Scope != "admin" || next.ID == a2.ID || e.valid(a2.Key) || !e.valid(next.Key) {
		t.Fatalf("rotated %+v; old valid %v", next.APIKey, e.valid(a2.Key))
	}
	// What the old key made survives, and now belongs to the new one.
	if !e.valid(made.Key) {
		t.Fatal("rotation revoked a key the old key made")
	}
	if _, err := e.svc.Keys.Revoke(ctx, admin, "", next.ID); err != nil {
		t.Fatal(err)
	}
	if e.valid(made.Key) {
		t.Fatal("revoking the rotated key left what its predecessor made")
	}
	_, err = e.svc.Keys.Rotate(ctx, admin, "", a2.ID)
	wantError(t, err, service.CodeConflict, "")
}

func TestEnsureAdmin(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	gen, err := e.svc.Keys.EnsureAdmin(ctx, "")
	if err != nil || !strings.HasPrefix(gen, service.AdminKeyPrefix) {
		t.Fatalf("generated %q, %v", gen, err)
	}
	if again, err := e.svc.Keys.EnsureAdmin(ctx, ""); err != nil || again != "" {
		t.Fatalf("a second key was generated: %q, %v", again, err)
	}
	genKey, err := e.svc.Keys.Authenticate(ctx, gen)
	if err != nil || genKey.ProjectID != "" || genKey.Scope != "admin" {
		t.Fatalf("generated admin key %+v, %v", genKey, err)
	}
	pid := e.project("a")
	made := e.createKey(genKey, pid, "made by the first admin key", "project")
	other := e.createKey(genKey, "", "made by the first admin key", "admin")

	// Starting with --admin-key replaces the generated key; the keys it
	// made pass to the new one. Starting with it again changes nothing.
	const given = "hk_adm_given_0123456789"
	for range 2 {
		if gen, err := e.svc.Keys.EnsureAdmin(ctx, given); err != nil || gen != "" {
			t.Fatalf("EnsureAdmin(given) = %q, %v", gen, err)
		}
	}
	if e.valid(gen) || !e.valid(given) || !e.valid(made.Key) || !e.valid(other.Key) {
		t.Fatalf("after --admin-key: generated valid %v, given %v, made %v, other %v",
			e.valid(gen), e.valid(given), e.valid(made.Key), e.valid(other.Key))
	}
	// Starting with another --admin-key revokes the previous one, not
	// the admin keys made through the API.
	const next = "hk_adm_next_0123456789"
	if _, err := e.svc.Keys.EnsureAdmin(ctx, next); err != nil {
		t.Fatal(err)
	}
	if e.valid(given) || !e.valid(next) || !e.valid(other.Key) || !e.valid(made.Key) {
		t.Fatalf("after a new --admin-key: old valid %v, new %v, other %v, made %v",
			e.valid(given), e.valid(next), e.valid(other.Key), e.valid(made.Key))
	}
	// The old one given again is refused, not revived.
	if _, err := e.svc.Keys.EnsureAdmin(ctx, given); err != service.ErrAdminKeyRevoked {
		t.Fatalf("EnsureAdmin(revoked) = %v, want ErrAdminKeyRevoked", err)
	}
	if e.valid(given) {
		t.Fatal("a revoked admin key came back")
	}
	// rotate-admin replaces the flag's key too.
	rot, err := e.svc.Keys.RotateAdmin(ctx)
	if err != nil || e.valid(next) || !e.valid(rot.Key) || !e.valid(made.Key) {
		t.Fatalf("RotateAdmin: %v; old valid %v, new %v, made %v", err, e.valid(next), e.valid(rot.Key), e.valid(made.Key))
	}
}
