package api_test

import (
	"fmt"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/service"
	"github.com/hookd/hookd/webhook"
)

func TestCreateProject(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var p projectOut
	e.do("POST", "/v1/projects", e.admin, map[string]any{"name": "  Acme  "}).decode(t, 201, &p)
	if !ids.Valid(ids.Project, p.ID) || p.Name != "Acme" || !p.CreatedAt.Equal(start) {
		t.Fatalf("created %+v", p)
	}
	var got projectOut
	e.do("GET", "/v1/projects/"+p.ID, e.admin, nil).decode(t, 200, &got)
	if got != p {
		t.Fatalf("GET answered %+v, created %+v", got, p)
	}
	// The first signing secret comes with the project.
	var sec secretOut
	e.do("GET", "/v1/projects/"+p.ID+"/secret", e.admin, nil).decode(t, 200, &sec)
	if !strings.HasPrefix(sec.Secret, "whsec_") || sec.PublicKey != "" {
		t.Fatalf("secret %+v", sec)
	}
}

func TestCreateProjectEd25519(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var p projectOut
	e.do("POST", "/v1/projects", e.admin, map[string]any{"name": "Acme", "signature_scheme": "ed25519"}).decode(t, 201, &p)
	var sec secretOut
	e.do("GET", "/v1/projects/"+p.ID+"/secret", e.admin, nil).decode(t, 200, &sec)
	if !strings.HasPrefix(sec.Secret, "whsk_") {
		t.Fatalf("secret %q is not an ed25519 private key", sec.Secret)
	}
	pub, err := webhook.PublicKey(sec.Secret)
	if err != nil || pub != sec.PublicKey {
		t.Fatalf("public_key %q, derived %q (%v)", sec.PublicKey, pub, err)
	}
}

func TestCreateProjectInvalid(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	before := e.state("")
	for _, tc := range []struct {
		name string
		body any
		code string
		msg  string
	}{
		{"no name", `{}`, "invalid_argument", "name: must be 1 to 200 characters"},
		{"blank name", `{"name":"   "}`, "invalid_argument", "name:"},
		{"long name", map[string]any{"name": strings.Repeat("é", 201)}, "invalid_argument", "name:"},
		{"name not a string", `{"name":7}`, "invalid_argument", "name: must be a string"},
		{"bad scheme", `{"name":"a","signature_scheme":"rsa"}`, "invalid_argument", "signature_scheme:"},
		{"unknown field", `{"name":"a","owner":"b"}`, "invalid_argument", "owner: unknown field"},
		{"no body", nil, "invalid_argument", "body: must be a JSON object"},
		{"array", `[]`, "invalid_argument", "body: must be a JSON object"},
		{"two values", `{"name":"a"}{"name":"b"}`, "invalid_argument", "single JSON value"},
		{"malformed", `{"name":`, "invalid_argument", "body: malformed JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.do("POST", "/v1/projects", e.admin, tc.body).wantError(t, 400, tc.code, tc.msg)
		})
	}
	if after := e.state(""); !reflect.DeepEqual(before, after) {
		t.Fatalf("refused requests changed the store:\nbefore %+v\nafter  %+v", before, after)
	}
}

func TestListProjects(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var want []string
	var key string
	for i := range 5 {
		pid, k := e.project(fmt.Sprintf("p%d", i))
		want = append(want, pid)
		key = k
		e.clock.Advance(time.Second)
	}

	// The admin key pages through all of them, in id order.
	var got []string
	cursor := ""
	pages := 0
	for {
		var pg page[projectOut]
		e.do("GET", "/v1/projects?limit=2&cursor="+cursor, e.admin, nil).decode(t, 200, &pg)
		pages++
		for _, p := range pg.Items {
			got = append(got, p.ID)
		}
		if pg.NextCursor == "" {
			break
		}
		cursor = pg.NextCursor
	}
	if !reflect.DeepEqual(got, want) || pages != 3 {
		t.Fatalf("paged %v in %d pages, want %v in 3", got, pages, want)
	}

	// A full last page has no cursor: limit+1 was fetched.
	var pg page[projectOut]
	e.do("GET", "/v1/projects?limit=5", e.admin, nil).decode(t, 200, &pg)
	if len(pg.Items) != 5 || pg.NextCursor != "" {
		t.Fatalf("limit=5: %d items, cursor %q", len(pg.Items), pg.NextCursor)
	}
	if body := string(e.do("GET", "/v1/projects?limit=5", e.admin, nil).body); strings.Contains(body, "next_cursor") {
		t.Fatalf("a last page must not carry next_cursor: %s", body)
	}

	// A project key sees only its own project.
	e.do("GET", "/v1/projects", key, nil).decode(t, 200, &pg)
	if len(pg.Items) != 1 || pg.Items[0].ID != want[4] {
		t.Fatalf("project key listed %+v", pg.Items)
	}
}

func TestAPIKeys(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pid, key := e.project("acme")

	// A project key can make more keys of its project.
	var k keyOut
	e.do("POST", "/v1/projects/"+pid+"/api-keys", key, nil).decode(t, 201, &k)
	if !ids.Valid(ids.APIKey, k.ID) || !strings.HasPrefix(k.Key, service.ProjectKeyPrefix) ||
		!strings.HasPrefix(k.Key, k.Prefix) || len(k.Prefix) >= len(k.Key)/2 || k.RevokedAt != nil {
		t.Fatalf("new key %+v", k)
	}
	e.do("GET", "/v1/projects/"+pid, k.Key, nil).decode(t, 200, nil)

	// The listing shows both keys, oldest first, without the keys
	// themselves; a revoked key stays listed with its revocation time.
	listKeys := func() (page[keyOut], []byte) {
		t.Helper()
		r := e.do("GET", "/v1/projects/"+pid+"/api-keys", key, nil)
		var pg page[keyOut]
		r.decode(t, 200, &pg)
		return pg, r.body
	}
	pg, body := listKeys()
	if len(pg.Items) != 2 || pg.Items[1].ID != k.ID || pg.Items[0].ID != keyID(t, e, key) || pg.NextCursor != "" {
		t.Fatalf("listed %s, want the first key then %s", body, k.ID)
	}
	for _, it := range pg.Items {
		if it.Key != "" || strings.Contains(string(body), k.Key) || strings.Contains(string(body), key) ||
			!strings.HasPrefix(k.Key, pg.Items[1].Prefix) || it.RevokedAt != nil {
			t.Fatalf("listing shows a key or lacks a field: %s", body)
		}
	}
	// Another project's keys and the admin key are not listed.
	other, _ := e.project("other")
	var otherPage page[keyOut]
	e.do("GET", "/v1/projects/"+other+"/api-keys", e.admin, nil).decode(t, 200, &otherPage)
	if len(otherPage.Items) != 1 || otherPage.Items[0].ID == k.ID {
		t.Fatalf("other project lists %+v", otherPage.Items)
	}
	// Pages follow the cursor.
	var first, second page[keyOut]
	e.do("GET", "/v1/projects/"+pid+"/api-keys?limit=1", key, nil).decode(t, 200, &first)
	e.do("GET", "/v1/projects/"+pid+"/api-keys?limit=1&cursor="+first.NextCursor, key, nil).decode(t, 200, &second)
	if len(first.Items) != 1 || first.NextCursor == "" || len(second.Items) != 1 || second.Items[0].ID != k.ID || second.NextCursor != "" {
		t.Fatalf("paged %+v then %+v", first, second)
	}

	// An empty object is a fine body too; fields are not.
	e.do("POST", "/v1/projects/"+pid+"/api-keys", key, `{}`).decode(t, 201, nil)
	e.do("POST", "/v1/projects/"+pid+"/api-keys", key, `{"owner":"x"}`).wantError(t, 400, "invalid_argument", "owner: unknown field")

	// Revoking takes effect at once, although the key was just used and
	// is in the lookup cache.
	e.do("DELETE", "/v1/projects/"+pid+"/api-keys/"+k.ID, key, nil).decode(t, 204, nil)
	r := e.do("GET", "/v1/projects/"+pid, k.Key, nil)
	r.wantError(t, 401, "unauthenticated", "API key")
	if got := r.header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
		t.Fatalf("WWW-Authenticate %q", got)
	}
	// Revoking again is harmless; unknown and malformed ids are 404.
	e.do("DELETE", "/v1/projects/"+pid+"/api-keys/"+k.ID, key, nil).decode(t, 204, nil)
	e.do("DELETE", "/v1/projects/"+pid+"/api-keys/"+ids.New(ids.APIKey, start), key, nil).wantError(t, 404, "not_found", "api key not found")
	e.do("DELETE", "/v1/projects/"+pid+"/api-keys/nope", key, nil).wantError(t, 404, "not_found", "api key not found")
	// The project's last manager key cannot revoke itself (nor can the
	// keys it made revoke it); the admin key can.
	e.do("DELETE", "/v1/projects/"+pid+"/api-keys/"+keyID(t, e, key), key, nil).wantError(t, 409, "conflict", "last key of scope project")
	e.do("DELETE", "/v1/projects/"+pid+"/api-keys/"+keyID(t, e, key), e.admin, nil).decode(t, 204, nil)
	e.do("GET", "/v1/projects/"+pid, key, nil).wantError(t, 401, "unauthenticated", "")
}

// keyID finds the id of a key through the store.
func keyID(t testing.TB, e *env, key string) string {
	t.Helper()
	s := e.state("", key)
	return s.Keys[0].ID
}

func TestRevocationReachesOtherNodesWithinTTL(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pid, key := e.project("acme")
	other := e.newHandler() // a second node over the same database
	serveOther := func() int {
		rec := httptest.NewRecorder()
		other.ServeHTTP(rec, e.request("GET", "http://hookd.test/v1/projects/"+pid, key, nil))
		return rec.Code
	}
	if code := serveOther(); code != 200 {
		t.Fatalf("other node: %d", code)
	}
	e.do("DELETE", "/v1/projects/"+pid+"/api-keys/"+keyID(t, e, key), e.admin, nil).decode(t, 204, nil)
	e.do("GET", "/v1/projects/"+pid, key, nil).wantError(t, 401, "unauthenticated", "")
	// The other node still has the key cached...
	if code := serveOther(); code != 200 {
		t.Fatalf("other node within the cache TTL: %d, want the documented delay", code)
	}
	// ...for at most the cache TTL.
	e.clock.Advance(service.DefaultKeyCacheTTL)
	if code := serveOther(); code != 401 {
		t.Fatalf("other node after the cache TTL: %d, want 401", code)
	}
}
