package outbound

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/clock"
)

func TestSendDelivers(t *testing.T) {
	t.Parallel()
	body := []byte(`{"id":"evt_1","type":"tester.created","data":{}}`)
	var got struct {
		method, ctype, ua, id, sig string
		body                       []byte
	}
	recv := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		got.method = r.Method
		got.ctype = r.Header.Get("Content-Type")
		got.ua = r.Header.Get("User-Agent")
		got.id = r.Header.Get("webhook-id")
		got.sig = r.Header.Get("webhook-signature")
		got.body, _ = io.ReadAll(r.Body)
		w.Header().Set("X-Receiver", "yes")
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, "thanks")
	})
	c := newTestClient(t, Config{AllowCIDRs: loopbackOnly, UserAgent: "hookd/1.2.3"})

	res := c.Send(context.Background(), Request{
		URL:  recv.URL + "/hook",
		Body: body,
		Header: http.Header{
			"Webhook-Id":        {"evt_1"},
			"Webhook-Signature": {"v1,abc"},
			"Content-Type":      {"text/plain"}, // overridden by Send
		},
	})

	if res.Err != "" || res.StatusCode != http.StatusAccepted {
		t.Fatalf("Send = %+v, want 202 without error", res)
	}
	if res.ResponseBody != "thanks" || res.ResponseHeaders.Get("X-Receiver") != "yes" {
		t.Errorf("response body %q, headers %v", res.ResponseBody, res.ResponseHeaders)
	}
	if res.Duration <= 0 {
		t.Errorf("Duration = %v, want > 0", res.Duration)
	}
	if got.method != http.MethodPost || got.ctype != "application/json" || got.ua != "hookd/1.2.3" {
		t.Errorf("request method %q content-type %q user-agent %q", got.method, got.ctype, got.ua)
	}
	if got.id != "evt_1" || got.sig != "v1,abc" {
		t.Errorf("webhook headers id %q sig %q", got.id, got.sig)
	}
	if !bytes.Equal(got.body, body) {
		t.Errorf("body %q, want %q", got.body, body)
	}
}

func TestDefaultUserAgent(t *testing.T) {
	t.Parallel()
	var ua atomic.Value
	recv := newReceiver(t, func(w http.ResponseWriter, r *http.Request) { ua.Store(r.UserAgent()) })
	c := newTestClient(t, Config{AllowPrivateNetworks: true})
	if res := c.Send(context.Background(), Request{URL: recv.URL}); res.StatusCode != 200 {
		t.Fatalf("Send = %+v", res)
	}
	if ua.Load() != DefaultUserAgent {
		t.Errorf("User-Agent %q, want %q", ua.Load(), DefaultUserAgent)
	}
}

func TestTLS(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t)
	loopIP := []netip.Addr{netip.MustParseAddr("127.0.0.1")}
	good := ca.issue(t, leafSpec{dnsNames: []string{"localhost", "hooks.test"}, ips: loopIP})
	expired := ca.issue(t, leafSpec{ips: loopIP,
		notBefore: time.Now().Add(-48 * time.Hour), notAfter: time.Now().Add(-24 * time.Hour)})
	notYet := ca.issue(t, leafSpec{ips: loopIP,
		notBefore: time.Now().Add(24 * time.Hour), notAfter: time.Now().Add(48 * time.Hour)})
	wrongHost := ca.issue(t, leafSpec{dnsNames: []string{"example.com"}})
	caFile := ca.writePEM(t)

	tests := []struct {
		name    string
		server  *tls.Config // nil: plain HTTP
		client  Config
		host    string // "" dials 127.0.0.1
		wantErr string // "" wants 200
	}{
		{
			name:   "trusted via RootCAs",
			server: &tls.Config{Certificates: []tls.Certificate{good}},
			client: Config{RootCAs: ca.pool()},
		},
		{
			name:   "trusted via CAFile",
			server: &tls.Config{Certificates: []tls.Certificate{good}},
			client: Config{CAFile: caFile},
		},
		{
			name:   "host name checked against resolved address",
			server: &tls.Config{Certificates: []tls.Certificate{good}},
			client: Config{RootCAs: ca.pool(), Resolver: mapResolver{"hooks.test": loopIP}},
			host:   "hooks.test",
		},
		{
			name:    "self-signed",
			server:  &tls.Config{}, // httptest's own certificate
			client:  Config{CAFile: caFile},
			wantErr: "tls: certificate signed by unknown authority: ",
		},
		{
			name:    "expired",
			server:  &tls.Config{Certificates: []tls.Certificate{expired}},
			client:  Config{RootCAs: ca.pool()},
			wantErr: "tls: certificate expired or not yet valid: ",
		},
		{
			name:    "not yet valid",
			server:  &tls.Config{Certificates: []tls.Certificate{notYet}},
			client:  Config{RootCAs: ca.pool()},
			wantErr: "tls: certificate expired or not yet valid: ",
		},
		{
			name:    "wrong host name",
			server:  &tls.Config{Certificates: []tls.Certificate{wrongHost}},
			client:  Config{RootCAs: ca.pool()},
			wantErr: "tls: certificate is not valid for host 127.0.0.1 (hostname mismatch): ",
		},
		{
			name: "TLS 1.0 only",
			server: &tls.Config{Certificates: []tls.Certificate{good},
				MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS10},
			client:  Config{RootCAs: ca.pool()},
			wantErr: "tls: handshake failed: protocol version not supported: ",
		},
		{
			name:    "plain HTTP behind an https URL",
			client:  Config{RootCAs: ca.pool()},
			wantErr: "tls: handshake failed: server did not answer with TLS: ",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var recv *receiver
			if tt.server != nil {
				recv = newTLSReceiver(t, tt.server, nil)
			} else {
				recv = newReceiver(t, nil)
			}
			tt.client.AllowCIDRs = loopbackOnly
			c := newTestClient(t, tt.client)
			host := tt.host
			if host == "" {
				host = "127.0.0.1"
			}
			url := "https://" + net.JoinHostPort(host, recv.port(t)) + "/hook"

			res := c.Send(context.Background(), Request{URL: url, Body: []byte(`{}`)})

			if tt.wantErr == "" {
				if res.Err != "" || res.StatusCode != http.StatusOK || recv.hits.Load() != 1 {
					t.Fatalf("Send = %+v, handler hits %d; want 200 delivered once", res, recv.hits.Load())
				}
				return
			}
			if !strings.HasPrefix(res.Err, tt.wantErr) {
				t.Errorf("Err = %q, want prefix %q", res.Err, tt.wantErr)
			}
			if res.StatusCode != 0 {
				t.Errorf("StatusCode = %d, want 0", res.StatusCode)
			}
			if n := recv.hits.Load(); n != 0 {
				t.Errorf("handler called %d times; nothing may be sent before TLS verifies", n)
			}
		})
	}
}

func TestNewRejectsBadCAFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	notPEM := dir + "/not.pem"
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{dir + "/missing.pem", notPEM, dir} {
		if _, err := New(Config{CAFile: path}); err == nil {
			t.Errorf("New with CAFile %s: no error", path)
		}
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	t.Parallel()
	for name, cfg := range map[string]Config{
		"negative timeout":   {Timeout: -time.Second},
		"negative max body":  {MaxResponseBytes: -1},
		"negative idle pool": {MaxIdleConnsPerHost: -1},
		"invalid prefix":     {AllowCIDRs: []netip.Prefix{{}}},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
}

func TestGuardRefusesBeforeConnecting(t *testing.T) {
	t.Parallel()
	// Every name and literal below points at blocked space; the loopback
	// ones would reach this receiver if the guard let them through.
	recv := newReceiver(t, nil)
	port := recv.port(t)
	res := mapResolver{
		"loop4.test":    addrs("127.0.0.1"),
		"loop6.test":    addrs("::1"),
		"private.test":  addrs("10.0.0.1"),
		"metadata.test": addrs("169.254.169.254"),
		"mapped.test":   addrs("::ffff:127.0.0.1"),
		"cgnat.test":    addrs("100.64.0.1"),
		"mixed.test":    addrs("127.0.0.1", "10.1.2.3"),
	}
	tests := []struct {
		host, want string
	}{
		{"loop4.test", "refused to connect to 127.0.0.1: loopback address not allowed (use --allow-private-networks)"},
		{"loop6.test", "refused to connect to ::1: loopback address not allowed"},
		{"private.test", "refused to connect to 10.0.0.1: private address not allowed"},
		{"metadata.test", "refused to connect to 169.254.169.254: link-local address not allowed"},
		{"mapped.test", "refused to connect to ::ffff:127.0.0.1: loopback address (IPv4-mapped 127.0.0.1) not allowed"},
		{"cgnat.test", "refused to connect to 100.64.0.1: carrier-grade NAT (shared) address not allowed"},
		{"mixed.test", "refused to connect to 127.0.0.1: loopback address not allowed"},
		{"127.0.0.1", "refused to connect to 127.0.0.1: loopback address not allowed"},
		{"127.1.2.3", "refused to connect to 127.1.2.3: loopback address not allowed"},
		{"[::1]", "refused to connect to ::1: loopback address not allowed"},
		{"10.0.0.1", "refused to connect to 10.0.0.1: private address not allowed"},
		{"169.254.169.254", "refused to connect to 169.254.169.254: link-local address not allowed"},
		{"[::ffff:127.0.0.1]", "refused to connect to ::ffff:127.0.0.1: loopback address (IPv4-mapped 127.0.0.1) not allowed"},
		{"[::ffff:7f00:1]", "refused to connect to ::ffff:127.0.0.1: loopback address (IPv4-mapped 127.0.0.1) not allowed"},
		{"100.64.0.1", "refused to connect to 100.64.0.1: carrier-grade NAT (shared) address not allowed"},
		{"0.0.0.0", "refused to connect to 0.0.0.0: unspecified address not allowed"},
		{"[::]", "refused to connect to ::: unspecified address not allowed"},
		{"[fe80::1%25lo]", "refused to connect to fe80::1%lo: link-local address not allowed"},
		{"[64:ff9b::7f00:1]", "refused to connect to 64:ff9b::7f00:1: loopback address (NAT64 127.0.0.1) not allowed"},
	}
	for _, scheme := range []string{"http", "https"} {
		c := newTestClient(t, Config{Resolver: res})
		for _, tt := range tests {
			url := scheme + "://" + tt.host + ":" + port + "/hook"
			got := c.Send(context.Background(), Request{URL: url, Body: []byte(`{}`)})
			if !strings.HasPrefix(got.Err, tt.want) || got.StatusCode != 0 {
				t.Errorf("Send(%s) = %d %q, want refusal %q", url, got.StatusCode, got.Err, tt.want)
			}
		}
	}
	if n := recv.hits.Load(); n != 0 {
		t.Errorf("receiver on loopback got %d requests through the guard", n)
	}
}

func TestGuardAllowsConfiguredRanges(t *testing.T) {
	t.Parallel()
	recv := newReceiver(t, nil)
	named := "http://receiver.test:" + recv.port(t)
	resolver := mapResolver{"receiver.test": addrs("127.0.0.1")}
	tests := []struct {
		name      string
		cfg       Config
		url       string
		delivered bool
	}{
		{"loopback range allowed", Config{AllowCIDRs: loopbackOnly}, recv.URL, true},
		{"one address allowed", Config{AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}, recv.URL, true},
		{"name resolving into allowed range", Config{AllowCIDRs: loopbackOnly, Resolver: resolver}, named, true},
		{"unmasked prefix is masked", Config{AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("127.9.9.9/8")}}, recv.URL, true},
		{"guard lifted", Config{AllowPrivateNetworks: true}, recv.URL, true},
		{"other private range allowed only", Config{AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}, recv.URL, false},
		{"default guard", Config{}, recv.URL, false},
	}
	for _, tt := range tests {
		before := recv.hits.Load()
		c := newTestClient(t, tt.cfg)
		res := c.Send(context.Background(), Request{URL: tt.url})
		delivered := recv.hits.Load() > before
		if delivered != tt.delivered {
			t.Errorf("%s: delivered = %v, want %v (result %+v)", tt.name, delivered, tt.delivered, res)
		}
		if tt.delivered && (res.StatusCode != 200 || res.Err != "") {
			t.Errorf("%s: Send = %+v, want 200", tt.name, res)
		}
		if !tt.delivered && !strings.HasPrefix(res.Err, "refused to connect to 127.0.0.1: loopback address") {
			t.Errorf("%s: Err = %q, want loopback refusal", tt.name, res.Err)
		}
	}
}

// TestDNSRebinding stands 127.0.0.1 in for a public address (it is the
// only allowed one) and 127.0.0.2 for an internal service. The resolver
// answers the allowed address once and the internal one on every later
// lookup, so a client that checks one answer and then connects by name
// (resolving again) would reach the internal service.
func TestDNSRebinding(t *testing.T) {
	t.Parallel()
	public := newReceiver(t, nil)
	internal := listenOnSamePort(t, "127.0.0.2", public.port(t))
	allowOne := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	url := "http://rebind.test:" + public.port(t) + "/hook"

	t.Run("connects to the address it checked", func(t *testing.T) {
		rebind := &seqResolver{answers: [][]netip.Addr{addrs("127.0.0.1"), addrs("127.0.0.2")}}
		c := newTestClient(t, Config{AllowCIDRs: allowOne, Resolver: rebind})
		res := c.Send(context.Background(), Request{URL: url})
		if res.StatusCode != 200 || public.hits.Load() != 1 {
			t.Fatalf("Send = %+v, public hits %d; want delivery to the checked address", res, public.hits.Load())
		}
		if n := rebind.lookups(); n != 1 {
			t.Errorf("%d lookups for one connection, want 1", n)
		}

		// A new connection looks the name up again and is judged afresh.
		c.CloseIdleConnections()
		res = c.Send(context.Background(), Request{URL: url})
		if !strings.HasPrefix(res.Err, "refused to connect to 127.0.0.2: loopback address not allowed") {
			t.Errorf("after rebinding Err = %q, want refusal of 127.0.0.2", res.Err)
		}
	})
	t.Run("any refused answer refuses the name", func(t *testing.T) {
		mixed := &seqResolver{answers: [][]netip.Addr{addrs("127.0.0.1", "127.0.0.2")}}
		c := newTestClient(t, Config{AllowCIDRs: allowOne, Resolver: mixed})
		before := public.hits.Load()
		res := c.Send(context.Background(), Request{URL: url})
		if !strings.HasPrefix(res.Err, "refused to connect to 127.0.0.2") || public.hits.Load() != before {
			t.Errorf("Send = %+v, want refusal without delivery", res)
		}
	})
	if n := internal.Load(); n != 0 {
		t.Errorf("internal service was reached %d times", n)
	}
}

// listenOnSamePort serves on ip:port and counts accepted connections.
func listenOnSamePort(t testing.TB, ip, port string) *atomic.Int32 {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, port))
	if err != nil {
		t.Skipf("cannot listen on %s:%s: %v", ip, port, err)
	}
	var accepted atomic.Int32
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			_ = conn.Close()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		<-done
	})
	return &accepted
}

func TestRedirectNotFollowed(t *testing.T) {
	t.Parallel()
	target := newReceiver(t, nil)
	redirector := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+"/elsewhere", http.StatusFound)
	})
	c := newTestClient(t, Config{AllowCIDRs: loopbackOnly})

	res := c.Send(context.Background(), Request{URL: redirector.URL, Body: []byte(`{}`)})

	if res.StatusCode != http.StatusFound || res.Err != "" {
		t.Errorf("Send = %+v, want the 302 itself", res)
	}
	if res.ResponseHeaders.Get("Location") == "" {
		t.Errorf("Location header not kept: %v", res.ResponseHeaders)
	}
	if n := target.hits.Load(); n != 0 {
		t.Errorf("redirect target hit %d times", n)
	}
}

func TestTimeout(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	stall := func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}
	noResponse := newReceiver(t, stall)
	slowBody := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "partial")
		w.(http.Flusher).Flush()
		stall(w, r)
	})
	// Registered after the servers, so it runs first: their Close waits
	// for the stalled handlers.
	t.Cleanup(func() { close(release) })
	c := newTestClient(t, Config{AllowCIDRs: loopbackOnly, Timeout: 200 * time.Millisecond})

	res := c.Send(context.Background(), Request{URL: noResponse.URL})
	if res.Err != "timeout after 200ms waiting for response" || res.StatusCode != 0 {
		t.Errorf("no response: Send = %+v, want timeout waiting for response", res)
	}

	silent := listenAndStall(t)
	res = c.Send(context.Background(), Request{URL: "https://" + silent})
	if res.Err != "timeout after 200ms during TLS handshake" || res.StatusCode != 0 {
		t.Errorf("silent TLS server: Send = %+v, want timeout during TLS handshake", res)
	}

	// Headers arrived, so the receiver answered: the status stands and the
	// excerpt holds what came before the deadline.
	res = c.Send(context.Background(), Request{URL: slowBody.URL})
	if res.StatusCode != 200 || res.Err != "" || res.ResponseBody != "partial" {
		t.Errorf("slow body: Send = %+v, want 200 with the partial body", res)
	}
}

func TestCallerCancellation(t *testing.T) {
	t.Parallel()
	recv := newReceiver(t, nil)
	c := newTestClient(t, Config{AllowCIDRs: loopbackOnly})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res := c.Send(ctx, Request{URL: recv.URL})
	if !strings.HasPrefix(res.Err, "cancelled ") || res.StatusCode != 0 {
		t.Errorf("Send = %+v, want cancelled", res)
	}
	ctx, cancel = context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	res = c.Send(ctx, Request{URL: recv.URL})
	if !strings.HasPrefix(res.Err, "timeout: caller's deadline passed") {
		t.Errorf("Send = %+v, want caller's deadline", res)
	}
}

func TestConnectionErrors(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	hangup := listenAndHangUp(t)

	c := newTestClient(t, Config{
		AllowCIDRs: loopbackOnly,
		Resolver:   mapResolver{"empty.test": nil},
	})
	tests := []struct {
		url, want string
	}{
		{"http://127.0.0.1:" + strconv.Itoa(closedPort), "connection refused: "},
		{"http://" + hangup, "connection closed by server before a response: "},
		{"http://nope.test/", "DNS lookup failed for host nope.test: "},
		{"http://empty.test/", "DNS lookup failed for host empty.test: no addresses"},
		{"ftp://127.0.0.1/", "invalid url: scheme must be http or https"},
		{"http://[::1", "invalid url: "},
	}
	for _, tt := range tests {
		res := c.Send(context.Background(), Request{URL: tt.url})
		if !strings.HasPrefix(res.Err, tt.want) || res.StatusCode != 0 {
			t.Errorf("Send(%s) = %d %q, want prefix %q", tt.url, res.StatusCode, res.Err, tt.want)
		}
	}
}

// listenAndStall accepts connections and never answers on them.
func listenAndStall(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				_ = c.Close()
			}
		}()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, conn)
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		<-done
	})
	return ln.Addr().String()
}

// listenAndHangUp accepts connections and closes them unanswered.
func listenAndHangUp(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			// Read the request first so the close is a clean FIN, not a
			// reset from unread data.
			_, _ = conn.Read(make([]byte, 4096))
			_ = conn.Close()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		<-done
	})
	return ln.Addr().String()
}

func TestResponseExcerpt(t *testing.T) {
	t.Parallel()
	var conns atomic.Int32
	big := strings.Repeat("x", 15) + "é" + strings.Repeat("y", 5000) // é straddles byte 16
	recv := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "120")
		w.Header().Set("X-Huge", strings.Repeat("h", 5000))
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = io.WriteString(w, big)
	}, func(s *http.Server) {
		s.ConnState = func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				conns.Add(1)
			}
		}
	})
	c := newTestClient(t, Config{AllowCIDRs: loopbackOnly, MaxResponseBytes: 16})

	for range 3 {
		res := c.Send(context.Background(), Request{URL: recv.URL})
		if res.StatusCode != http.StatusTooManyRequests || res.Err != "" {
			t.Fatalf("Send = %+v", res)
		}
		if res.ResponseBody != strings.Repeat("x", 15) {
			t.Errorf("excerpt %q, want the 15 bytes before the cut character", res.ResponseBody)
		}
		if res.RetryAfter != 2*time.Minute {
			t.Errorf("RetryAfter = %v, want 2m", res.RetryAfter)
		}
		if h := res.ResponseHeaders.Get("X-Huge"); len(h) != maxKeptValueBytes {
			t.Errorf("kept header value of %d bytes, want %d", len(h), maxKeptValueBytes)
		}
	}
	// The rest of each body was drained, so one connection served all.
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections for 3 sends, want 1 kept alive", n)
	}
}

func TestStorableText(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in    string
		limit int
		want  string
	}{
		{"hello", 4096, "hello"},
		{"", 16, ""},
		{"a\x00b", 16, "a\uFFFDb"},
		{"a\xffb", 16, "a\uFFFDb"},
		{"ab\xff", 4, "ab"}, // a replacement must not push past the limit
		{"ab\xff", 5, "ab\uFFFD"},
		{"日本語", 9, "日本語"},
	}
	for _, tt := range tests {
		if got := storableText([]byte(tt.in), tt.limit); got != tt.want {
			t.Errorf("storableText(%q, %d) = %q, want %q", tt.in, tt.limit, got, tt.want)
		}
	}
}

func TestReadExcerptCutsAtCharacter(t *testing.T) {
	t.Parallel()
	for limit := 1; limit <= 12; limit++ {
		got := readExcerpt(strings.NewReader("日本語です"), limit)
		want := "日本語です"[:limit/3*3]
		if got != want {
			t.Errorf("limit %d: %q, want %q", limit, got, want)
		}
	}
}

func TestTrimHeadersBudget(t *testing.T) {
	t.Parallel()
	h := http.Header{}
	for i := range 100 {
		h.Set("X-H"+strconv.Itoa(i), strings.Repeat("v", 500))
	}
	got := trimHeaders(h)
	size := 0
	for k, vs := range got {
		for _, v := range vs {
			size += len(k) + len(v)
		}
	}
	if size > maxKeptHeaderBytes || len(got) == 0 || len(got) == len(h) {
		t.Errorf("kept %d headers of %d bytes; want some, within %d bytes", len(got), size, maxKeptHeaderBytes)
	}
}

func TestRetryAfterDateUsesClock(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	recv := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "Thu, 26 Nov 2026 12:05:00 GMT")
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	c := newTestClient(t, Config{AllowCIDRs: loopbackOnly, Clock: clock.NewFake(now)})
	res := c.Send(context.Background(), Request{URL: recv.URL})
	if res.StatusCode != http.StatusServiceUnavailable || res.RetryAfter != 5*time.Minute {
		t.Errorf("Send = %+v, want 503 with RetryAfter 5m", res)
	}
}

func TestHTTP2(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t)
	cert := ca.issue(t, leafSpec{ips: addrs("127.0.0.1")})
	var proto atomic.Int32
	recv := newTLSReceiver(t, &tls.Config{Certificates: []tls.Certificate{cert}},
		func(w http.ResponseWriter, r *http.Request) { proto.Store(int32(r.ProtoMajor)) },
		func(s *httptest.Server) { s.EnableHTTP2 = true })
	c := newTestClient(t, Config{AllowCIDRs: loopbackOnly, RootCAs: ca.pool()})

	res := c.Send(context.Background(), Request{URL: recv.URL, Body: []byte(`{}`)})

	if res.StatusCode != 200 || proto.Load() != 2 {
		t.Errorf("Send = %+v over HTTP/%d, want 200 over HTTP/2", res, proto.Load())
	}
}

func TestDialFallsBackToNextAddress(t *testing.T) {
	t.Parallel()
	recv := newReceiver(t, nil)
	// Nothing listens on 127.0.0.2 at this port, so the first answer is
	// refused by the kernel and the second one is tried.
	c := newTestClient(t, Config{
		AllowCIDRs: loopbackOnly,
		Resolver:   mapResolver{"two.test": addrs("127.0.0.2", "127.0.0.1")},
	})
	res := c.Send(context.Background(), Request{URL: "http://two.test:" + recv.port(t)})
	if res.StatusCode != 200 || recv.hits.Load() != 1 {
		t.Errorf("Send = %+v, want delivery through the second address", res)
	}
}
