package api_test

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/service"
	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/webhook"
)

func TestRotateSecret(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pid, key := e.project("acme")
	path := "/v1/projects/" + pid + "/secret"
	active := func() []store.Secret {
		t.Helper()
		s, err := e.db.ActiveSecrets(context.Background(), pid, e.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	var first secretOut
	e.do("GET", path, key, nil).decode(t, 200, &first)

	// Without grace the old secret stops signing at once.
	var second secretOut
	e.do("POST", path+"/rotate", key, nil).decode(t, 200, &second)
	if !strings.HasPrefix(second.Secret, "whsec_") || second.Secret == first.Secret {
		t.Fatalf("rotated to %q from %q", second.Secret, first.Secret)
	}
	if s := active(); len(s) != 1 || s[0].Value != second.Secret {
		t.Fatalf("active after rotation without grace: %d secrets", len(s))
	}
	if got := <-e.rotated; got != pid {
		t.Fatalf("OnRotate(%q), want %q", got, pid)
	}
	var read secretOut
	e.do("GET", path, key, nil).decode(t, 200, &read)
	if read != second {
		t.Fatalf("GET secret %q, want the new %q", read.Secret, second.Secret)
	}

	// With grace both sign until it ends; the new one is the primary.
	e.clock.Advance(time.Second)
	var third secretOut
	e.do("POST", path+"/rotate", key, `{"grace_period_seconds":3600}`).decode(t, 200, &third)
	if s := active(); len(s) != 2 || s[0].Value != third.Secret || s[1].Value != second.Secret {
		t.Fatalf("active during grace: %d secrets", len(s))
	}
	e.do("GET", path, key, nil).decode(t, 200, &read)
	if read.Secret != third.Secret {
		t.Fatal("GET secret is not the newest")
	}
	e.clock.Advance(time.Hour)
	if s := active(); len(s) != 1 {
		t.Fatalf("active after grace: %d secrets", len(s))
	}

	// Switching to Ed25519; later rotations keep the scheme.
	var ed secretOut
	e.do("POST", path+"/rotate", key, `{"signature_scheme":"ed25519"}`).decode(t, 200, &ed)
	if pub, err := webhook.PublicKey(ed.Secret); err != nil || pub != ed.PublicKey {
		t.Fatalf("ed25519 rotation: %+v (%v)", ed, err)
	}
	e.do("POST", path+"/rotate", key, `{}`).decode(t, 200, &ed)
	if !strings.HasPrefix(ed.Secret, "whsk_") || !strings.HasPrefix(ed.PublicKey, "whpk_") {
		t.Fatalf("rotation dropped the scheme: %+v", ed)
	}
	e.do("POST", path+"/rotate", key, `{"signature_scheme":"hmac"}`).decode(t, 200, &read)
	if !strings.HasPrefix(read.Secret, "whsec_") || read.PublicKey != "" {
		t.Fatalf("back to hmac: %+v", read)
	}
}

func TestRotateSecretInvalid(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pid, key := e.project("acme")
	before := e.state(pid)
	for _, tc := range []struct{ body, msg string }{
		{`{"grace_period_seconds":604801}`, "grace_period_seconds: must be from 0 to 604800"},
		{`{"grace_period_seconds":-1}`, "grace_period_seconds:"},
		{`{"grace_period_seconds":"60"}`, "grace_period_seconds: must be an integer"},
		{`{"grace_period_seconds":1.5}`, "grace_period_seconds: must be an integer"},
		{`{"grace_period_seconds":1e30}`, "grace_period_seconds: must be an integer"},
		{`{"signature_scheme":"rsa"}`, "signature_scheme:"},
		{`{"secret":"whsec_mine"}`, "secret: unknown field"},
		{`[`, "body: malformed JSON"},
	} {
		e.do("POST", "/v1/projects/"+pid+"/secret/rotate", key, tc.body).wantError(t, 400, "invalid_argument", tc.msg)
	}
	if after := e.state(pid); !reflect.DeepEqual(before, after) {
		t.Fatal("refused rotations changed the secrets")
	}
	if len(e.rotated) != 0 {
		t.Fatal("refused rotations called OnRotate")
	}
}

// TestSecretsSealedAtRest: with Seal/Open set, the store only ever holds
// sealed values and the API answers the plain ones.
func TestSecretsSealedAtRest(t *testing.T) {
	t.Parallel()
	seal := func(v string) (string, error) { return "sealed:" + reverse(v), nil }
	open := func(v string) (string, error) {
		rest, ok := strings.CutPrefix(v, "sealed:")
		if !ok {
			return v, nil
		}
		return reverse(rest), nil
	}
	e := newEnv(t, func(c *service.Config) { c.Seal, c.Open = seal, open })
	pid, key := e.project("acme")
	var sec secretOut
	e.do("GET", "/v1/projects/"+pid+"/secret", key, nil).decode(t, 200, &sec)
	stored := e.state(pid).Secrets
	if len(stored) != 1 || stored[0].Value != "sealed:"+reverse(sec.Secret) {
		t.Fatalf("stored %q for secret %q", stored[0].Value, sec.Secret)
	}
	e.do("POST", "/v1/projects/"+pid+"/secret/rotate", key, `{"signature_scheme":"ed25519"}`).decode(t, 200, &sec)
	if stored := e.state(pid).Secrets; !strings.HasPrefix(stored[0].Value, "sealed:") || sec.PublicKey == "" {
		t.Fatalf("rotated secret stored as %q, answered %+v", stored[0].Value, sec)
	}
}

func reverse(s string) string {
	b := []byte(s)
	for i, j := 0, len(b)-1; i < j; i, j = i+1, j-1 {
		b[i], b[j] = b[j], b[i]
	}
	return string(b)
}

// TestNoStore: answers that carry a signing secret or an API key (and so,
// simply, every answer) forbid caches to keep them, errors included.
func TestNoStore(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pid, key := e.project("acme")
	for _, r := range []struct{ method, path, key string }{
		{"GET", "/v1/projects/" + pid + "/secret", key},
		{"POST", "/v1/projects/" + pid + "/secret/rotate", key},
		{"POST", "/v1/projects/" + pid + "/api-keys", e.admin},
		{"POST", "/v1/projects", e.admin},
		{"GET", "/v1/projects/" + pid + "/endpoints", key},
		{"GET", "/v1/projects/" + pid + "/secret", "wrong"},
		{"GET", "/v1/nowhere", key},
	} {
		var body any
		if r.path == "/v1/projects" {
			body = map[string]any{"name": "another"}
		}
		res := e.do(r.method, r.path, r.key, body)
		if got := res.header.Get("Cache-Control"); got != "no-store" {
			t.Errorf("%s %s (%d): Cache-Control %q, want no-store", r.method, r.path, res.status, got)
		}
	}
}

// TestRotateTwiceWithinGrace: webhooks carry at most two signatures, as
// the README says: a second rotation within a grace ends the first
// secret's grace at once.
func TestRotateTwiceWithinGrace(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pid, key := e.project("acme")
	path := "/v1/projects/" + pid + "/secret/rotate"
	var second, third secretOut
	e.do("POST", path, key, map[string]any{"grace_period_seconds": 86400}).decode(t, 200, &second)
	e.clock.Advance(time.Hour)
	e.do("POST", path, key, map[string]any{"grace_period_seconds": 86400}).decode(t, 200, &third)
	s, err := e.db.ActiveSecrets(context.Background(), pid, e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(s) != 2 || s[0].Value != third.Secret || s[1].Value != second.Secret {
		t.Fatalf("%d secrets sign after two rotations within a grace, want the newest two", len(s))
	}
}
