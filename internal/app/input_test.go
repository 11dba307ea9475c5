package app_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/hookd/hookd/internal/app"
	"github.com/hookd/hookd/internal/pgtest"
)

// backends starts one hookd per database kind; the input rules must give
// the same answer on both.
var backends = []struct {
	name string
	mod  func(t *testing.T) func(*app.Config)
}{
	{"sqlite", func(t *testing.T) func(*app.Config) { return nil }},
	{"postgres", func(t *testing.T) func(*app.Config) {
		db := pgtest.NewDatabase(t)
		return func(c *app.Config) { c.DB = db }
	}},
}

// send is one API request with a raw body and extra headers; unlike call it
// returns transport errors, so goroutines may use it.
func (s *server) send(method, path, key string, body []byte, header ...string) (int, []byte, error) {
	req, err := http.NewRequest(method, s.base+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	return resp.StatusCode, raw, err
}

// refusal is one request a tenant may send that must be refused with
// status and an error whose message starts with msg (naming the field).
type refusal struct {
	name   string
	method string
	path   string // %s is the project id, %e an endpoint id of it
	body   string
	header []string
	status int
	code   string
	msg    string
}

var refusals = []refusal{
	{"project name with NUL", "POST", "/v1/projects", `{"name":"a\u0000b"}`, nil, 400, "invalid_argument", "name: must not contain control characters"},
	{"project name with a control character", "POST", "/v1/projects", `{"name":"bell\u0007"}`, nil, 400, "invalid_argument", "name: must not contain control characters"},
	{"project name with a C1 control", "POST", "/v1/projects", `{"name":"csi\u009b"}`, nil, 400, "invalid_argument", "name: must not contain control characters"},
	{"project name with a newline", "POST", "/v1/projects", `{"name":"two\nlines"}`, nil, 400, "invalid_argument", "name: must not contain control characters"},
	{"project name not UTF-8", "POST", "/v1/projects", "{\"name\":\"a\xffb\"}", nil, 400, "invalid_argument", "name: must be valid UTF-8"},
	{"description with NUL", "POST", "/v1/projects/%s/endpoints", `{"url":"https://receiver.example/h","description":"a\u0000"}`, nil, 400, "invalid_argument", "description: must not contain control characters"},
	{"description not UTF-8", "POST", "/v1/projects/%s/endpoints", "{\"url\":\"https://receiver.example/h\",\"description\":\"\xfe\"}", nil, 400, "invalid_argument", "description: must be valid UTF-8"},
	{"description with ESC", "PATCH", "/v1/projects/%s/endpoints/%e", `{"description":"\u001b[31mred"}`, nil, 400, "invalid_argument", "description: must not contain control characters"},
	{"url with NUL", "POST", "/v1/projects/%s/endpoints", `{"url":"https://receiver.example/\u0000"}`, nil, 400, "invalid_argument", "url:"},
	{"url not UTF-8", "POST", "/v1/projects/%s/endpoints", "{\"url\":\"https://receiver.example/\xff\"}", nil, 400, "invalid_argument", "url: must be valid UTF-8"},
	{"event type filter with NUL", "POST", "/v1/projects/%s/endpoints", `{"url":"https://receiver.example/h","event_types":["a\u0000"]}`, nil, 400, "invalid_argument", "event_types[0]:"},
	{"event type with NUL", "POST", "/v1/projects/%s/events", `{"type":"a\u0000","data":{}}`, nil, 400, "invalid_argument", "type:"},
	{"event data not UTF-8", "POST", "/v1/projects/%s/events", "{\"type\":\"a\",\"data\":{\"x\":\"\xff\xfe\"}}", nil, 400, "invalid_argument", "data: must be valid UTF-8"},
	{"event data not an object", "POST", "/v1/projects/%s/events", `{"type":"a","data":[1]}`, nil, 400, "invalid_argument", "data: must be a JSON object"},
	{"test data not UTF-8", "POST", "/v1/projects/%s/endpoints/%e/test", "{\"data\":{\"x\":\"\xff\"}}", nil, 400, "invalid_argument", "data: must be valid UTF-8"},
	{"idempotency key not UTF-8", "POST", "/v1/projects/%s/events", `{"type":"a","data":{}}`, []string{"Idempotency-Key", "k\xff"}, 400, "invalid_argument", "Idempotency-Key: must be 1–255 printable ASCII characters"},
	{"idempotency key not ASCII", "POST", "/v1/projects/%s/events", `{"type":"a","data":{}}`, []string{"Idempotency-Key", "clé"}, 400, "invalid_argument", "Idempotency-Key: must be 1–255 printable ASCII characters"},
	{"idempotency key empty", "POST", "/v1/projects/%s/events", `{"type":"a","data":{}}`, []string{"Idempotency-Key", ""}, 400, "invalid_argument", "Idempotency-Key: must be 1–255 printable ASCII characters"},
	{"idempotency key too long", "POST", "/v1/projects/%s/events", `{"type":"a","data":{}}`, []string{"Idempotency-Key", strings.Repeat("k", 256)}, 400, "invalid_argument", "Idempotency-Key: must be 1–255 printable ASCII characters"},
	{"type filter with NUL", "GET", "/v1/projects/%s/events?type=a%00", "", nil, 400, "invalid_argument", "type:"},
	{"delivery filter not UTF-8", "GET", "/v1/projects/%s/deliveries?event_type=%FF", "", nil, 400, "invalid_argument", "event_type:"},
	{"endpoint filter not UTF-8", "GET", "/v1/projects/%s/deliveries?endpoint_id=%FF", "", nil, 400, "invalid_argument", "endpoint_id:"},
	{"cursor not UTF-8", "GET", "/v1/projects/%s/events?cursor=%FF%00", "", nil, 400, "invalid_argument", "cursor:"},
	{"endpoint id not UTF-8", "GET", "/v1/projects/%s/endpoints/%FF", "", nil, 404, "not_found", "endpoint not found"},
	{"event id with NUL", "GET", "/v1/projects/%s/events/evt_%00", "", nil, 404, "not_found", "event not found"},
	{"delivery id not UTF-8", "POST", "/v1/projects/%s/deliveries/dlv_%FF/retry", "", nil, 404, "not_found", "delivery not found"},
}

func (r refusal) pathFor(projectID, endpointID string) string {
	return strings.NewReplacer("%s", projectID, "%e", endpointID).Replace(r.path)
}

// check fails unless the answer is the refusal's error.
func (r refusal) check(code int, raw []byte) error {
	var e struct {
		Error struct{ Code, Message string }
	}
	if code != r.status || json.Unmarshal(raw, &e) != nil || e.Error.Code != r.code || !strings.HasPrefix(e.Error.Message, r.msg) {
		return fmt.Errorf("%s: %d %s; want %d %s %q…", r.name, code, raw, r.status, r.code, r.msg)
	}
	return nil
}

// TestInputRules: every text field refuses NUL, other control characters
// and invalid UTF-8 with a 400 naming the field, event data must be UTF-8
// JSON, an Idempotency-Key is 1–255 printable ASCII, and ids that are not
// ids are simply not found: the same answers on SQLite and PostgreSQL
// (where, unchecked, such text made the database fail the request).
func TestInputRules(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s := start(t, b.mod(t))
			p := s.newProject("rules")
			ep := s.newEndpoint(p, "https://receiver.example/h")
			for _, r := range refusals {
				key := p.Key
				if r.path == "/v1/projects" {
					key = testAdminKey
				}
				code, raw, err := s.send(r.method, r.pathFor(p.ID, ep), key, []byte(r.body), r.header...)
				if err != nil {
					t.Fatalf("%s: %v", r.name, err)
				}
				if err := r.check(code, raw); err != nil {
					t.Error(err)
				}
			}
			// What is allowed stays allowed: line breaks in a description,
			// escaped NUL inside event data (valid JSON and UTF-8, stored
			// as sent), any printable ASCII in a key.
			s.must(201, "POST", "/v1/projects/"+p.ID+"/endpoints", p.Key,
				map[string]any{"url": "https://receiver.example/h2", "description": "line one\nline two\ttabbed"}, nil)
			if code, raw, _ := s.send("POST", "/v1/projects/"+p.ID+"/events", p.Key, []byte(`{"type":"a","data":{"x":"\u0000"}}`),
				"Idempotency-Key", ` !"#$%&'()*+,-./09:;<=>?@AZ[\]^_az{|}~`); code != 202 {
				t.Errorf("publish with escaped NUL in data and every printable ASCII in the key: %d %s", code, raw)
			}
		})
	}
}

// TestIdempotencyKeyReuse: the same key with the same type and data (space
// aside) replays the first event; with a different type or data it is
// refused with 422 idempotency_key_reused and nothing is stored.
func TestIdempotencyKeyReuse(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s := start(t, b.mod(t))
			p := s.newProject("reuse")
			path := "/v1/projects/" + p.ID + "/events"
			pub := func(body string) (int, published, []byte) {
				t.Helper()
				code, raw, err := s.send("POST", path, p.Key, []byte(body), "Idempotency-Key", "order-42")
				if err != nil {
					t.Fatal(err)
				}
				var ev published
				_ = json.Unmarshal(raw, &ev)
				return code, ev, raw
			}
			code, first, raw := pub(`{"type":"order.paid","data":{"id":42,"total":"9.90"}}`)
			if code != 202 {
				t.Fatalf("first publish: %d %s", code, raw)
			}
			if code, again, raw := pub("{ \"type\": \"order.paid\",\n \"data\": { \"id\": 42, \"total\": \"9.90\" } }"); code != 202 || again.ID != first.ID {
				t.Errorf("same request again: %d %s; want 202 with event %s", code, raw, first.ID)
			}
			for _, body := range []string{
				`{"type":"order.paid","data":{"id":43,"total":"9.90"}}`,
				`{"type":"order.refunded","data":{"id":42,"total":"9.90"}}`,
			} {
				code, _, raw := pub(body)
				if err := (refusal{name: body, status: 422, code: "idempotency_key_reused", msg: "Idempotency-Key: was already used"}).check(code, raw); err != nil {
					t.Error(err)
				}
			}
			var list struct{ Items []json.RawMessage }
			s.must(200, "GET", path, p.Key, nil, &list)
			if len(list.Items) != 1 {
				t.Errorf("%d events stored, want the first one only", len(list.Items))
			}
		})
	}
}

// TestHostileTenantCannotFailOthers: while one project sends every kind of
// refused input, as fast as it can, another publishes: every publish of
// the second is accepted, every request of the first gets its 4xx, and
// nobody gets a 5xx (publishes share group commits, so one refused by
// the database used to fail the whole batch).
func TestHostileTenantCannotFailOthers(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s := start(t, b.mod(t))
			good := s.newProject("good")
			s.newEndpoint(good, "https://receiver.example/good")
			bad := s.newProject("hostile")
			badEP := s.newEndpoint(bad, "https://receiver.example/bad")
			const publishers, each = 8, 40
			var (
				wg       sync.WaitGroup
				mu       sync.Mutex
				problems []string
				accepted int
				refused  int
			)
			note := func(format string, args ...any) {
				mu.Lock()
				problems = append(problems, fmt.Sprintf(format, args...))
				mu.Unlock()
			}
			stop := make(chan struct{})
			for range 4 {
				wg.Go(func() {
					for i := 0; ; i++ {
						select {
						case <-stop:
							return
						default:
						}
						r := refusals[i%len(refusals)]
						key := bad.Key
						if r.path == "/v1/projects" {
							key = testAdminKey
						}
						code, raw, err := s.send(r.method, r.pathFor(bad.ID, badEP), key, []byte(r.body), r.header...)
						if err != nil {
							note("%s: %v", r.name, err)
							return
						}
						if err := r.check(code, raw); err != nil {
							note("hostile request: %v", err)
						}
						mu.Lock()
						refused++
						mu.Unlock()
					}
				})
			}
			var pubs sync.WaitGroup
			for g := range publishers {
				pubs.Go(func() {
					for i := range each {
						body := fmt.Sprintf(`{"type":"order.paid","data":{"g":%d,"i":%d}}`, g, i)
						code, raw, err := s.send("POST", "/v1/projects/"+good.ID+"/events", good.Key, []byte(body),
							"Idempotency-Key", fmt.Sprintf("good-%d-%d", g, i))
						switch {
						case err != nil:
							note("valid publish: %v", err)
						case code != 202:
							note("valid publish: %d %s", code, raw)
						default:
							mu.Lock()
							accepted++
							mu.Unlock()
						}
					}
				})
			}
			pubs.Wait()
			close(stop)
			wg.Wait()
			for _, p := range problems {
				t.Error(p)
			}
			if accepted != publishers*each {
				t.Errorf("%d of %d valid publishes accepted", accepted, publishers*each)
			}
			t.Logf("%d valid publishes accepted beside %d refused requests of another project", accepted, refused)
		})
	}
}
