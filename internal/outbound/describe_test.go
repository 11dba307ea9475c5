package outbound

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// errResolver fails every lookup with err.
type errResolver struct{ err error }

func (r errResolver) LookupNetIP(context.Context, string, string) ([]netip.Addr, error) {
	return nil, r.err
}

// TestDNSErrorsNameOnlyTheHost: a failed lookup is told in words about the
// endpoint's host; the address of hookd's resolver, which net.DNSError
// puts in its text, never reaches the tenant's event log.
func TestDNSErrorsNameOnlyTheHost(t *testing.T) {
	t.Parallel()
	const resolver = "10.1.2.3:53"
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"not found", &net.DNSError{Err: "no such host", Name: "x.test", Server: resolver, IsNotFound: true},
			"DNS lookup failed for host x.test: no such host"},
		{"timeout", &net.DNSError{Err: "read udp 10.9.9.9:5353->" + resolver + ": i/o timeout", Name: "x.test", Server: resolver, IsTimeout: true},
			"DNS lookup failed for host x.test: resolver timed out"},
		{"servfail", &net.DNSError{Err: "server misbehaving", Name: "x.test", Server: resolver, IsTemporary: true},
			"DNS lookup failed for host x.test: resolver answered with an error (server misbehaving)"},
		{"unreachable", &net.DNSError{Err: "dial udp " + resolver + ": connect: network is unreachable", Name: "x.test", Server: resolver},
			"DNS lookup failed for host x.test: resolver unreachable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newTestClient(t, Config{AllowCIDRs: loopbackOnly, Resolver: errResolver{tc.err}})
			res := c.Send(context.Background(), Request{URL: "http://x.test/hook"})
			if res.Err != tc.want {
				t.Errorf("Err = %q, want %q", res.Err, tc.want)
			}
			if strings.Contains(res.Err, "10.1.2.3") || strings.Contains(res.Err, "10.9.9.9") {
				t.Errorf("Err %q names hookd's own addresses", res.Err)
			}
		})
	}
}

// TestDNSResolverUnreachable: with a real resolver whose server does not
// answer (a closed port on this machine), the reason says so and does not
// name the resolver's address.
func TestDNSResolverUnreachable(t *testing.T) {
	t.Parallel()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := pc.LocalAddr().String()
	pc.Close() // nothing listens there now: the lookup gets "connection refused"
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, dead)
	}}
	c := newTestClient(t, Config{AllowCIDRs: loopbackOnly, Resolver: r, Timeout: 10 * time.Second})
	res := c.Send(context.Background(), Request{URL: "http://unreachable.test/hook"})
	if res.Err != "DNS lookup failed for host unreachable.test: resolver unreachable" {
		t.Errorf("Err = %q", res.Err)
	}
	if strings.Contains(res.Err, "127.0.0.1") {
		t.Errorf("Err %q names the resolver's address", res.Err)
	}
}

// TestLocalAddressHidden: a connection error keeps the endpoint's address
// but not hookd's own end of the connection.
func TestLocalAddressHidden(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"read tcp 10.0.0.7:51234->203.0.113.9:443: read: connection reset by peer", "read tcp 203.0.113.9:443: read: connection reset by peer"},
		{"write tcp [fd00::7]:51234->[2001:db8::1]:443: broken pipe", "write tcp [2001:db8::1]:443: broken pipe"},
		{"dial tcp 203.0.113.9:443: connect: connection refused", "dial tcp 203.0.113.9:443: connect: connection refused"},
	} {
		if got := localAddr.ReplaceAllString(tc.in, ""); got != tc.want {
			t.Errorf("%q → %q, want %q", tc.in, got, tc.want)
		}
	}
	// And end to end: a server that resets the connection.
	hangup := listenAndHangUp(t)
	c := newTestClient(t, Config{AllowCIDRs: loopbackOnly})
	res := c.Send(context.Background(), Request{URL: "http://" + hangup})
	if strings.Count(res.Err, "127.0.0.1") > 1 || strings.Contains(res.Err, "->") {
		t.Errorf("Err %q names hookd's end of the connection", res.Err)
	}
}
