package api_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hookd/hookd/internal/api"
	"github.com/hookd/hookd/internal/service"
	"github.com/hookd/hookd/internal/store"
)

// instantPublisher answers at once, so the benchmark measures the API and
// the service, not the commit.
type instantPublisher struct{}

func (instantPublisher) Publish(ctx context.Context, e store.Event) (store.PublishResult, error) {
	return store.PublishResult{Event: e, Deliveries: []store.DeliveryRef{{ID: "dlv_x", EndpointID: "ep_x"}}}, nil
}

func BenchmarkPublishHandler(b *testing.B) {
	e := newEnv(b)
	pid, key := e.project("bench")
	svc, err := service.New(service.Config{Store: e.db, Publisher: instantPublisher{}, Tester: e.tester, Clock: e.clock})
	if err != nil {
		b.Fatal(err)
	}
	h, err := api.New(api.Config{Service: svc})
	if err != nil {
		b.Fatal(err)
	}
	body := `{"type":"order.created","data":{"order":{"id":"ord_1234567890","amount":4200,"currency":"EUR","items":[{"sku":"A-1","qty":2}]},"customer":"cus_42"}}`
	path := "/v1/projects/" + pid + "/events"
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest("POST", path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusAccepted {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
}
