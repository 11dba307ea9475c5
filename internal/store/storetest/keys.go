package storetest

import (
	"crypto/sha256"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/store"
)

var keyCases = []testCase{
	{"KeyFields", testKeyFields},
	{"RevokeCascades", testRevokeCascades},
	{"RevokeKeepScope", testRevokeKeepScope},
	{"ReplaceAPIKeys", testReplaceAPIKeys},
	{"TouchAPIKey", testTouchAPIKey},
}

// revoke revokes a key and what it created, without KeepScope.
func (f *fixture) revoke(projectID, id string, at time.Time) error {
	_, err := f.s.RevokeAPIKey(f.ctx, store.KeyRevocation{ProjectID: projectID, ID: id, At: at})
	return err
}

// childKey creates a key of projectID with scope, created by parent ("" for
// none).
func (f *fixture) childKey(projectID, scope, parent string) store.APIKey {
	f.t.Helper()
	f.n++
	h := sha256.Sum256(fmt.Appendf(nil, "hk_child_%d", f.n))
	k := store.APIKey{ID: ids.New(ids.APIKey, Base), ProjectID: projectID, Hash: h[:], Prefix: "hk_chi",
		Name: fmt.Sprintf("key %d", f.n), Scope: scope, CreatedBy: parent, CreatedAt: Base}
	f.must(f.s.CreateAPIKey(f.ctx, k), "CreateAPIKey")
	return k
}

func (f *fixture) keyByID(projectID, id string) store.APIKey {
	f.t.Helper()
	k, err := f.s.GetAPIKey(f.ctx, projectID, id)
	f.must(err, "GetAPIKey")
	return k
}

func testKeyFields(t *testing.T, f *fixture) {
	p := f.project()
	admin := f.childKey("", "admin", "")
	h := sha256.Sum256([]byte("hk_fields"))
	k := store.APIKey{ID: ids.New(ids.APIKey, Base), ProjectID: p.ID, Hash: h[:], Prefix: "hk_fie",
		Name: "billing service ✓", Scope: "publish", CreatedBy: admin.ID, CreatedAt: Base,
		LastUsedAt: Base.Add(time.Minute)}
	f.must(f.s.CreateAPIKey(f.ctx, k), "CreateAPIKey")
	boot := f.childKey("", "admin", "")
	boot.ID, boot.Hash, boot.Bootstrap = ids.New(ids.APIKey, Base), []byte("bootstrap hash"), true
	f.must(f.s.CreateAPIKey(f.ctx, boot), "CreateAPIKey(bootstrap)")

	got, err := f.s.GetAPIKeyByHash(f.ctx, k.Hash)
	f.must(err, "GetAPIKeyByHash")
	equal(t, "GetAPIKeyByHash", got, k)
	equal(t, "GetAPIKey", f.keyByID(p.ID, k.ID), k)
	equal(t, "GetAPIKey(bootstrap)", f.keyByID("", boot.ID), boot)
	list, err := f.s.ListAPIKeys(f.ctx, p.ID, store.Page{Limit: 10})
	f.must(err, "ListAPIKeys")
	equal(t, "ListAPIKeys", list, []store.APIKey{k})

	_, err = f.s.GetAPIKey(f.ctx, "", k.ID)
	wantErr(t, "GetAPIKey(project key as admin)", err, store.ErrNotFound)
	_, err = f.s.GetAPIKey(f.ctx, f.project().ID, k.ID)
	wantErr(t, "GetAPIKey(other project)", err, store.ErrNotFound)
	_, err = f.s.GetAPIKey(f.ctx, p.ID, admin.ID)
	wantErr(t, "GetAPIKey(admin key as project)", err, store.ErrNotFound)
}

func testRevokeCascades(t *testing.T, f *fixture) {
	p, q := f.project(), f.project()
	admin := f.childKey("", "admin", "")
	// admin → root (p) → mid (p) → leaf (p); admin → other (q); root →
	// sibling (p). A key unrelated to the tree stays.
	root := f.childKey(p.ID, "project", admin.ID)
	mid := f.childKey(p.ID, "project", root.ID)
	leaf := f.childKey(p.ID, "read", mid.ID)
	sibling := f.childKey(p.ID, "publish", root.ID)
	other := f.childKey(q.ID, "project", admin.ID)
	unrelated := f.childKey(p.ID, "project", "")
	sLeaf := f.session(leaf, Base.Add(time.Hour))
	sRoot := f.session(root, Base.Add(time.Hour))
	sUnrelated := f.session(unrelated, Base.Add(time.Hour))

	// A revoked leaf is not revoked again (its time stays).
	early := Base.Add(time.Minute)
	f.must(f.revoke(p.ID, sibling.ID, early), "revoke sibling")

	at := Base.Add(time.Hour / 2)
	got, err := f.s.RevokeAPIKey(f.ctx, store.KeyRevocation{ProjectID: p.ID, ID: root.ID, At: at})
	f.must(err, "RevokeAPIKey(root)")
	slices.Sort(got)
	want := []string{root.ID, mid.ID, leaf.ID}
	slices.Sort(want)
	equal(t, "revoked ids", got, want)
	for _, k := range []store.APIKey{root, mid, leaf} {
		if r := f.keyByID(k.ProjectID, k.ID).RevokedAt; !r.Equal(at) {
			t.Errorf("%s RevokedAt %v, want %v", k.Name, r, at)
		}
	}
	if r := f.keyByID(p.ID, sibling.ID).RevokedAt; !r.Equal(early) {
		t.Errorf("sibling RevokedAt %v, want the first revocation %v", r, early)
	}
	for _, k := range []store.APIKey{admin, other, unrelated} {
		if r := f.keyByID(k.ProjectID, k.ID).RevokedAt; !r.IsZero() {
			t.Errorf("%s was revoked (%v) though not created by the root", k.Name, r)
		}
	}
	for _, s := range []store.Session{sLeaf, sRoot} {
		_, err := f.s.GetSession(f.ctx, s.Hash, Base)
		wantErr(t, "session of a revoked key", err, store.ErrNotFound)
	}
	_, err = f.s.GetSession(f.ctx, sUnrelated.Hash, Base)
	f.must(err, "session of an unrelated key")

	// Revoking the tree again revokes nothing new.
	got, err = f.s.RevokeAPIKey(f.ctx, store.KeyRevocation{ProjectID: p.ID, ID: root.ID, At: Base.Add(time.Hour)})
	f.must(err, "RevokeAPIKey(again)")
	equal(t, "revoked again", len(got), 0)

	// Revoking the admin key reaches keys it made in any project.
	got, err = f.s.RevokeAPIKey(f.ctx, store.KeyRevocation{ID: admin.ID, At: at})
	f.must(err, "RevokeAPIKey(admin)")
	slices.Sort(got)
	want = []string{admin.ID, other.ID}
	slices.Sort(want)
	equal(t, "revoked by the admin key's revocation", got, want)
}

func testRevokeKeepScope(t *testing.T, f *fixture) {
	p := f.project()
	a := f.childKey(p.ID, "project", "")
	b := f.childKey(p.ID, "project", a.ID)
	r := f.childKey(p.ID, "read", b.ID)
	keep := func(id string) ([]string, error) {
		return f.s.RevokeAPIKey(f.ctx, store.KeyRevocation{ProjectID: p.ID, ID: id, At: Base, KeepScope: "project"})
	}
	// a created b: revoking a revokes both, leaving no project key.
	_, err := keep(a.ID)
	wantErr(t, "revoke the last manager keys", err, store.ErrConflict)
	for _, k := range []store.APIKey{a, b, r} {
		if !f.keyByID(p.ID, k.ID).RevokedAt.IsZero() {
			t.Fatalf("a refused revocation revoked %s", k.Name)
		}
	}
	// b alone leaves a.
	got, err := keep(b.ID)
	f.must(err, "revoke b")
	equal(t, "revoked", len(got), 2)
	_, err = keep(a.ID)
	wantErr(t, "revoke the last manager key", err, store.ErrConflict)
	// Without KeepScope it goes.
	f.must(f.revoke(p.ID, a.ID, Base), "revoke a without KeepScope")
	// An unknown key is not found, whatever KeepScope says.
	_, err = keep(ids.New(ids.APIKey, Base))
	wantErr(t, "revoke unknown", err, store.ErrNotFound)
}

func testReplaceAPIKeys(t *testing.T, f *fixture) {
	p := f.project()
	old := f.childKey("", "admin", "")
	other := f.childKey("", "admin", "")
	child := f.childKey(p.ID, "project", old.ID)
	grandchild := f.childKey(p.ID, "read", child.ID)
	sOld := f.session(old, Base.Add(time.Hour))
	sChild := f.session(child, Base.Add(time.Hour))

	at := Base.Add(time.Minute)
	h := sha256.Sum256([]byte("hk_replacement"))
	repl := store.APIKey{ID: ids.New(ids.APIKey, at), Hash: h[:], Prefix: "hk_rep", Name: old.Name, Scope: "admin",
		Bootstrap: true, CreatedAt: at}
	f.must(f.s.ReplaceAPIKeys(f.ctx, repl, []string{old.ID, ids.New(ids.APIKey, Base)}), "ReplaceAPIKeys")
	equal(t, "replacement", f.keyByID("", repl.ID), repl)
	if r := f.keyByID("", old.ID).RevokedAt; !r.Equal(at) {
		t.Errorf("old key RevokedAt %v, want %v", r, at)
	}
	c := f.keyByID(p.ID, child.ID)
	if !c.RevokedAt.IsZero() || c.CreatedBy != repl.ID {
		t.Errorf("child after replacement: revoked %v, created by %q; want valid, created by %q", c.RevokedAt, c.CreatedBy, repl.ID)
	}
	if g := f.keyByID(p.ID, grandchild.ID); !g.RevokedAt.IsZero() || g.CreatedBy != child.ID {
		t.Errorf("grandchild after replacement: %+v", g)
	}
	if !f.keyByID("", other.ID).RevokedAt.IsZero() {
		t.Error("another admin key was revoked")
	}
	_, err := f.s.GetSession(f.ctx, sOld.Hash, Base)
	wantErr(t, "old key's session", err, store.ErrNotFound)
	_, err = f.s.GetSession(f.ctx, sChild.Hash, Base)
	f.must(err, "child's session")

	// Revoking the replacement now reaches what the old key created.
	got, err := f.s.RevokeAPIKey(f.ctx, store.KeyRevocation{ID: repl.ID, At: at})
	f.must(err, "RevokeAPIKey(replacement)")
	equal(t, "revoked with the replacement", len(got), 3)

	// A duplicate hash changes nothing.
	dup := repl
	dup.ID = ids.New(ids.APIKey, at)
	wantErr(t, "ReplaceAPIKeys(duplicate hash)", f.s.ReplaceAPIKeys(f.ctx, dup, []string{other.ID}), store.ErrConflict)
	if !f.keyByID("", other.ID).RevokedAt.IsZero() {
		t.Error("a failed replacement revoked the old key")
	}
}

func testTouchAPIKey(t *testing.T, f *fixture) {
	p := f.project()
	k := f.childKey(p.ID, "publish", "")
	used := func() time.Time { return f.keyByID(p.ID, k.ID).LastUsedAt }
	if !used().IsZero() {
		t.Fatal("a new key was used")
	}
	t1 := Base.Add(time.Minute)
	f.must(f.s.TouchAPIKey(f.ctx, k.ID, t1, t1.Add(-time.Minute)), "TouchAPIKey")
	equal(t, "first use", used(), t1)
	// Within the staleness window: no write.
	t2 := t1.Add(30 * time.Second)
	f.must(f.s.TouchAPIKey(f.ctx, k.ID, t2, t2.Add(-time.Minute)), "TouchAPIKey")
	equal(t, "use within a minute", used(), t1)
	t3 := t1.Add(61 * time.Second)
	f.must(f.s.TouchAPIKey(f.ctx, k.ID, t3, t3.Add(-time.Minute)), "TouchAPIKey")
	equal(t, "use a minute later", used(), t3)
	// An unknown key is not an error: it has nothing to record.
	f.must(f.s.TouchAPIKey(f.ctx, ids.New(ids.APIKey, Base), t3, t3), "TouchAPIKey(unknown)")
}
