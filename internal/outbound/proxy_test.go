package outbound

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// recordingProxy is an HTTP forward proxy on loopback: absolute-form requests
// are forwarded, CONNECT is tunnelled. It records each request line's target.
type recordingProxy struct {
	*httptest.Server
	mu      sync.Mutex
	targets []string // "CONNECT 127.0.0.1:443" or "POST http://127.0.0.1:80/hook"
	hosts   []string // the Host header of absolute-form requests
	auth    []string // Proxy-Authorization of each request
}

func newRecordingProxy(t *testing.T) *recordingProxy {
	t.Helper()
	p := &recordingProxy{}
	fwd := &http.Transport{Proxy: nil}
	t.Cleanup(fwd.CloseIdleConnections)
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.auth = append(p.auth, r.Header.Get("Proxy-Authorization"))
		if r.Method == http.MethodConnect {
			p.targets = append(p.targets, "CONNECT "+r.Host)
		} else {
			p.targets = append(p.targets, r.Method+" "+r.URL.String())
			p.hosts = append(p.hosts, r.Host)
		}
		p.mu.Unlock()
		if r.Method == http.MethodConnect {
			upstream, err := net.Dial("tcp", r.Host)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			w.WriteHeader(http.StatusOK)
			http.NewResponseController(w).Flush()
			conn, buf, err := http.NewResponseController(w).Hijack()
			if err != nil {
				upstream.Close()
				return
			}
			go func() {
				io.Copy(upstream, buf)
				upstream.(*net.TCPConn).CloseWrite()
			}()
			io.Copy(conn, upstream)
			conn.Close()
			upstream.Close()
			return
		}
		if !r.URL.IsAbs() {
			http.Error(w, "not a proxy request", http.StatusBadRequest)
			return
		}
		out := r.Clone(r.Context())
		out.RequestURI = ""
		out.Header.Del("Proxy-Authorization")
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
	quiet(p.Server)
	t.Cleanup(p.Close)
	return p
}

func (p *recordingProxy) seen() (targets, hosts, auth []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.targets...), append([]string(nil), p.hosts...), append([]string(nil), p.auth...)
}

func proxyURL(t *testing.T, p *recordingProxy, user string) *url.URL {
	t.Helper()
	u, err := url.Parse(p.URL)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		u.User = url.UserPassword(user, "s3cret")
	}
	return u
}

// An http:// endpoint goes to the proxy in absolute form, addressed by the IP
// hookd resolved and checked. Go writes the absolute URI from the Host header,
// and a proxy replaces Host with the URI's authority anyway (RFC 9112 3.2.2), so
// the receiver sees the IP as Host.
func TestProxyHTTP(t *testing.T) {
	t.Parallel()
	var gotHost string
	recv := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		gotHost = r.Host
		w.WriteHeader(http.StatusAccepted)
	})
	proxy := newRecordingProxy(t)
	c := newTestClient(t, Config{
		Proxy:      proxyURL(t, proxy, "hookd"),
		AllowCIDRs: loopbackOnly,
		Resolver:   mapResolver{"receiver.test": addrs("127.0.0.1")},
	})
	res := c.Send(context.Background(), Request{URL: "http://receiver.test:" + recv.port(t) + "/hook", Body: []byte(`{}`)})
	if res.StatusCode != http.StatusAccepted || res.Err != "" {
		t.Fatalf("Send = %+v", res)
	}
	targets, hosts, auth := proxy.seen()
	want := "POST http://127.0.0.1:" + recv.port(t) + "/hook"
	if len(targets) != 1 || targets[0] != want {
		t.Errorf("proxy saw %q, want [%q]", targets, want)
	}
	if len(hosts) != 1 || hosts[0] != "127.0.0.1:"+recv.port(t) {
		t.Errorf("Host header at the proxy %q, want the checked address", hosts)
	}
	if len(auth) != 1 || !strings.HasPrefix(auth[0], "Basic ") {
		t.Errorf("Proxy-Authorization %q, want Basic credentials from the proxy URL", auth)
	}
	if recv.hits.Load() != 1 || gotHost == "" {
		t.Errorf("receiver hits %d, Host %q", recv.hits.Load(), gotHost)
	}
}

// An https:// endpoint is reached through CONNECT to the checked IP; TLS inside
// the tunnel is verified against the endpoint's name (a test CA).
func TestProxyHTTPS(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t)
	recv := newTLSReceiver(t, &tls.Config{Certificates: []tls.Certificate{ca.issue(t, leafSpec{dnsNames: []string{"secure.test"}})}},
		func(w http.ResponseWriter, r *http.Request) {
			if r.Host != "secure.test:"+strings.Split(r.Host, ":")[1] {
				t.Errorf("Host in the tunnel = %q", r.Host)
			}
			w.WriteHeader(http.StatusOK)
		})
	proxy := newRecordingProxy(t)
	c := newTestClient(t, Config{
		Proxy:      proxyURL(t, proxy, "hookd"),
		AllowCIDRs: loopbackOnly,
		RootCAs:    ca.pool(),
		Resolver:   mapResolver{"secure.test": addrs("127.0.0.1")},
	})
	for range 2 { // the second reuses the tunnelled connection
		res := c.Send(context.Background(), Request{URL: "https://secure.test:" + recv.port(t) + "/hook", Body: []byte(`{}`)})
		if res.StatusCode != http.StatusOK || res.Err != "" {
			t.Fatalf("Send = %+v", res)
		}
	}
	targets, _, auth := proxy.seen()
	want := "CONNECT 127.0.0.1:" + recv.port(t)
	if len(targets) != 1 || targets[0] != want {
		t.Errorf("proxy saw %q, want [%q] (one tunnel, kept alive)", targets, want)
	}
	if len(auth) != 1 || !strings.HasPrefix(auth[0], "Basic ") {
		t.Errorf("Proxy-Authorization on CONNECT %q", auth)
	}
	if recv.hits.Load() != 2 {
		t.Errorf("receiver hits %d, want 2", recv.hits.Load())
	}

	// A certificate for another name fails inside the tunnel as it would directly.
	bad := newTestClient(t, Config{
		Proxy: proxyURL(t, proxy, ""), AllowCIDRs: loopbackOnly, RootCAs: ca.pool(),
		Resolver: mapResolver{"other.test": addrs("127.0.0.1")},
	})
	res := bad.Send(context.Background(), Request{URL: "https://other.test:" + recv.port(t) + "/hook", Body: []byte(`{}`)})
	if res.StatusCode != 0 || !strings.Contains(res.Err, "certificate") {
		t.Errorf("wrong name through the proxy: %+v", res)
	}
}

// The SSRF guard still decides with a proxy: a refused address never reaches
// the proxy, whatever the scheme, and a rebinding answer cannot slip past it.
func TestProxyKeepsGuard(t *testing.T) {
	t.Parallel()
	proxy := newRecordingProxy(t)
	c := newTestClient(t, Config{
		Proxy: proxyURL(t, proxy, ""),
		Resolver: mapResolver{
			"metadata.test": addrs("169.254.169.254"),
			"inside.test":   addrs("10.0.0.5"),
			"mixed.test":    addrs("93.184.215.14", "127.0.0.1"),
		},
	})
	for _, u := range []string{
		"http://metadata.test/latest/meta-data",
		"https://inside.test/hook",
		"http://mixed.test/hook",
		"https://mixed.test/hook",
		"http://127.0.0.1:9/hook",
		"https://[::1]:9/hook",
	} {
		res := c.Send(context.Background(), Request{URL: u, Body: []byte(`{}`)})
		if res.StatusCode != 0 || !strings.Contains(res.Err, "refused to connect") {
			t.Errorf("%s through the proxy: %+v, want refused", u, res)
		}
	}
	if targets, _, _ := proxy.seen(); len(targets) != 0 {
		t.Errorf("the proxy was asked for %q", targets)
	}
	// Unknown names fail as DNS errors, before the proxy.
	res := c.Send(context.Background(), Request{URL: "https://nowhere.test/hook", Body: []byte(`{}`)})
	if !strings.Contains(res.Err, "DNS lookup failed") {
		t.Errorf("unknown host: %+v", res)
	}
}

func TestProxyErrors(t *testing.T) {
	t.Parallel()
	// A proxy that refuses CONNECT: its status is the reason.
	refusing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "denied by policy", http.StatusForbidden)
	}))
	defer refusing.Close()
	u, _ := url.Parse(refusing.URL)
	c := newTestClient(t, Config{Proxy: u, AllowCIDRs: loopbackOnly, Resolver: mapResolver{"a.test": addrs("127.0.0.1")}})
	res := c.Send(context.Background(), Request{URL: "https://a.test:8443/hook", Body: []byte(`{}`)})
	if res.StatusCode != 0 || !strings.Contains(res.Err, "egress proxy") || !strings.Contains(res.Err, "403") {
		t.Errorf("refused CONNECT: %+v", res)
	}
	// The proxy's own answer to an http:// request is what the endpoint answered,
	// as far as hookd can tell.
	res = c.Send(context.Background(), Request{URL: "http://a.test:8080/hook", Body: []byte(`{}`)})
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("proxy answer for http: %+v", res)
	}
	// A proxy that is down.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	down := newTestClient(t, Config{Proxy: &url.URL{Scheme: "http", Host: addr}, AllowCIDRs: loopbackOnly, Resolver: mapResolver{"a.test": addrs("127.0.0.1")}})
	for _, u := range []string{"https://a.test/hook", "http://a.test/hook"} {
		res := down.Send(context.Background(), Request{URL: u, Body: []byte(`{}`)})
		if res.StatusCode != 0 || !strings.Contains(res.Err, "egress proxy") {
			t.Errorf("%s with the proxy down: %+v, want a reason naming the egress proxy", u, res)
		}
	}
}

func TestProxyConfig(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"socks5://127.0.0.1:1080", "https://proxy.example:443", "http://", "http://proxy.example/path"} {
		u, _ := url.Parse(bad)
		if _, err := New(Config{Proxy: u}); err == nil {
			t.Errorf("New accepted proxy %q", bad)
		}
	}
	if _, err := New(Config{Proxy: &url.URL{Scheme: "http", Host: "proxy.internal:3128"}}); err != nil {
		t.Errorf("New refused a plain http proxy: %v", err)
	}
	_ = netip.Addr{}
}
