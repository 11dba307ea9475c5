package storetest

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/store"
)

var projectCases = []testCase{
	{"Ping", testPing},
	{"TimePrecision", testTimePrecision},
	{"Projects", testProjects},
	{"ListProjects", testListProjects},
	{"Secrets", testSecrets},
	{"RotateSecret", testRotateSecret},
	{"APIKeys", testAPIKeys},
	{"ListAPIKeys", testListAPIKeys},
}

func testPing(t *testing.T, f *fixture) {
	if err := f.s.Ping(f.ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

func testTimePrecision(t *testing.T, f *fixture) {
	for _, tc := range []struct {
		name string
		at   time.Time
	}{
		{"microseconds", Base.Add(123456 * time.Microsecond)},
		{"nanoseconds", Base.Add(123456789 * time.Nanosecond)},
		{"other zone", Base.Add(7 * time.Millisecond).In(time.FixedZone("UTC+5", 5*3600))},
		{"far past", time.Date(1971, 1, 2, 3, 4, 5, 6000, time.UTC)},
	} {
		p := store.Project{ID: ids.New(ids.Project, Base), Name: tc.name, CreatedAt: tc.at}
		f.must(f.s.CreateProject(f.ctx, p), "CreateProject")
		got, err := f.s.GetProject(f.ctx, p.ID)
		f.must(err, "GetProject")
		if got.CreatedAt.Location() != time.UTC {
			t.Errorf("%s: CreatedAt %s is not UTC", tc.name, got.CreatedAt)
		}
		if d := got.CreatedAt.Sub(tc.at).Abs(); d >= time.Microsecond {
			t.Errorf("%s: CreatedAt %s, want %s (off by %s)", tc.name, got.CreatedAt, tc.at, d)
		}
	}
}

func testProjects(t *testing.T, f *fixture) {
	p := store.Project{ID: ids.New(ids.Project, Base), Name: "Acme, Inc. ✓", CreatedAt: Base.Add(1500 * time.Microsecond)}
	f.must(f.s.CreateProject(f.ctx, p), "CreateProject")

	got, err := f.s.GetProject(f.ctx, p.ID)
	f.must(err, "GetProject")
	equal(t, "GetProject", got, p)

	_, err = f.s.GetProject(f.ctx, ids.New(ids.Project, Base))
	wantErr(t, "GetProject(unknown)", err, store.ErrNotFound)

	dup := p
	dup.Name = "other"
	wantErr(t, "CreateProject(duplicate id)", f.s.CreateProject(f.ctx, dup), store.ErrConflict)
	got, err = f.s.GetProject(f.ctx, p.ID)
	f.must(err, "GetProject")
	equal(t, "GetProject after duplicate", got, p)
}

func testListProjects(t *testing.T, f *fixture) {
	var all []store.Project
	for i := range 7 {
		all = append(all, store.Project{ID: ids.New(ids.Project, Base.Add(time.Duration(i)*time.Minute)), Name: fmt.Sprint("p", i), CreatedAt: Base})
	}
	// Created out of order: the list is by id, not by insertion.
	for _, i := range rand.New(rand.NewPCG(1, 2)).Perm(len(all)) {
		f.must(f.s.CreateProject(f.ctx, all[i]), "CreateProject")
	}

	list := func(only string, page store.Page) []store.Project {
		t.Helper()
		ps, err := f.s.ListProjects(f.ctx, only, page)
		f.must(err, "ListProjects")
		return ps
	}
	equal(t, "all", list("", store.Page{Limit: 100}), all)

	var paged []store.Project
	after := ""
	for range 10 {
		page := list("", store.Page{After: after, Limit: 3})
		if len(page) > 3 {
			t.Fatalf("page of %d projects, limit 3", len(page))
		}
		if len(page) == 0 {
			break
		}
		paged = append(paged, page...)
		after = page[len(page)-1].ID
	}
	equal(t, "pages", paged, all)

	equal(t, "only one", list(all[3].ID, store.Page{Limit: 100}), all[3:4])
	equal(t, "only one, after it", list(all[3].ID, store.Page{After: all[3].ID, Limit: 100}), []store.Project(nil))
	equal(t, "only unknown", list(ids.New(ids.Project, Base), store.Page{Limit: 100}), []store.Project(nil))
}

func testSecrets(t *testing.T, f *fixture) {
	p, q := f.project(), f.project()
	old := store.Secret{ID: ids.New(ids.Secret, Base), ProjectID: p.ID, Value: "whsec_old", CreatedAt: Base}
	newer := store.Secret{ID: ids.New(ids.Secret, Base), ProjectID: p.ID, Value: "whsk_newer", CreatedAt: Base.Add(time.Minute), ExpiresAt: Base.Add(10 * time.Minute)}
	other := store.Secret{ID: ids.New(ids.Secret, Base), ProjectID: q.ID, Value: "whsec_other", CreatedAt: Base.Add(2 * time.Minute)}
	for _, s := range []store.Secret{newer, old, other} {
		f.must(f.s.AddSecret(f.ctx, s), "AddSecret")
	}
	dup := old
	dup.Value = "whsec_dup"
	wantErr(t, "AddSecret(duplicate id)", f.s.AddSecret(f.ctx, dup), store.ErrConflict)

	for _, tc := range []struct {
		name    string
		project string
		now     time.Time
		want    []store.Secret
	}{
		{"before expiry, newest first", p.ID, Base.Add(5 * time.Minute), []store.Secret{newer, old}},
		{"just before expiry", p.ID, Base.Add(10*time.Minute - time.Microsecond), []store.Secret{newer, old}},
		{"at expiry", p.ID, Base.Add(10 * time.Minute), []store.Secret{old}},
		{"other project", q.ID, Base.Add(5 * time.Minute), []store.Secret{other}},
		{"unknown project", ids.New(ids.Project, Base), Base, nil},
	} {
		got, err := f.s.ActiveSecrets(f.ctx, tc.project, tc.now)
		f.must(err, "ActiveSecrets")
		equal(t, tc.name, got, tc.want)
	}
}

func testRotateSecret(t *testing.T, f *fixture) {
	p, q := f.project(), f.project()
	s1 := store.Secret{ID: ids.New(ids.Secret, Base), ProjectID: p.ID, Value: "whsec_1", CreatedAt: Base}
	s2 := store.Secret{ID: ids.New(ids.Secret, Base), ProjectID: p.ID, Value: "whsec_2", CreatedAt: Base.Add(time.Minute), ExpiresAt: Base.Add(10 * time.Minute)}
	s3 := store.Secret{ID: ids.New(ids.Secret, Base), ProjectID: p.ID, Value: "whsec_3", CreatedAt: Base.Add(2 * time.Minute), ExpiresAt: Base.Add(2 * time.Hour)}
	sq := store.Secret{ID: ids.New(ids.Secret, Base), ProjectID: q.ID, Value: "whsec_q", CreatedAt: Base}
	for _, s := range []store.Secret{s1, s2, s3, sq} {
		f.must(f.s.AddSecret(f.ctx, s), "AddSecret")
	}
	active := func(projectID string, now time.Time) []store.Secret {
		t.Helper()
		got, err := f.s.ActiveSecrets(f.ctx, projectID, now)
		f.must(err, "ActiveSecrets")
		return got
	}

	// With a grace period: the secret replaced (s3, the newest) gets
	// oldExpiresAt as it expires later; the older ones stop when the new
	// one starts (s1), unless they expire earlier still (s2).
	s4 := store.Secret{ID: ids.New(ids.Secret, Base), ProjectID: p.ID, Value: "whsec_4", CreatedAt: Base.Add(20 * time.Minute)}
	f.must(f.s.RotateSecret(f.ctx, s4, Base.Add(30*time.Minute)), "RotateSecret")
	s1.ExpiresAt = Base.Add(20 * time.Minute)
	s3.ExpiresAt = Base.Add(30 * time.Minute)
	equal(t, "during grace", active(p.ID, Base.Add(25*time.Minute)), []store.Secret{s4, s3})
	equal(t, "when rotated", active(p.ID, Base.Add(20*time.Minute)), []store.Secret{s4, s3})
	equal(t, "s2 expired before", active(p.ID, Base.Add(5*time.Minute)), []store.Secret{s4, s3, s2, s1})
	equal(t, "after grace", active(p.ID, Base.Add(30*time.Minute)), []store.Secret{s4})
	equal(t, "other project untouched", active(q.ID, Base.Add(time.Hour)), []store.Secret{sq})

	// A second rotation within the grace: only the secret it replaces
	// (s4) keeps a grace; s3 stops at once, however long its own grace.
	s45 := store.Secret{ID: ids.New(ids.Secret, Base), ProjectID: p.ID, Value: "whsec_45", CreatedAt: Base.Add(22 * time.Minute)}
	f.must(f.s.RotateSecret(f.ctx, s45, Base.Add(35*time.Minute)), "RotateSecret")
	s4.ExpiresAt = Base.Add(35 * time.Minute)
	s3.ExpiresAt = Base.Add(22 * time.Minute)
	equal(t, "two rotations within a grace sign with two secrets", active(p.ID, Base.Add(22*time.Minute)), []store.Secret{s45, s4})

	// Without a grace period the old secret stops signing at once.
	s5 := store.Secret{ID: ids.New(ids.Secret, Base), ProjectID: p.ID, Value: "whsec_5", CreatedAt: Base.Add(40 * time.Minute)}
	f.must(f.s.RotateSecret(f.ctx, s5, s5.CreatedAt), "RotateSecret")
	equal(t, "immediate rotation", active(p.ID, s5.CreatedAt), []store.Secret{s5})

	dup := s5
	dup.Value = "whsec_dup"
	wantErr(t, "RotateSecret(duplicate id)", f.s.RotateSecret(f.ctx, dup, Base.Add(time.Hour)), store.ErrConflict)
	equal(t, "failed rotation changes nothing", active(p.ID, s5.CreatedAt), []store.Secret{s5})
}

func testAPIKeys(t *testing.T, f *fixture) {
	p, q := f.project(), f.project()
	key := func(projectID, secret string) store.APIKey {
		h := sha256.Sum256([]byte(secret))
		return store.APIKey{ID: ids.New(ids.APIKey, Base), ProjectID: projectID, Hash: h[:], Prefix: secret[:8], CreatedAt: Base}
	}
	admin := key("", "hk_admin_0000000000")
	kp := key(p.ID, "hk_p_000000000000000")
	kq := key(q.ID, "hk_q_000000000000000")
	// A hash with zero bytes must survive as bytes, not text.
	kp.Hash = append([]byte{0, 0, 0xff}, kp.Hash[3:]...)

	n, err := f.s.CountAdminKeys(f.ctx)
	f.must(err, "CountAdminKeys")
	if n != 0 {
		t.Errorf("CountAdminKeys on an empty store = %d", n)
	}
	for _, k := range []store.APIKey{admin, kp, kq} {
		f.must(f.s.CreateAPIKey(f.ctx, k), "CreateAPIKey")
	}
	for _, k := range []store.APIKey{admin, kp, kq} {
		got, err := f.s.GetAPIKeyByHash(f.ctx, bytes.Clone(k.Hash))
		f.must(err, "GetAPIKeyByHash")
		equal(t, "GetAPIKeyByHash", got, k)
	}
	_, err = f.s.GetAPIKeyByHash(f.ctx, make([]byte, 32))
	wantErr(t, "GetAPIKeyByHash(unknown)", err, store.ErrNotFound)

	dupHash := key(p.ID, "hk_other_000000")
	dupHash.Hash = kq.Hash
	wantErr(t, "CreateAPIKey(duplicate hash)", f.s.CreateAPIKey(f.ctx, dupHash), store.ErrConflict)
	dupID := key(p.ID, "hk_other_111111")
	dupID.ID = kp.ID
	wantErr(t, "CreateAPIKey(duplicate id)", f.s.CreateAPIKey(f.ctx, dupID), store.ErrConflict)

	// Revocation is scoped to the project; "" scopes to admin keys.
	at := Base.Add(time.Hour)
	wantErr(t, "revoke p's key as q", f.revoke(q.ID, kp.ID, at), store.ErrNotFound)
	wantErr(t, "revoke p's key as admin scope", f.revoke("", kp.ID, at), store.ErrNotFound)
	wantErr(t, "revoke admin key as p", f.revoke(p.ID, admin.ID, at), store.ErrNotFound)
	wantErr(t, "revoke unknown key", f.revoke(p.ID, ids.New(ids.APIKey, Base), at), store.ErrNotFound)
	got, err := f.s.GetAPIKeyByHash(f.ctx, kp.Hash)
	f.must(err, "GetAPIKeyByHash")
	equal(t, "after refused revocations", got, kp)

	f.must(f.revoke(p.ID, kp.ID, at), "RevokeAPIKey")
	f.must(f.revoke("", admin.ID, at), "RevokeAPIKey(admin)")
	for _, k := range []store.APIKey{admin, kp} {
		got, err := f.s.GetAPIKeyByHash(f.ctx, k.Hash)
		f.must(err, "GetAPIKeyByHash")
		k.RevokedAt = at
		equal(t, "revoked", got, k)
	}
	got, err = f.s.GetAPIKeyByHash(f.ctx, kq.Hash)
	f.must(err, "GetAPIKeyByHash")
	equal(t, "other project's key untouched", got, kq)

	// Revoked admin keys still count: the question is whether one was
	// ever created.
	f.must(f.s.CreateAPIKey(f.ctx, key("", "hk_admin_1111111111")), "CreateAPIKey")
	n, err = f.s.CountAdminKeys(f.ctx)
	f.must(err, "CountAdminKeys")
	if n != 2 {
		t.Errorf("CountAdminKeys = %d, want 2", n)
	}
}

func testListAPIKeys(t *testing.T, f *fixture) {
	p, q := f.project(), f.project()
	// Keys of p, of q and admin keys, interleaved in time and created out
	// of order: the list is by id, scoped to one owner.
	byOwner := map[string][]store.APIKey{}
	var all []store.APIKey
	for i := range 9 {
		owner := []string{p.ID, q.ID, ""}[i%3]
		at := Base.Add(time.Duration(i) * time.Minute)
		h := sha256.Sum256(fmt.Appendf(nil, "hk_list_%d", i))
		k := store.APIKey{ID: ids.New(ids.APIKey, at), ProjectID: owner, Hash: h[:], Prefix: fmt.Sprintf("hk_%d", i), CreatedAt: at}
		byOwner[owner] = append(byOwner[owner], k)
		all = append(all, k)
	}
	for _, i := range rand.New(rand.NewPCG(3, 4)).Perm(len(all)) {
		f.must(f.s.CreateAPIKey(f.ctx, all[i]), "CreateAPIKey")
	}
	// Revoked keys are listed too, with their revocation time.
	revokedAt := Base.Add(time.Hour)
	f.must(f.revoke(p.ID, byOwner[p.ID][1].ID, revokedAt), "RevokeAPIKey")
	byOwner[p.ID][1].RevokedAt = revokedAt

	list := func(projectID string, page store.Page) []store.APIKey {
		t.Helper()
		ks, err := f.s.ListAPIKeys(f.ctx, projectID, page)
		f.must(err, "ListAPIKeys")
		return ks
	}
	for _, owner := range []string{p.ID, q.ID, ""} {
		equal(t, fmt.Sprintf("keys of %q", owner), list(owner, store.Page{Limit: 100}), byOwner[owner])
	}

	var paged []store.APIKey
	after := ""
	for range 10 {
		page := list(p.ID, store.Page{After: after, Limit: 2})
		if len(page) > 2 {
			t.Fatalf("page of %d keys, limit 2", len(page))
		}
		if len(page) == 0 {
			break
		}
		paged = append(paged, page...)
		after = page[len(page)-1].ID
	}
	equal(t, "pages", paged, byOwner[p.ID])

	equal(t, "unknown project", list(ids.New(ids.Project, Base), store.Page{Limit: 100}), []store.APIKey(nil))
}
