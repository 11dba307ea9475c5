package app_test

// End-to-end tests of the "Trust" promises: certificate checks and the
// address guard as they show in the event log, the HTTPS-only mode,
// rotation with a grace period by an injected clock, Ed25519 signing,
// secrets encrypted at rest and kept out of API answers and logs, and key
// revocation. Everything goes through the real API, engine and event log.

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"log"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/app"
	"github.com/hookd/hookd/internal/clock"
	"github.com/hookd/hookd/webhook"
)

// loopbackOnly lets the app reach test servers on loopback while the
// address guard stays on for every other range.
var loopbackOnly = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

// on returns s reporting to t, so that parallel subtests can share one
// running hookd without failing their parent from another goroutine.
func (s *server) on(t testing.TB) *server {
	c := *s
	c.t = t
	return &c
}

// testCA is a certificate authority made up for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newTestCA(t testing.TB) *testCA {
	t.Helper()
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: "hookd e2e test CA"},
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	cert, key := makeCert(t, tmpl, nil, nil, time.Time{}, time.Time{})
	return &testCA{cert: cert, key: key}
}

// writePEM stores the CA certificate in a file, as an operator would for
// --ca-file.
func (ca *testCA) writePEM(t testing.TB) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ca.pem")
	data := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw})
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// leaf issues a server certificate for hosts (IP literals or DNS names)
// valid from notBefore to notAfter (zero: around now). A nil ca makes it
// self-signed.
func leaf(t testing.TB, ca *testCA, hosts []string, notBefore, notAfter time.Time) tls.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: "hookd e2e test server"},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	var cert *x509.Certificate
	var key *ecdsa.PrivateKey
	if ca == nil {
		cert, key = makeCert(t, tmpl, nil, nil, notBefore, notAfter)
	} else {
		cert, key = makeCert(t, tmpl, ca.cert, ca.key, notBefore, notAfter)
	}
	return tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}
}

// makeCert signs tmpl with parentKey (nil parent: with its own new key).
func makeCert(t testing.TB, tmpl, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, notBefore, notAfter time.Time) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if notBefore.IsZero() {
		notBefore = time.Now().Add(-time.Hour)
	}
	if notAfter.IsZero() {
		notAfter = time.Now().Add(24 * time.Hour)
	}
	tmpl.NotBefore, tmpl.NotAfter = notBefore, notAfter
	if tmpl.SerialNumber, err = rand.Int(rand.Reader, big.NewInt(1<<62)); err != nil {
		t.Fatal(err)
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

// countingServer is a real server on loopback whose handler counts the
// requests it saw, so a test can tell that nothing reached it.
type countingServer struct {
	srv  *httptest.Server
	hits atomic.Int32
}

// newCountingServer serves on ln (nil: 127.0.0.1), over TLS with cfg when
// cfg is non-nil.
func newCountingServer(t testing.TB, ln net.Listener, cfg *tls.Config) *countingServer {
	t.Helper()
	c := &countingServer{}
	c.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.hits.Add(1)
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusOK)
	}))
	// The handshakes that fail on purpose would clutter the output.
	c.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	if ln != nil {
		c.srv.Listener.Close()
		c.srv.Listener = ln
	}
	if cfg != nil {
		c.srv.TLS = cfg
		c.srv.StartTLS()
	} else {
		c.srv.Start()
	}
	t.Cleanup(c.srv.Close)
	return c
}

func (c *countingServer) port() string {
	_, p, _ := net.SplitHostPort(c.srv.Listener.Addr().String())
	return p
}

// TestHTTPSValidation: a certificate from the CA given with CAFile is
// delivered; self-signed, expired, wrong-host and TLS 1.0-only servers get
// attempts with no status code and a reason naming the failure, are
// retried until the schedule ends, and never see a request.
func TestHTTPSValidation(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t)
	loop := []string{"127.0.0.1"}
	good := leaf(t, ca, loop, time.Time{}, time.Time{})
	s := start(t, func(c *app.Config) {
		c.AllowPrivateNetworks = false
		c.AllowCIDRs = loopbackOnly
		c.CAFile = ca.writePEM(t)
	})
	p := s.newProject("tls")

	tests := []struct {
		name    string
		tls     *tls.Config
		wantErr string // "" wants a 200
	}{
		{
			name: "certificate from the CA file",
			tls:  &tls.Config{Certificates: []tls.Certificate{good}},
		},
		{
			name:    "self-signed",
			tls:     &tls.Config{Certificates: []tls.Certificate{leaf(t, nil, loop, time.Time{}, time.Time{})}},
			wantErr: "tls: certificate signed by unknown authority: ",
		},
		{
			name: "expired",
			tls: &tls.Config{Certificates: []tls.Certificate{
				leaf(t, ca, loop, time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour))}},
			wantErr: "tls: certificate expired or not yet valid: ",
		},
		{
			name:    "wrong host name",
			tls:     &tls.Config{Certificates: []tls.Certificate{leaf(t, ca, []string{"hooks.example.com"}, time.Time{}, time.Time{})}},
			wantErr: "tls: certificate is not valid for host 127.0.0.1 (hostname mismatch): ",
		},
		{
			name: "TLS 1.0 only",
			tls: &tls.Config{Certificates: []tls.Certificate{good},
				MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS10},
			wantErr: "tls: handshake failed: protocol version not supported: ",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := s.on(t)
			recv := newCountingServer(t, nil, tt.tls)
			// Each case has its own event type, so events reach only its
			// endpoint.
			typ := "tls." + strings.ReplaceAll(strings.ReplaceAll(tt.name, " ", "_"), ".", "_")
			s.newEndpoint(p, "https://127.0.0.1:"+recv.port()+"/hook", typ)
			ev := s.publish(p, typ, map[string]any{"case": tt.name})
			d := s.waitDelivery(p, ev.Deliveries[0].ID, finished)

			if tt.wantErr == "" {
				if d.Status != "succeeded" || len(d.Attempts) != 1 || d.Attempts[0].StatusCode != 200 || d.Attempts[0].Error != "" {
					t.Fatalf("delivery = %+v, want succeeded with one 200 attempt", d)
				}
				if n := recv.hits.Load(); n != 1 {
					t.Fatalf("server saw %d requests, want 1", n)
				}
				return
			}
			// Failed after the whole schedule (first try + 2 retries):
			// TLS failures are retried like any network error.
			if d.Status != "failed" || d.AttemptCount != 3 || len(d.Attempts) != 3 {
				t.Fatalf("delivery = %+v, want failed after 3 attempts", d)
			}
			for _, a := range d.Attempts {
				if a.StatusCode != 0 || !strings.HasPrefix(a.Error, tt.wantErr) {
					t.Errorf("attempt %d: status %d, error %q; want 0 and an error starting %q", a.Number, a.StatusCode, a.Error, tt.wantErr)
				}
			}
			if d.LastStatusCode != 0 || !strings.HasPrefix(d.LastError, tt.wantErr) {
				t.Errorf("delivery last_status_code %d, last_error %q", d.LastStatusCode, d.LastError)
			}
			if n := recv.hits.Load(); n != 0 {
				t.Errorf("server handler saw %d requests; nothing may be sent before the certificate verifies", n)
			}
		})
	}

	// Allowing loopback lifts the guard for loopback only: 0.0.0.0 (which
	// Linux would connect to this machine) is still refused.
	t.Run("guard stays on beside AllowCIDRs", func(t *testing.T) {
		t.Parallel()
		s := s.on(t)
		recv := newCountingServer(t, nil, nil)
		s.newEndpoint(p, "http://0.0.0.0:"+recv.port()+"/hook", "guard.unspecified")
		ev := s.publish(p, "guard.unspecified", map[string]any{})
		d := s.waitDelivery(p, ev.Deliveries[0].ID, finished)
		want := "refused to connect to 0.0.0.0: unspecified address not allowed"
		if d.Status != "failed" || !strings.HasPrefix(d.LastError, want) {
			t.Fatalf("delivery = %+v, want failed with %q", d, want)
		}
		if n := recv.hits.Load(); n != 0 {
			t.Errorf("server saw %d requests", n)
		}
	})
}

// TestSSRFRefusedByDefault: with the guard on and nothing allowed, every
// loopback, private, link-local and IPv4-mapped target is refused before
// connecting, each attempt saying why, and loopback receivers get nothing.
//
// The cases run in order and stop at the first failure: the loopback ones
// come first, so that should the guard ever let traffic through, the test
// fails on a loopback address and never sends anything to 10.0.0.1 or the
// metadata address.
func TestSSRFRefusedByDefault(t *testing.T) {
	t.Parallel()
	s := start(t, func(c *app.Config) { c.AllowPrivateNetworks = false })
	p := s.newProject("ssrf")
	v4 := newCountingServer(t, nil, nil)
	// A receiver on ::1 when this machine has IPv6 loopback; otherwise the
	// URL names a port nobody listens on there, which the guard refuses all
	// the same.
	v6 := v4
	if ln, err := net.Listen("tcp", "[::1]:0"); err == nil {
		v6 = newCountingServer(t, ln, nil)
	}

	tests := []struct {
		name string
		url  string
		want string
	}{
		{"IPv4 loopback", "http://127.0.0.1:" + v4.port() + "/hook",
			"refused to connect to 127.0.0.1: loopback address not allowed"},
		{"IPv6 loopback", "http://[::1]:" + v6.port() + "/hook",
			"refused to connect to ::1: loopback address not allowed"},
		{"IPv4-mapped IPv6 loopback", "http://[::ffff:127.0.0.1]:" + v4.port() + "/hook",
			"refused to connect to ::ffff:127.0.0.1: loopback address (IPv4-mapped 127.0.0.1) not allowed"},
		{"private", "http://10.0.0.1/",
			"refused to connect to 10.0.0.1: private address not allowed"},
		{"cloud metadata", "http://169.254.169.254/latest/meta-data",
			"refused to connect to 169.254.169.254: link-local address not allowed"},
	}
	for i, tt := range tests {
		typ := "ssrf.case" + string(rune('a'+i))
		ep := s.newEndpoint(p, tt.url, typ)
		ev := s.publish(p, typ, map[string]any{})
		d := s.waitDelivery(p, ev.Deliveries[0].ID, finished)
		if d.Status != "failed" || len(d.Attempts) != 3 {
			t.Fatalf("%s: delivery = %+v, want failed after 3 refused attempts", tt.name, d)
		}
		for _, a := range d.Attempts {
			if a.StatusCode != 0 || !strings.HasPrefix(a.Error, tt.want) || !strings.Contains(a.Error, "--allow-private-networks") {
				t.Fatalf("%s: attempt %d: status %d, error %q; want 0 and %q with the flag that lifts it",
					tt.name, a.Number, a.StatusCode, a.Error, tt.want)
			}
		}
		// The Test button goes through the same guard.
		var res struct {
			StatusCode int    `json:"status_code"`
			Error      string `json:"error"`
		}
		s.must(200, "POST", "/v1/projects/"+p.ID+"/endpoints/"+ep+"/test", p.Key, map[string]any{}, &res)
		if res.StatusCode != 0 || !strings.HasPrefix(res.Error, tt.want) {
			t.Fatalf("%s: test button = %+v, want %q", tt.name, res, tt.want)
		}
		if n := v4.hits.Load() + v6.hits.Load(); n != 0 {
			t.Fatalf("%s: loopback receivers saw %d requests", tt.name, n)
		}
	}
}

// TestRequireHTTPS: with RequireHTTPS an http:// URL is refused when an
// endpoint is created or changed, with a message saying why; https is fine.
func TestRequireHTTPS(t *testing.T) {
	t.Parallel()
	s := start(t, func(c *app.Config) { c.RequireHTTPS = true })
	p := s.newProject("strict")
	type apiErr struct {
		Error struct{ Code, Message string }
	}
	var e apiErr
	s.must(400, "POST", "/v1/projects/"+p.ID+"/endpoints", p.Key, map[string]any{"url": "http://hooks.example.com/in"}, &e)
	if e.Error.Code != "invalid_argument" || !strings.HasSuffix(e.Error.Message, "url: must use https") {
		t.Errorf("creating an http endpoint answered %+v", e)
	}
	// Nothing is published here, so the accepted endpoint is never called.
	ep := s.newEndpoint(p, "https://hooks.example.com/in")
	e = apiErr{}
	s.must(400, "PATCH", "/v1/projects/"+p.ID+"/endpoints/"+ep, p.Key, map[string]any{"url": "http://hooks.example.com/in"}, &e)
	if e.Error.Code != "invalid_argument" || !strings.HasSuffix(e.Error.Message, "url: must use https") {
		t.Errorf("changing an endpoint to http answered %+v", e)
	}
	var list struct{ Items []struct{ URL string } }
	s.must(200, "GET", "/v1/projects/"+p.ID+"/endpoints", p.Key, nil, &list)
	if len(list.Items) != 1 || list.Items[0].URL != "https://hooks.example.com/in" {
		t.Errorf("endpoints after refusals: %+v", list.Items)
	}
}

// TestRotationGracePeriod: during the grace period every delivery carries
// two signatures, the new secret's first, and each secret verifies; once
// the injected clock passes the end of the grace, only the new one signs.
func TestRotationGracePeriod(t *testing.T) {
	t.Parallel()
	fake := clock.NewFake(time.Now())
	s := start(t, func(c *app.Config) { c.Clock = fake })
	recv := newReceiver(t)
	p := s.newProject("grace")
	s.newEndpoint(p, recv.URL())

	// A rotation comes later than the project's creation; at the very
	// same instant the two secrets' order would rest on their random ids.
	fake.Advance(time.Second)
	var rot struct{ Secret string }
	s.must(400, "POST", "/v1/projects/"+p.ID+"/secret/rotate", p.Key, map[string]any{"grace_period_seconds": 7*24*3600 + 1}, nil)
	s.must(200, "POST", "/v1/projects/"+p.ID+"/secret/rotate", p.Key, map[string]any{"grace_period_seconds": 3600}, &rot)
	if rot.Secret == p.Secret || !strings.HasPrefix(rot.Secret, "whsec_") {
		t.Fatalf("rotate answered %q", rot.Secret)
	}
	// Signatures are checked against the injected clock, like the sender.
	verifier := func(secret string) *webhook.Verifier {
		v, err := webhook.NewVerifier([]string{secret}, webhook.WithNow(fake.Now))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	oldV, newV := verifier(p.Secret), verifier(rot.Secret)

	// deliverOne publishes an event and returns the request that reached
	// the receiver.
	deliverOne := func() received {
		t.Helper()
		before := len(recv.received())
		ev := s.publish(p, "tester.created", map[string]any{})
		if d := s.waitDelivery(p, ev.Deliveries[0].ID, finished); d.Status != "succeeded" {
			t.Fatalf("delivery = %+v", d)
		}
		got := recv.received()
		if len(got) != before+1 {
			t.Fatalf("receiver got %d requests, want %d", len(got), before+1)
		}
		return got[len(got)-1]
	}
	// only keeps the i-th signature of a request.
	only := func(r received, i int) http.Header {
		h := r.Header.Clone()
		h.Set("webhook-signature", strings.Fields(r.Header.Get("webhook-signature"))[i])
		return h
	}

	for _, at := range []time.Duration{0, 3599 * time.Second} {
		fake.Set(fake.Now().Add(at))
		r := deliverOne()
		sigs := strings.Fields(r.Header.Get("webhook-signature"))
		if len(sigs) != 2 {
			t.Fatalf("%v into the grace: %d signatures %q, want 2", at, len(sigs), sigs)
		}
		if err := newV.Verify(r.Body, only(r, 0)); err != nil {
			t.Errorf("%v into the grace: first signature is not the new secret's: %v", at, err)
		}
		if err := oldV.Verify(r.Body, only(r, 1)); err != nil {
			t.Errorf("%v into the grace: second signature is not the old secret's: %v", at, err)
		}
		// A receiver holding either secret accepts the whole header.
		for name, v := range map[string]*webhook.Verifier{"old": oldV, "new": newV} {
			if err := v.Verify(r.Body, r.Header); err != nil {
				t.Errorf("%v into the grace: %s secret does not verify: %v", at, name, err)
			}
		}
	}

	// One second later the grace is over: the old secret no longer signs,
	// although it signed a moment ago (the signer cache must not outlive it).
	fake.Advance(time.Second)
	r := deliverOne()
	if sigs := strings.Fields(r.Header.Get("webhook-signature")); len(sigs) != 1 {
		t.Fatalf("after the grace: %d signatures %q, want 1", len(sigs), sigs)
	}
	if err := newV.Verify(r.Body, r.Header); err != nil {
		t.Errorf("after the grace: new secret does not verify: %v", err)
	}
	if err := oldV.Verify(r.Body, r.Header); err == nil {
		t.Error("after the grace: old secret still verifies")
	}
	var read struct{ Secret string }
	s.must(200, "GET", "/v1/projects/"+p.ID+"/secret", p.Key, nil, &read)
	if read.Secret != rot.Secret {
		t.Errorf("secret read back %q, want the new one", read.Secret)
	}
}

// TestEd25519Project: a project created with signature_scheme "ed25519"
// signs v1a, and a receiver verifies with the whpk_ public key alone.
func TestEd25519Project(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	recv := newReceiver(t)
	var prj struct{ ID string }
	s.must(201, "POST", "/v1/projects", testAdminKey, map[string]any{"name": "ed", "signature_scheme": "ed25519"}, &prj)
	var k struct{ Key string }
	s.must(201, "POST", "/v1/projects/"+prj.ID+"/api-keys", testAdminKey, map[string]any{}, &k)
	var sec struct {
		Secret    string `json:"secret"`
		PublicKey string `json:"public_key"`
	}
	s.must(200, "GET", "/v1/projects/"+prj.ID+"/secret", k.Key, nil, &sec)
	if !strings.HasPrefix(sec.Secret, "whsk_") || !strings.HasPrefix(sec.PublicKey, "whpk_") {
		t.Fatalf("secret read = %+v, want whsk_ and whpk_", sec)
	}
	p := project{ID: prj.ID, Key: k.Key, Secret: sec.Secret}
	s.newEndpoint(p, recv.URL())
	ev := s.publish(p, "tester.created", map[string]any{"n": 1})
	if d := s.waitDelivery(p, ev.Deliveries[0].ID, finished); d.Status != "succeeded" {
		t.Fatalf("delivery = %+v", d)
	}
	got := recv.received()[0]
	sigs := strings.Fields(got.Header.Get("webhook-signature"))
	if len(sigs) != 1 || !strings.HasPrefix(sigs[0], "v1a,") {
		t.Fatalf("webhook-signature = %q, want one v1a entry", got.Header.Get("webhook-signature"))
	}
	v, err := webhook.NewVerifier([]string{sec.PublicKey})
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Verify(got.Body, got.Header); err != nil {
		t.Errorf("public key does not verify: %v", err)
	}
	_, otherPub, err := webhook.NewKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	other, _ := webhook.NewVerifier([]string{otherPub})
	if err := other.Verify(got.Body, got.Header); err == nil {
		t.Error("another public key verifies")
	}
}

// syncBuffer is a log destination safe for the app's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestSecretsEncryptedAndNeverShown: with an encryption key the stored
// secrets are sealed (neither the store nor the database files hold them),
// deliveries still verify, and no API answer other than read and rotate,
// and no log line, contains a secret or an API key.
func TestSecretsEncryptedAndNeverShown(t *testing.T) {
	t.Parallel()
	dbPath := filepath.Join(t.TempDir(), "hookd.db")
	logs := &syncBuffer{}
	s := start(t, func(c *app.Config) {
		c.DB = dbPath
		c.EncryptionKey = "correct horse battery staple, e2e"
		c.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	recv := newReceiver(t, 500, 200) // one retry, so attempts and errors are logged too
	p := s.newProject("sealed")
	ep := s.newEndpoint(p, recv.URL())
	var rot struct{ Secret string }
	s.must(200, "POST", "/v1/projects/"+p.ID+"/secret/rotate", p.Key, map[string]any{"grace_period_seconds": 3600}, &rot)
	ev := s.publish(p, "tester.created", map[string]any{"n": 1})
	did := ev.Deliveries[0].ID
	if d := s.waitDelivery(p, did, finished); d.Status != "succeeded" || d.AttemptCount != 2 {
		t.Fatalf("delivery = %+v", d)
	}
	code, testAnswer := s.call("POST", "/v1/projects/"+p.ID+"/endpoints/"+ep+"/test", p.Key, map[string]any{}, nil)
	if code != 200 {
		t.Fatalf("test button: %d %s", code, testAnswer)
	}

	for _, r := range recv.received() {
		for _, secret := range []string{p.Secret, rot.Secret} {
			v, _ := webhook.NewVerifier([]string{secret})
			if err := v.Verify(r.Body, r.Header); err != nil {
				t.Errorf("delivery does not verify with a secret in its grace: %v", err)
			}
		}
	}

	// What must never be shown: both secrets (also without their prefix,
	// which is how the key material would leak in another encoding) and
	// the API keys.
	secrets := map[string]string{
		"old secret": p.Secret, "old secret body": strings.TrimPrefix(p.Secret, "whsec_"),
		"new secret": rot.Secret, "new secret body": strings.TrimPrefix(rot.Secret, "whsec_"),
	}
	keys := map[string]string{"project key": p.Key, "admin key": testAdminKey}
	leaks := func(where, text string, what map[string]string) {
		t.Helper()
		for name, v := range what {
			if strings.Contains(text, v) {
				t.Errorf("%s contains the %s", where, name)
			}
		}
	}

	stored, err := s.app.Store().ActiveSecrets(context.Background(), p.ID, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != 2 {
		t.Fatalf("%d active secrets stored, want 2", len(stored))
	}
	for _, sec := range stored {
		if !strings.HasPrefix(sec.Value, "enc:v1:") {
			t.Errorf("stored secret %s is not sealed: starts %q", sec.ID, sec.Value[:min(len(sec.Value), 7)])
		}
		leaks("stored secret "+sec.ID, sec.Value, secrets)
	}
	for _, f := range []string{dbPath, dbPath + "-wal"} {
		raw, err := os.ReadFile(f)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		leaks("database file "+filepath.Base(f), string(raw), secrets)
		leaks("database file "+filepath.Base(f), string(raw), keys)
	}

	var evs struct{ Items []struct{ ID string } }
	s.must(200, "GET", "/v1/projects/"+p.ID+"/events", p.Key, nil, &evs)
	for _, path := range []string{
		"/v1/projects", "/v1/projects/" + p.ID, "/v1/projects/" + p.ID + "/api-keys",
		"/v1/projects/" + p.ID + "/endpoints", "/v1/projects/" + p.ID + "/endpoints/" + ep,
		"/v1/projects/" + p.ID + "/events", "/v1/projects/" + p.ID + "/events/" + ev.ID,
		"/v1/projects/" + p.ID + "/deliveries", "/v1/projects/" + p.ID + "/deliveries/" + did,
	} {
		_, body := s.call("GET", path, p.Key, nil, nil)
		leaks("GET "+path, string(body), secrets)
		leaks("GET "+path, string(body), keys)
	}
	leaks("the test button's answer", string(testAnswer), secrets)
	if len(evs.Items) != 1 {
		t.Errorf("events listed: %+v", evs.Items)
	}
	if !strings.Contains(logs.String(), "level=") {
		t.Fatal("the app logged nothing; the log check below would prove nothing")
	}
	leaks("the log", logs.String(), secrets)
	leaks("the log", logs.String(), keys)
}

// TestRevokedKey: a revoked project key answers 401 on the very next call
// and publishes nothing; the project's other key keeps working, the
// listing shows the revocation, and another project's key cannot revoke.
func TestRevokedKey(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	a, b := s.newProject("a"), s.newProject("b")
	var k2 struct {
		ID  string `json:"id"`
		Key string `json:"key"`
	}
	s.must(201, "POST", "/v1/projects/"+a.ID+"/api-keys", a.Key, map[string]any{}, &k2)
	s.must(200, "GET", "/v1/projects/"+a.ID, k2.Key, nil, nil)

	// B's key cannot revoke A's key, whichever project it names.
	s.must(404, "DELETE", "/v1/projects/"+a.ID+"/api-keys/"+k2.ID, b.Key, nil, nil)
	s.must(404, "DELETE", "/v1/projects/"+b.ID+"/api-keys/"+k2.ID, b.Key, nil, nil)
	s.must(200, "GET", "/v1/projects/"+a.ID, k2.Key, nil, nil)

	s.must(204, "DELETE", "/v1/projects/"+a.ID+"/api-keys/"+k2.ID, a.Key, nil, nil)
	var e struct{ Error struct{ Code string } }
	s.must(401, "GET", "/v1/projects/"+a.ID, k2.Key, nil, &e)
	if e.Error.Code != "unauthenticated" {
		t.Errorf("revoked key answered code %q", e.Error.Code)
	}
	s.must(401, "POST", "/v1/projects/"+a.ID+"/events", k2.Key, map[string]any{"type": "x.y", "data": map[string]any{}}, nil)
	var evs struct{ Items []json.RawMessage }
	s.must(200, "GET", "/v1/projects/"+a.ID+"/events", a.Key, nil, &evs)
	if len(evs.Items) != 0 {
		t.Errorf("a revoked key published %d events", len(evs.Items))
	}

	var list struct {
		Items []struct {
			ID        string     `json:"id"`
			RevokedAt *time.Time `json:"revoked_at"`
		}
	}
	s.must(200, "GET", "/v1/projects/"+a.ID+"/api-keys", a.Key, nil, &list)
	if len(list.Items) != 2 || list.Items[1].ID != k2.ID || list.Items[1].RevokedAt == nil || list.Items[0].RevokedAt != nil {
		t.Errorf("key listing after revocation: %+v", list.Items)
	}
	s.must(200, "GET", "/v1/projects/"+b.ID, b.Key, nil, nil)
	s.must(401, "GET", "/v1/projects", "hk_not_a_key", nil, nil)
}
