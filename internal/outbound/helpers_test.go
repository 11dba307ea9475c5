package outbound

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testCA is a certificate authority made up for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t testing.TB) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "hookd test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{
		cert: cert,
		key:  key,
		pem:  pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
	}
}

func (ca *testCA) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

// writePEM stores the CA certificate in a file, as an operator would.
func (ca *testCA) writePEM(t testing.TB) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(path, ca.pem, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

type leafSpec struct {
	dnsNames  []string
	ips       []netip.Addr
	notBefore time.Time // zero: an hour ago
	notAfter  time.Time // zero: a day from now
}

func (ca *testCA) issue(t testing.TB, spec leafSpec) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if spec.notBefore.IsZero() {
		spec.notBefore = time.Now().Add(-time.Hour)
	}
	if spec.notAfter.IsZero() {
		spec.notAfter = time.Now().Add(24 * time.Hour)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "hookd test server"},
		NotBefore:    spec.notBefore,
		NotAfter:     spec.notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     spec.dnsNames,
	}
	for _, ip := range spec.ips {
		tmpl.IPAddresses = append(tmpl.IPAddresses, ip.AsSlice())
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// receiver is a real HTTP server on loopback that counts the requests its
// handler saw, so tests can assert that nothing was sent.
type receiver struct {
	*httptest.Server
	hits atomic.Int32
}

// newReceiver serves plain HTTP; setup, if any, adjusts the server before
// it starts.
func newReceiver(t testing.TB, h http.HandlerFunc, setup ...func(*http.Server)) *receiver {
	t.Helper()
	r := &receiver{}
	r.Server = httptest.NewUnstartedServer(r.count(h))
	quiet(r.Server)
	for _, f := range setup {
		f(r.Config)
	}
	r.Start()
	t.Cleanup(r.Close)
	return r
}

// newTLSReceiver serves TLS with cfg; cfg without certificates gets
// httptest's own self-signed one. setup, if any, adjusts the server before
// it starts.
func newTLSReceiver(t testing.TB, cfg *tls.Config, h http.HandlerFunc, setup ...func(*httptest.Server)) *receiver {
	t.Helper()
	r := &receiver{}
	r.Server = httptest.NewUnstartedServer(r.count(h))
	quiet(r.Server)
	r.TLS = cfg
	for _, f := range setup {
		f(r.Server)
	}
	r.StartTLS()
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) count(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		r.hits.Add(1)
		if h != nil {
			h(w, req)
		}
	}
}

// quiet stops the expected handshake failures from cluttering test output.
func quiet(s *httptest.Server) {
	s.Config.ErrorLog = log.New(io.Discard, "", 0)
}

// port returns the port a receiver listens on.
func (r *receiver) port(t testing.TB) string {
	t.Helper()
	_, p, err := net.SplitHostPort(r.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// newTestClient builds a Client whose sockets can only ever reach
// loopback: whatever the guard lets through, a non-loopback address fails
// the test and is not connected to.
func newTestClient(t testing.TB, cfg Config) *Client {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.dialer.afterCheck = func(ap netip.AddrPort) error {
		if !ap.Addr().Unmap().IsLoopback() {
			t.Errorf("client tried to connect to non-loopback %v", ap)
			return errors.New("test safety net: non-loopback connection blocked")
		}
		return nil
	}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// mapResolver answers from a fixed table; other names do not exist.
type mapResolver map[string][]netip.Addr

func (m mapResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := m[host]; ok {
		return a, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

// seqResolver gives its answers in turn, repeating the last one, and
// counts lookups: the shape of a rebinding attack.
type seqResolver struct {
	mu      sync.Mutex
	answers [][]netip.Addr
	calls   int
}

func (s *seqResolver) LookupNetIP(context.Context, string, string) ([]netip.Addr, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := min(s.calls, len(s.answers)-1)
	s.calls++
	return s.answers[i], nil
}

func (s *seqResolver) lookups() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

func addrs(ss ...string) []netip.Addr {
	out := make([]netip.Addr, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParseAddr(s)
	}
	return out
}

var loopbackOnly = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
