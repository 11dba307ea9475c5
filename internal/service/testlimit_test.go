package service_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/service"
)

// countingReceiver counts the requests that reach it.
func countingReceiver(t *testing.T) (*httptest.Server, *atomic.Int64) {
	var n atomic.Int64
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { n.Add(1) }))
	t.Cleanup(recv.Close)
	return recv, &n
}

// TestTestHonoursEndpointLimits: 50 parallel Tests to an endpoint limited
// to 1 a second send one; the others are refused with a time to retry.
func TestTestHonoursEndpointLimits(t *testing.T) {
	e := newEnv(t, func(c *service.Config) { c.TestRate, c.TestBurst = 100, 100 })
	ctx := context.Background()
	pid := e.project("a")
	recv, reached := countingReceiver(t)
	ep, err := e.svc.Endpoints.Create(ctx, pid, service.CreateEndpoint{URL: recv.URL, RateLimitPerSecond: 1})
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg      sync.WaitGroup
		sent    atomic.Int64
		limited atomic.Int64
		mu      sync.Mutex
		others  []error
	)
	for range 50 {
		wg.Go(func() {
			_, err := e.svc.Endpoints.Test(ctx, pid, ep.ID, service.TestSend{})
			var se *service.Error
			switch {
			case err == nil:
				sent.Add(1)
			case errors.As(err, &se) && se.Code == service.CodeRateLimited && se.RetryAfter > 0 && se.RetryAfter <= time.Second:
				limited.Add(1)
			default:
				mu.Lock()
				others = append(others, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(others) > 0 {
		t.Fatalf("unexpected errors: %v", others)
	}
	// The clock stands still: one second's worth is one request.
	if sent.Load() != 1 || limited.Load() != 49 || reached.Load() != 1 {
		t.Fatalf("sent %d, rate limited %d, reached the receiver %d; want 1, 49, 1", sent.Load(), limited.Load(), reached.Load())
	}
	// A second later there is room for one more.
	e.clock.Advance(time.Second)
	if _, err := e.svc.Endpoints.Test(ctx, pid, ep.ID, service.TestSend{}); err != nil {
		t.Fatalf("a second later: %v", err)
	}
	if reached.Load() != 2 {
		t.Fatalf("reached %d, want 2", reached.Load())
	}
}

// TestTestConcurrencyLimit: an endpoint taking one request at a time gets
// no second Test while the first is in flight.
func TestTestConcurrencyLimit(t *testing.T) {
	e := newEnv(t, func(c *service.Config) { c.TestRate, c.TestBurst = 100, 100 })
	ctx := context.Background()
	pid := e.project("a")
	inFlight, release := make(chan struct{}), make(chan struct{})
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inFlight <- struct{}{}
		<-release
	}))
	t.Cleanup(recv.Close)
	ep, err := e.svc.Endpoints.Create(ctx, pid, service.CreateEndpoint{URL: recv.URL, MaxConcurrency: 1})
	if err != nil {
		t.Fatal(err)
	}
	first := make(chan error, 1)
	go func() {
		_, err := e.svc.Endpoints.Test(ctx, pid, ep.ID, service.TestSend{})
		first <- err
	}()
	<-inFlight
	_, err = e.svc.Endpoints.Test(ctx, pid, ep.ID, service.TestSend{})
	wantError(t, err, service.CodeRateLimited, "")
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	// Its slot is free once it was answered.
	go func() { <-inFlight }()
	if _, err := e.svc.Endpoints.Test(ctx, pid, ep.ID, service.TestSend{}); err != nil {
		t.Fatalf("after the first Test was answered: %v", err)
	}
}

// TestTestProjectRate: a project's Tests are limited on their own, to
// DefaultTestRate a second in bursts of DefaultTestBurst, whatever the
// endpoint allows.
func TestTestProjectRate(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	pid, other := e.project("a"), e.project("b")
	recv, reached := countingReceiver(t)
	ep, err := e.svc.Endpoints.Create(ctx, pid, service.CreateEndpoint{URL: recv.URL})
	if err != nil {
		t.Fatal(err)
	}
	for i := range service.DefaultTestBurst {
		if _, err := e.svc.Endpoints.Test(ctx, pid, ep.ID, service.TestSend{}); err != nil {
			t.Fatalf("test %d of the burst: %v", i+1, err)
		}
	}
	_, err = e.svc.Endpoints.Test(ctx, pid, ep.ID, service.TestSend{})
	wantError(t, err, service.CodeRateLimited, "")
	var se *service.Error
	if errors.As(err, &se); se.RetryAfter <= 0 || se.RetryAfter > time.Second {
		t.Fatalf("RetryAfter %v, want (0, 1s]", se.RetryAfter)
	}
	if reached.Load() != int64(service.DefaultTestBurst) {
		t.Fatalf("reached %d, want %d", reached.Load(), service.DefaultTestBurst)
	}
	// Another project has its own.
	oep, err := e.svc.Endpoints.Create(ctx, other, service.CreateEndpoint{URL: recv.URL})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Endpoints.Test(ctx, other, oep.ID, service.TestSend{}); err != nil {
		t.Fatalf("another project: %v", err)
	}
	e.clock.Advance(time.Second)
	if _, err := e.svc.Endpoints.Test(ctx, pid, ep.ID, service.TestSend{}); err != nil {
		t.Fatalf("a second later: %v", err)
	}
	_, err = e.svc.Endpoints.Test(ctx, pid, ep.ID, service.TestSend{})
	wantError(t, err, service.CodeRateLimited, "")
}
