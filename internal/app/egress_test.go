package app_test

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/hookd/hookd/internal/app"
	"github.com/hookd/hookd/webhook"
)

// forwardProxy is an HTTP forward proxy on loopback that records the target of
// every request it is asked for and forwards absolute-form requests.
type forwardProxy struct {
	srv     *httptest.Server
	mu      sync.Mutex
	targets []string
}

func newForwardProxy(t *testing.T) *forwardProxy {
	p := &forwardProxy{}
	fwd := &http.Transport{}
	t.Cleanup(fwd.CloseIdleConnections)
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.targets = append(p.targets, r.Method+" "+r.URL.String())
		p.mu.Unlock()
		if r.Method == http.MethodConnect || !r.URL.IsAbs() {
			http.Error(w, "absolute form only", http.StatusMethodNotAllowed)
			return
		}
		out := r.Clone(r.Context())
		out.RequestURI = ""
		resp, err := fwd.RoundTrip(out)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, vs := range resp.Header {
			w.Header()[k] = vs
		}
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *forwardProxy) seen() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.targets...)
}

// With --egress-proxy, deliveries and the Test button go through the proxy;
// the guard still refuses endpoints it would refuse without one; and the
// --egress-addresses are shown to customers.
func TestEgressProxy(t *testing.T) {
	t.Parallel()
	proxy := newForwardProxy(t)
	pu, _ := url.Parse(proxy.srv.URL)
	s := start(t, func(c *app.Config) {
		c.AllowPrivateNetworks = false
		c.AllowCIDRs = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")} // the receiver; 127.0.0.2 stays refused
		c.EgressProxy = pu
		c.EgressAddresses = []string{"203.0.113.7", "198.51.100.0/28"}
	})
	recv := newReceiver(t, 200)
	p := s.newProject("Acme")
	ep := s.newEndpoint(p, recv.srv.URL+"/hook")

	// The Test button.
	var test struct {
		StatusCode int `json:"status_code"`
	}
	s.must(200, "POST", "/v1/projects/"+p.ID+"/endpoints/"+ep+"/test", p.Key, map[string]any{}, &test)
	if test.StatusCode != 200 {
		t.Errorf("Test through the proxy answered %d", test.StatusCode)
	}
	// A delivery, verified by the receiver as usual.
	ev := s.publish(p, "order.created", map[string]any{"n": 1})
	d := s.waitDelivery(p, ev.Deliveries[0].ID, finished)
	if d.Status != "succeeded" {
		t.Fatalf("delivery through the proxy: %+v", d)
	}
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(recv.srv.URL, "http://"))
	want := "POST http://127.0.0.1:" + port + "/hook"
	targets := proxy.seen()
	if len(targets) != 2 || targets[0] != want || targets[1] != want {
		t.Errorf("the proxy saw %q, want the Test and the delivery, both %q", targets, want)
	}
	verifier, _ := webhook.NewVerifier([]string{p.Secret})
	recv.mu.Lock()
	for i, got := range recv.got {
		if err := verifier.Verify(got.Body, got.Header); err != nil {
			t.Errorf("request %d through the proxy does not verify: %v", i, err)
		}
	}
	recv.mu.Unlock()

	// An endpoint at an address the guard refuses is refused before the proxy.
	bad := s.newEndpoint(p, "http://127.0.0.2:9/hook")
	var refused struct {
		StatusCode int    `json:"status_code"`
		Error      string `json:"error"`
	}
	s.must(200, "POST", "/v1/projects/"+p.ID+"/endpoints/"+bad+"/test", p.Key, map[string]any{}, &refused)
	if refused.StatusCode != 0 || !strings.Contains(refused.Error, "refused to connect to 127.0.0.2") {
		t.Errorf("Test of a refused address: %+v", refused)
	}
	if n := len(proxy.seen()); n != 2 {
		t.Errorf("the proxy was asked for a refused address: %q", proxy.seen())
	}

	// The addresses to allow, in the API and on the Webhooks page.
	var egress struct{ Addresses []string }
	s.must(200, "GET", "/v1/egress", p.Key, nil, &egress)
	if strings.Join(egress.Addresses, ",") != "203.0.113.7,198.51.100.0/28" {
		t.Errorf("GET /v1/egress = %q", egress.Addresses)
	}
}
