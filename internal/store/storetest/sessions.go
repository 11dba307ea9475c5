package storetest

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/store"
)

var sessionCases = []testCase{
	{"Sessions", testSessions},
	{"RevokeEndsSessions", testRevokeEndsSessions},
	{"DeleteExpiredSessions", testDeleteExpiredSessions},
	{"Flashes", testFlashes},
}

// apiKey creates a key of projectID ("" for an admin key).
func (f *fixture) apiKey(projectID string) store.APIKey {
	f.t.Helper()
	f.n++
	h := sha256.Sum256(fmt.Appendf(nil, "hk_fixture_%d", f.n))
	k := store.APIKey{ID: ids.New(ids.APIKey, Base), ProjectID: projectID, Hash: h[:], Prefix: "hk_fix", Scope: "project", CreatedAt: Base}
	if projectID == "" {
		k.Scope = "admin"
	}
	f.must(f.s.CreateAPIKey(f.ctx, k), "CreateAPIKey")
	return k
}

// session creates a session of key k that expires at expires.
func (f *fixture) session(k store.APIKey, expires time.Time) store.Session {
	f.t.Helper()
	f.n++
	h := sha256.Sum256(fmt.Appendf(nil, "session_%d", f.n))
	s := store.Session{Hash: h[:], APIKeyID: k.ID, ProjectID: k.ProjectID, Scope: k.Scope, CreatedAt: Base, ExpiresAt: expires}
	f.must(f.s.CreateSession(f.ctx, s), "CreateSession")
	return s
}

func testSessions(t *testing.T, f *fixture) {
	p := f.project()
	admin, kp := f.apiKey(""), f.apiKey(p.ID)
	expires := Base.Add(12 * time.Hour)

	get := func(what string, hash []byte, now time.Time) (store.Session, error) {
		t.Helper()
		return f.s.GetSession(f.ctx, bytes.Clone(hash), now)
	}

	sa := f.session(admin, expires)
	sp := f.session(kp, expires)
	// The project comes from the key, whatever the caller put in.
	h := sha256.Sum256([]byte("session with a wrong project"))
	wrong := store.Session{Hash: append([]byte{0, 0, 0xff}, h[3:]...), APIKeyID: kp.ID, ProjectID: "prj_other", CreatedAt: Base, ExpiresAt: expires}
	f.must(f.s.CreateSession(f.ctx, wrong), "CreateSession")
	wrong.ProjectID, wrong.Scope = p.ID, kp.Scope

	for _, s := range []store.Session{sa, sp, wrong} {
		got, err := get("GetSession", s.Hash, Base)
		f.must(err, "GetSession")
		equal(t, "GetSession", got, s)
	}

	// A session ends at the instant it expires.
	_, err := get("GetSession", sp.Hash, expires.Add(-time.Microsecond))
	f.must(err, "GetSession just before expiry")
	_, err = get("GetSession", sp.Hash, expires)
	wantErr(t, "GetSession at expiry", err, store.ErrNotFound)
	_, err = get("GetSession", sp.Hash, expires.Add(time.Hour))
	wantErr(t, "GetSession after expiry", err, store.ErrNotFound)

	_, err = get("GetSession", make([]byte, 32), Base)
	wantErr(t, "GetSession(unknown)", err, store.ErrNotFound)

	dup := sp
	dup.APIKeyID = admin.ID
	wantErr(t, "CreateSession(duplicate hash)", f.s.CreateSession(f.ctx, dup), store.ErrConflict)
	got, err := get("GetSession", sp.Hash, Base)
	f.must(err, "GetSession")
	equal(t, "after refused duplicate", got, sp)

	h = sha256.Sum256([]byte("session of no key"))
	orphan := store.Session{Hash: h[:], APIKeyID: ids.New(ids.APIKey, Base), CreatedAt: Base, ExpiresAt: expires}
	wantErr(t, "CreateSession(unknown key)", f.s.CreateSession(f.ctx, orphan), store.ErrNotFound)

	// Signing out ends this session only, and twice is harmless.
	f.must(f.s.DeleteSession(f.ctx, bytes.Clone(sp.Hash)), "DeleteSession")
	_, err = get("GetSession", sp.Hash, Base)
	wantErr(t, "GetSession after DeleteSession", err, store.ErrNotFound)
	f.must(f.s.DeleteSession(f.ctx, sp.Hash), "DeleteSession again")
	for _, s := range []store.Session{sa, wrong} {
		got, err := get("GetSession", s.Hash, Base)
		f.must(err, "GetSession of another session")
		equal(t, "another session", got, s)
	}
}

func testRevokeEndsSessions(t *testing.T, f *fixture) {
	p, q := f.project(), f.project()
	admin, kp, kp2, kq := f.apiKey(""), f.apiKey(p.ID), f.apiKey(p.ID), f.apiKey(q.ID)
	expires := Base.Add(12 * time.Hour)
	sa, sp1, sp2 := f.session(admin, expires), f.session(kp, expires), f.session(kp, expires)
	sp3, sq := f.session(kp2, expires), f.session(kq, expires)

	alive := func(what string, want bool, ss ...store.Session) {
		t.Helper()
		for _, s := range ss {
			_, err := f.s.GetSession(f.ctx, s.Hash, Base)
			switch {
			case want && err != nil:
				t.Errorf("%s: GetSession: %v", what, err)
			case !want:
				wantErr(t, what, err, store.ErrNotFound)
			}
		}
	}

	// A refused revocation (another project's scope) ends nothing.
	wantErr(t, "revoke p's key as q", f.revoke(q.ID, kp.ID, Base), store.ErrNotFound)
	alive("after a refused revocation", true, sa, sp1, sp2, sp3, sq)

	f.must(f.revoke(p.ID, kp.ID, Base), "RevokeAPIKey")
	alive("sessions of the revoked key", false, sp1, sp2)
	alive("sessions of other keys", true, sa, sp3, sq)

	// A session created for a key after it was revoked (a sign-in racing
	// the revocation) is not valid either.
	late := f.session(kp, expires)
	alive("session of a revoked key", false, late)

	f.must(f.revoke("", admin.ID, Base), "RevokeAPIKey(admin)")
	alive("sessions of the revoked admin key", false, sa)
	alive("sessions of other keys", true, sp3, sq)
}

func testDeleteExpiredSessions(t *testing.T, f *fixture) {
	k := f.apiKey("")
	var expired, valid []store.Session
	for i := range 5 {
		expired = append(expired, f.session(k, Base.Add(time.Duration(i-5)*time.Minute)))
	}
	expired = append(expired, f.session(k, Base)) // expires at the instant asked about
	for i := range 3 {
		valid = append(valid, f.session(k, Base.Add(time.Duration(i+1)*time.Minute)))
	}

	n, err := f.s.DeleteExpiredSessions(f.ctx, Base, 4)
	f.must(err, "DeleteExpiredSessions")
	if n != 4 {
		t.Errorf("DeleteExpiredSessions(limit 4) removed %d", n)
	}
	n, err = f.s.DeleteExpiredSessions(f.ctx, Base, 4)
	f.must(err, "DeleteExpiredSessions")
	if n != 2 {
		t.Errorf("DeleteExpiredSessions(limit 4) the second time removed %d, want the 2 left", n)
	}
	n, err = f.s.DeleteExpiredSessions(f.ctx, Base, 4)
	f.must(err, "DeleteExpiredSessions")
	if n != 0 {
		t.Errorf("DeleteExpiredSessions with none expired removed %d", n)
	}
	for _, s := range valid {
		got, err := f.s.GetSession(f.ctx, s.Hash, Base)
		f.must(err, "GetSession of a valid session")
		equal(t, "valid session", got, s)
	}
	// The expired ones are gone, not only hidden: looked up at a moment
	// before they expired, they are not found.
	for _, s := range expired {
		_, err := f.s.GetSession(f.ctx, s.Hash, Base.Add(-time.Hour))
		wantErr(t, "GetSession of a removed session", err, store.ErrNotFound)
	}
}

// testFlashes: a flash is taken once, by its session and id only, not
// after it expired, and goes with its session.
func testFlashes(t *testing.T, f *fixture) {
	k := f.apiKey("")
	expires := Base.Add(12 * time.Hour)
	s1, s2 := f.session(k, expires), f.session(k, expires)
	put := func(s store.Session, id, data string, at time.Time) {
		t.Helper()
		f.must(f.s.PutFlash(f.ctx, store.Flash{SessionHash: bytes.Clone(s.Hash), ID: id, Data: []byte(data),
			CreatedAt: at, ExpiresAt: at.Add(10 * time.Minute)}), "PutFlash")
	}
	take := func(s store.Session, id string, now time.Time) (string, error) {
		t.Helper()
		b, err := f.s.TakeFlash(f.ctx, bytes.Clone(s.Hash), id, now)
		return string(b), err
	}

	put(s1, "a", "first", Base)
	put(s1, "b", "second", Base)
	put(s2, "a", "other session", Base)
	_, err := take(s1, "c", Base)
	wantErr(t, "TakeFlash(unknown id)", err, store.ErrNotFound)
	got, err := take(s1, "a", Base)
	if err != nil || got != "first" {
		t.Errorf("TakeFlash(s1, a) = %q, %v; want first", got, err)
	}
	_, err = take(s1, "a", Base)
	wantErr(t, "TakeFlash a second time", err, store.ErrNotFound)
	got, err = take(s2, "a", Base)
	if err != nil || got != "other session" {
		t.Errorf("TakeFlash(s2, a) = %q, %v; want the other session's", got, err)
	}

	// Expired at the instant ExpiresAt; a later put removes it for good.
	_, err = take(s1, "b", Base.Add(10*time.Minute))
	wantErr(t, "TakeFlash at expiry", err, store.ErrNotFound)
	put(s1, "c", "third", Base)
	put(s1, "d", "fourth", Base.Add(10*time.Minute))
	_, err = take(s1, "c", Base)
	wantErr(t, "TakeFlash of one removed as expired by a later put", err, store.ErrNotFound)

	h := sha256.Sum256([]byte("no such session"))
	err = f.s.PutFlash(f.ctx, store.Flash{SessionHash: h[:], ID: "a", Data: []byte("x"), CreatedAt: Base, ExpiresAt: expires})
	wantErr(t, "PutFlash(unknown session)", err, store.ErrNotFound)

	// Signing out takes the session's flashes with it.
	put(s2, "e", "fifth", Base)
	f.must(f.s.DeleteSession(f.ctx, bytes.Clone(s2.Hash)), "DeleteSession")
	// Even a session made again with the same hash finds nothing.
	f.must(f.s.CreateSession(f.ctx, s2), "CreateSession again")
	_, err = take(s2, "e", Base)
	wantErr(t, "TakeFlash after sign-out", err, store.ErrNotFound)
}
