package app_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/app"
	"github.com/hookd/hookd/internal/app/apptest"
)

const testAdminKey = "hk_adm_test_0123456789abcdef"

// server is a hookd started in-process on port 0 with a temporary SQLite file.
type server struct {
	t    testing.TB
	base string
	app  *app.App
}

// start runs hookd until the test ends. mod may adjust the config.
func start(t testing.TB, mod func(*app.Config)) *server {
	t.Helper()
	cfg := app.Config{
		Addr:                 "127.0.0.1:0",
		DB:                   filepath.Join(t.TempDir(), "hookd.db"),
		AdminKey:             testAdminKey,
		AllowPrivateNetworks: true,
		RetrySchedule:        []time.Duration{20 * time.Millisecond, 20 * time.Millisecond},
		NoJitter:             true,
		Timeout:              5 * time.Second,
		PollInterval:         50 * time.Millisecond,
		Logger:               slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if mod != nil {
		mod(&cfg)
	}
	a := apptest.Start(t, cfg)
	return &server{t: t, base: "http://" + a.Addr(), app: a}
}

// call makes an API request and decodes the JSON answer into out (when
// non-nil). It returns the status code and the raw body.
func (s *server) call(method, path, key string, body any, out any) (int, []byte) {
	s.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		r = bytes.NewReader(b)
	case string:
		r = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			s.t.Fatal(err)
		}
		r = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, s.base+path, r)
	if err != nil {
		s.t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			s.t.Fatalf("%s %s: decoding %q: %v", method, path, raw, err)
		}
	}
	return resp.StatusCode, raw
}

// must is call that fails the test unless the status is want.
func (s *server) must(want int, method, path, key string, body any, out any) {
	s.t.Helper()
	if code, raw := s.call(method, path, key, body, out); code != want {
		s.t.Fatalf("%s %s: status %d, want %d: %s", method, path, code, want, raw)
	}
}

type project struct {
	ID     string
	Key    string
	Secret string
}

// newProject creates a project with a project key and returns its secret.
func (s *server) newProject(name string) project {
	s.t.Helper()
	var p struct{ ID string }
	s.must(201, "POST", "/v1/projects", testAdminKey, map[string]any{"name": name}, &p)
	var k struct{ Key string }
	s.must(201, "POST", "/v1/projects/"+p.ID+"/api-keys", testAdminKey, map[string]any{}, &k)
	var sec struct{ Secret string }
	s.must(200, "GET", "/v1/projects/"+p.ID+"/secret", k.Key, nil, &sec)
	return project{ID: p.ID, Key: k.Key, Secret: sec.Secret}
}

func (s *server) newEndpoint(p project, url string, types ...string) string {
	s.t.Helper()
	body := map[string]any{"url": url}
	if len(types) > 0 {
		body["event_types"] = types
	}
	var ep struct{ ID string }
	s.must(201, "POST", "/v1/projects/"+p.ID+"/endpoints", p.Key, body, &ep)
	return ep.ID
}

type published struct {
	ID         string
	Deliveries []struct {
		ID         string `json:"id"`
		EndpointID string `json:"endpoint_id"`
	}
}

func (s *server) publish(p project, typ string, data any) published {
	s.t.Helper()
	var ev published
	s.must(202, "POST", "/v1/projects/"+p.ID+"/events", p.Key, map[string]any{"type": typ, "data": data}, &ev)
	return ev
}

type attempt struct {
	Number     int    `json:"number"`
	StatusCode int    `json:"status_code"`
	Error      string `json:"error"`
}

type delivery struct {
	ID             string    `json:"id"`
	EventID        string    `json:"event_id"`
	EndpointID     string    `json:"endpoint_id"`
	Status         string    `json:"status"`
	AttemptCount   int       `json:"attempt_count"`
	LastStatusCode int       `json:"last_status_code"`
	LastError      string    `json:"last_error"`
	Attempts       []attempt `json:"attempts"`
}

// waitDelivery polls a delivery until done(d) or the deadline; the deadline
// only bounds a broken run, it asserts nothing about speed.
func (s *server) waitDelivery(p project, id string, done func(delivery) bool) delivery {
	s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var d delivery
		s.must(200, "GET", "/v1/projects/"+p.ID+"/deliveries/"+id, p.Key, nil, &d)
		if done(d) {
			return d
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("delivery %s never reached the expected state; last: %+v", id, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func finished(d delivery) bool {
	return d.Status == "succeeded" || d.Status == "failed" || d.Status == "cancelled"
}

// receiver is a real HTTP server that records what it receives and answers
// with the codes it is given, in order (the last one repeats).
type receiver struct {
	srv   *httptest.Server
	mu    sync.Mutex
	codes []int
	got   []received
}

type received struct {
	Header http.Header
	Body   []byte
}

func newReceiver(t testing.TB, codes ...int) *receiver {
	t.Helper()
	if len(codes) == 0 {
		codes = []int{200}
	}
	r := &receiver{codes: codes}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		n := len(r.got)
		r.got = append(r.got, received{Header: req.Header.Clone(), Body: body})
		code := r.codes[min(n, len(r.codes)-1)]
		r.mu.Unlock()
		w.WriteHeader(code)
		fmt.Fprintf(w, "answer %d", n+1)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) URL() string { return r.srv.URL + "/hook" }

func (r *receiver) received() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}
