package service_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/service"
	"github.com/hookd/hookd/internal/store"
)

// countingStore counts key lookups.
type countingStore struct {
	store.Store
	lookups atomic.Int64
}

func (s *countingStore) GetAPIKeyByHash(ctx context.Context, hash []byte) (store.APIKey, error) {
	s.lookups.Add(1)
	return s.Store.GetAPIKeyByHash(ctx, hash)
}

// TestSigninLimit: a source that keeps failing is refused before its key
// is looked up, with how long to wait; other sources, and keys this node
// knows valid, are not slowed; failures are logged and audited a bounded
// number of times, without the key.
func TestSigninLimit(t *testing.T) {
	var counter *countingStore
	var logs bytes.Buffer
	e := newEnv(t, func(c *service.Config) {
		counter = &countingStore{Store: c.Store}
		c.Store = counter
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	pid := e.project("p")
	admin := context.Background()
	adm := e.adminKey()
	good, other := e.createKey(adm, pid, "good", "project"), e.createKey(adm, pid, "other", "read")
	from := func(src string) context.Context {
		return service.WithActor(context.Background(), service.Actor{Source: src})
	}
	attacker, bystander := from("198.51.100.7"), from("203.0.113.5")
	const wrong = "hk_wrongwrongwrongwrongwrongwrongwrongwrong1"
	code := func(_ service.APIKey, err error) service.Code {
		if err == nil {
			return ""
		}
		var se *service.Error
		if !errors.As(err, &se) {
			t.Fatalf("error %v is not a service error", err)
		}
		return se.Code
	}

	// The good key is used from the attacker's address before, so this
	// node has it cached.
	if _, err := e.svc.Keys.Authenticate(attacker, good.Key); err != nil {
		t.Fatal(err)
	}
	for i := range service.DefaultSigninFailureBurst {
		if c := code(e.svc.Keys.Authenticate(attacker, wrong)); c != service.CodeUnauthenticated {
			t.Fatalf("failure %d: %s, want unauthenticated", i+1, c)
		}
	}
	before := counter.lookups.Load()
	for range 1000 {
		_, err := e.svc.Keys.Authenticate(attacker, wrong)
		var se *service.Error
		if !errors.As(err, &se) || se.Code != service.CodeRateLimited || se.RetryAfter != time.Second {
			t.Fatalf("beyond the burst: %v (%+v), want rate_limited retry after 1s", err, se)
		}
	}
	// Even a valid key this node has not seen is refused from there...
	if c := code(e.svc.Keys.Authenticate(attacker, other.Key)); c != service.CodeRateLimited {
		t.Fatalf("unknown valid key from the failing source: %s", c)
	}
	if n := counter.lookups.Load() - before; n != 0 {
		t.Fatalf("%d key lookups for refused sign-ins, want 0", n)
	}
	// ... but one it knows valid is not, and other addresses are not
	// slowed at all.
	if _, err := e.svc.Keys.Authenticate(attacker, good.Key); err != nil {
		t.Fatalf("cached valid key from the failing source: %v", err)
	}
	if _, err := e.svc.Keys.Authenticate(bystander, other.Key); err != nil {
		t.Fatalf("valid key from another address: %v", err)
	}
	if c := code(e.svc.Keys.Authenticate(bystander, wrong)); c != service.CodeUnauthenticated {
		t.Fatalf("first failure of another address: %s", c)
	}
	// The same /64 is the same IPv6 client.
	for i := range service.DefaultSigninFailureBurst {
		e.svc.Keys.Authenticate(from(fmt.Sprintf("2001:db8:1:2::%x", i+1)), wrong)
	}
	if c := code(e.svc.Keys.Authenticate(from("2001:db8:1:2::ffff"), wrong)); c != service.CodeRateLimited {
		t.Fatalf("another address of a failing /64: %s", c)
	}

	// One failure a second refills.
	e.clock.Advance(time.Second)
	if c := code(e.svc.Keys.Authenticate(attacker, wrong)); c != service.CodeUnauthenticated {
		t.Fatalf("after a second: %s, want one more try", c)
	}
	if c := code(e.svc.Keys.Authenticate(attacker, wrong)); c != service.CodeRateLimited {
		t.Fatalf("the second try after a second: %s", c)
	}

	// Reported once per source so far: the first failure.
	failures := func() []service.AuditRecord {
		t.Helper()
		l, err := e.svc.Audit.List(admin, "", service.Page{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		var out []service.AuditRecord
		for _, r := range l.Items {
			if r.Action == service.ActionSigninFailed {
				out = append(out, r)
			}
		}
		return out
	}
	if got := failures(); len(got) != 3 {
		t.Fatalf("%d signin.failed records, want one per source (3): %+v", len(got), got)
	}
	// A minute later the next failure reports what happened meanwhile.
	e.clock.Advance(time.Minute)
	e.svc.Keys.Authenticate(attacker, wrong)
	got := failures()
	if len(got) != 4 || got[0].Source != "198.51.100.7" || got[0].ActorKeyID != "" || got[0].ProjectID != "" ||
		!strings.HasPrefix(got[0].Detail, "11 failed, 1002 refused (too many failures) since ") {
		t.Fatalf("records after a minute: %+v", got)
	}
	if got[len(got)-1].Detail != "1 failed" {
		t.Errorf("first record: %q", got[len(got)-1].Detail)
	}
	if strings.Contains(logs.String(), "wrongwrong") || strings.Count(logs.String(), "failed sign-ins") != 4 {
		t.Errorf("log:\n%s", logs.String())
	}
}

// TestSignInRecorded: a sign-in that starts a session is audited, in the
// key's project, by the key.
func TestSignInRecorded(t *testing.T) {
	e := newEnv(t)
	pid := e.project("p")
	k := e.createKey(e.adminKey(), pid, "ui", "project")
	ctx := service.WithActor(context.Background(), service.Actor{Source: "192.0.2.4"})
	if _, err := e.svc.Keys.SignIn(ctx, k.Key); err != nil {
		t.Fatal(err)
	}
	l, err := e.svc.Audit.List(ctx, pid, service.Page{})
	if err != nil {
		t.Fatal(err)
	}
	if r := l.Items[0]; r.Action != service.ActionSigninSucceeded || r.ActorKeyID != k.ID || r.Source != "192.0.2.4" {
		t.Fatalf("newest record %+v", r)
	}
}
