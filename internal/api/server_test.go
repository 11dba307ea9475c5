package api_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hookd/hookd/internal/api"
)

func TestHealth(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var body map[string]string
	e.do("GET", "/healthz", "", nil).decode(t, 200, &body)
	if body["status"] != "ok" {
		t.Fatalf("healthz %v", body)
	}
	e.do("GET", "/readyz", "", nil).decode(t, 200, &body)
	e.db.Close()
	down := e.do("GET", "/readyz", "", nil)
	down.wantError(t, 503, "unavailable", "database")
	if down.header.Get("Retry-After") != "1" {
		t.Errorf("503 without Retry-After: %v", down.header)
	}
	e.do("GET", "/healthz", "", nil).decode(t, 200, &body)
}

func TestUnknownRoutes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.do("GET", "/v2/projects", e.admin, nil).wantError(t, 404, "not_found", "route not found")
	e.do("GET", "/v1/projects/", e.admin, nil).wantError(t, 404, "not_found", "")
	r := e.do("PUT", "/v1/projects", e.admin, `{}`)
	r.wantError(t, 405, "method_not_allowed", "PUT")
	if allow := r.header.Get("Allow"); !strings.Contains(allow, "GET") || !strings.Contains(allow, "POST") {
		t.Fatalf("Allow %q", allow)
	}
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pid, _ := e.project("acme")
	e.do("GET", "/v1/projects/"+pid, e.admin, nil).decode(t, 200, nil)
	e.do("GET", "/v1/projects/"+pid, "", nil).decode(t, 401, nil)
	e.do("GET", "/nowhere/"+pid, "", nil).decode(t, 404, nil)

	// Labels are route patterns, never raw paths.
	want := map[string]float64{
		"GET /v1/projects/{pid} 200":           1,
		"POST /v1/projects 201":                1,
		"POST /v1/projects/{pid}/api-keys 201": 1,
		"GET /v1/projects/{pid} 401":           1,
		"unmatched 404":                        1,
	}
	got := map[string]float64{}
	latency := 0
	families, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			switch f.GetName() {
			case "hookd_http_requests_total":
				got[labels["route"]+" "+labels["code"]] = m.GetCounter().GetValue()
			case "hookd_http_request_duration_seconds":
				latency++
			}
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("request counts %v, want %v", got, want)
	}
	if latency != 4 {
		t.Fatalf("%d latency series, want 4", latency)
	}
	// A second API on the same registry is a configuration error.
	cfg := api.Config{Service: e.newService(), Registerer: e.reg}
	if _, err := api.New(cfg); err == nil {
		t.Fatal("registering the metrics twice did not fail")
	}
}

func TestNewNeedsItsParts(t *testing.T) {
	t.Parallel()
	if _, err := api.New(api.Config{Registerer: prometheus.NewRegistry()}); err == nil {
		t.Fatal("New without a Service succeeded")
	}
}
