package storetest

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/store"
)

var portalCases = []testCase{
	{"PortalClaimOnce", testPortalClaimOnce},
	{"PortalClaimRace", testPortalClaimRace},
	{"PortalRefusals", testPortalRefusals},
	{"PortalEnd", testPortalEnd},
	{"PortalBrand", testPortalBrand},
	{"PortalAuditActor", testPortalAuditActor},
}

func (f *fixture) hash(what string) []byte {
	f.n++
	h := sha256.Sum256(fmt.Appendf(nil, "%s_%d", what, f.n))
	return h[:]
}

// portal makes an unclaimed portal session of key k expiring at expires.
func (f *fixture) portal(k store.APIKey, access string, expires time.Time) store.PortalSession {
	f.t.Helper()
	p := store.PortalSession{ID: ids.New(ids.Portal, Base), ProjectID: k.ProjectID, APIKeyID: k.ID,
		LinkHash: f.hash("link"), Access: access, ReturnURL: "https://app.example/settings",
		CreatedAt: Base, ExpiresAt: expires}
	f.must(f.s.CreatePortalSession(f.ctx, p), "CreatePortalSession")
	return p
}

func testPortalClaimOnce(t *testing.T, f *fixture) {
	p := f.project()
	k := f.apiKey(p.ID)
	ps := f.portal(k, "manage", Base.Add(time.Hour))
	now := Base.Add(time.Minute)

	sh := f.hash("session")
	got, err := f.s.ClaimPortalSession(f.ctx, bytes.Clone(ps.LinkHash), sh, now)
	if err != nil {
		t.Fatalf("first claim: %v", err)
	}
	if got.ID != ps.ID || got.ProjectID != p.ID || got.APIKeyID != k.ID || got.Access != "manage" ||
		got.ReturnURL != ps.ReturnURL || !got.ClaimedAt.Equal(now) || !got.ExpiresAt.Equal(ps.ExpiresAt) ||
		!bytes.Equal(got.SessionHash, sh) || got.KeyRevoked {
		t.Errorf("claimed = %+v", got)
	}
	// The second visit is refused, and says which session it was.
	again, err := f.s.ClaimPortalSession(f.ctx, ps.LinkHash, f.hash("session"), now.Add(time.Second))
	if !errors.Is(err, store.ErrConflict) || again.ID != ps.ID || !again.ClaimedAt.Equal(now) {
		t.Errorf("second claim = %+v, %v; want the claimed session and ErrConflict", again, err)
	}
	if _, err := f.s.ClaimPortalSession(f.ctx, f.hash("link"), f.hash("session"), now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("claim of an unknown link: %v, want ErrNotFound", err)
	}
	// The browser's session is found as a portal session, never as an
	// operator's sign-in; its flashes work.
	byHash, err := f.s.GetPortalSession(f.ctx, sh)
	if err != nil || byHash.ID != ps.ID || !bytes.Equal(byHash.LinkHash, ps.LinkHash) {
		t.Errorf("GetPortalSession = %+v, %v", byHash, err)
	}
	if _, err := f.s.GetSession(f.ctx, sh, now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetSession of a portal session: %v, want ErrNotFound", err)
	}
	if _, err := f.s.GetPortalSession(f.ctx, ps.LinkHash); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetPortalSession by the link's hash: %v, want ErrNotFound", err)
	}
	fl := store.Flash{SessionHash: sh, ID: "f1", Data: []byte("x"), CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
	f.must(f.s.PutFlash(f.ctx, fl), "PutFlash")
	if d, err := f.s.TakeFlash(f.ctx, sh, "f1", now); err != nil || string(d) != "x" {
		t.Errorf("TakeFlash = %q, %v", d, err)
	}
}

// testPortalClaimRace: the same link opened at once from several places
// is claimed once.
func testPortalClaimRace(t *testing.T, f *fixture) {
	p := f.project()
	ps := f.portal(f.apiKey(p.ID), "manage", Base.Add(time.Hour))
	const n = 8
	hashes := make([][]byte, n)
	for i := range hashes {
		hashes[i] = f.hash("s")
	}
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := f.s.ClaimPortalSession(f.ctx, ps.LinkHash, hashes[i], Base.Add(time.Minute))
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	won := 0
	for err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, store.ErrConflict):
			t.Errorf("a losing claim: %v, want ErrConflict", err)
		}
	}
	if won != 1 {
		t.Errorf("%d claims won, want 1", won)
	}
}

func testPortalRefusals(t *testing.T, f *fixture) {
	p := f.project()
	k := f.apiKey(p.ID)
	expired := f.portal(k, "view", Base.Add(time.Hour))
	if got, err := f.s.ClaimPortalSession(f.ctx, expired.LinkHash, f.hash("s"), Base.Add(time.Hour)); !errors.Is(err, store.ErrConflict) ||
		got.ReturnURL != expired.ReturnURL || !got.ClaimedAt.IsZero() {
		t.Errorf("claim at expiry = %+v, %v; want ErrConflict, unclaimed", got, err)
	}

	k2 := f.apiKey(p.ID)
	ps := f.portal(k2, "view", Base.Add(time.Hour))
	claimed := f.portal(k2, "view", Base.Add(time.Hour))
	sh := f.hash("s")
	if _, err := f.s.ClaimPortalSession(f.ctx, claimed.LinkHash, sh, Base); err != nil {
		t.Fatal(err)
	}
	f.must(f.revoke(p.ID, k2.ID, Base.Add(time.Minute)), "RevokeAPIKey")
	if got, err := f.s.ClaimPortalSession(f.ctx, ps.LinkHash, f.hash("s"), Base.Add(2*time.Minute)); !errors.Is(err, store.ErrConflict) || !got.KeyRevoked {
		t.Errorf("claim after revocation = %+v, %v; want ErrConflict, KeyRevoked", got, err)
	}
	if got, err := f.s.GetPortalSession(f.ctx, sh); err != nil || !got.KeyRevoked {
		t.Errorf("GetPortalSession after revocation = %+v, %v; want KeyRevoked", got, err)
	}
	// Unknown key or project.
	bad := store.PortalSession{ID: ids.New(ids.Portal, Base), ProjectID: p.ID, APIKeyID: "key_nope",
		LinkHash: f.hash("l"), Access: "view", CreatedAt: Base, ExpiresAt: Base.Add(time.Hour)}
	if err := f.s.CreatePortalSession(f.ctx, bad); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("CreatePortalSession of an unknown key: %v, want ErrNotFound", err)
	}
}

func testPortalEnd(t *testing.T, f *fixture) {
	p := f.project()
	k := f.apiKey(p.ID)
	ps := f.portal(k, "manage", Base.Add(time.Hour))
	sh := f.hash("s")
	if _, err := f.s.ClaimPortalSession(f.ctx, ps.LinkHash, sh, Base); err != nil {
		t.Fatal(err)
	}
	at := Base.Add(time.Minute)
	f.must(f.s.EndPortalSession(f.ctx, sh, at), "EndPortalSession")
	f.must(f.s.EndPortalSession(f.ctx, sh, at.Add(time.Minute)), "EndPortalSession again")
	got, err := f.s.GetPortalSession(f.ctx, sh)
	if err != nil || !got.EndedAt.Equal(at) {
		t.Errorf("after sign-out = %+v, %v; want EndedAt %v", got, err, at)
	}
	// Its session row went with it (so did its flashes).
	fl := store.Flash{SessionHash: sh, ID: "f1", Data: []byte("x"), CreatedAt: at, ExpiresAt: at.Add(time.Minute)}
	if err := f.s.PutFlash(f.ctx, fl); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("PutFlash after sign-out: %v, want ErrNotFound", err)
	}
	// Kept a week past its expiry, then removed.
	if _, err := f.s.DeleteExpiredSessions(f.ctx, Base.Add(time.Hour+24*time.Hour), 100); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.GetPortalSession(f.ctx, sh); err != nil {
		t.Errorf("a day after expiry: %v, want it kept", err)
	}
	if _, err := f.s.DeleteExpiredSessions(f.ctx, Base.Add(time.Hour+8*24*time.Hour), 100); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.GetPortalSession(f.ctx, sh); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("eight days after expiry: %v, want ErrNotFound", err)
	}
}

func testPortalBrand(t *testing.T, f *fixture) {
	p := f.project()
	if b, err := f.s.GetPortalBrand(f.ctx, p.ID); err != nil || b != (store.PortalBrand{}) {
		t.Errorf("brand never set = %+v, %v", b, err)
	}
	want := store.PortalBrand{Name: "Acme", LogoURL: "https://acme.example/logo.svg", AccentColor: "#0a7f5c"}
	f.must(f.s.SetPortalBrand(f.ctx, p.ID, want), "SetPortalBrand")
	want.AccentColor = "#112233"
	f.must(f.s.SetPortalBrand(f.ctx, p.ID, want), "SetPortalBrand again")
	if b, err := f.s.GetPortalBrand(f.ctx, p.ID); err != nil || b != want {
		t.Errorf("brand = %+v, %v; want %+v", b, err, want)
	}
	if err := f.s.SetPortalBrand(f.ctx, "prj_nope", want); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SetPortalBrand of an unknown project: %v, want ErrNotFound", err)
	}
}

func testPortalAuditActor(t *testing.T, f *fixture) {
	p := f.project()
	r := store.AuditRecord{ID: ids.New(ids.Audit, Base), ProjectID: p.ID, At: Base, ActorKeyID: "key_x",
		ActorPortalID: "ps_x", Source: "127.0.0.1", Action: "secret.rotated"}
	f.must(f.s.AddAudit(f.ctx, r), "AddAudit")
	got, err := f.s.ListAudit(f.ctx, p.ID, store.Page{Limit: 10})
	if err != nil || len(got) != 1 || got[0].ActorPortalID != "ps_x" || got[0].ActorKeyID != "key_x" {
		t.Errorf("ListAudit = %+v, %v", got, err)
	}
}
