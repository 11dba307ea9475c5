package outbound

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http/httptrace"
	"net/netip"
	"strconv"
	"syscall"
	"time"
)

// Resolver turns a host name into addresses. *net.Resolver satisfies it;
// tests inject their own to play DNS tricks without a DNS server.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// blockedRange is one refused prefix and the words used in the refusal.
type blockedRange struct {
	prefix netip.Prefix
	what   string
}

// The order matters only for which words a refusal uses: the more specific
// prefix comes before the broader one that contains it.
var blockedRanges = []blockedRange{
	// IPv4
	{netip.MustParsePrefix("0.0.0.0/8"), "unspecified address"},
	{netip.MustParsePrefix("10.0.0.0/8"), "private address"},
	{netip.MustParsePrefix("100.64.0.0/10"), "carrier-grade NAT (shared) address"},
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback address"},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local address"},
	{netip.MustParsePrefix("172.16.0.0/12"), "private address"},
	{netip.MustParsePrefix("192.0.0.0/24"), "reserved (IETF protocol assignment) address"},
	{netip.MustParsePrefix("192.0.2.0/24"), "documentation address"},
	{netip.MustParsePrefix("192.88.99.0/24"), "reserved (6to4 relay) address"},
	{netip.MustParsePrefix("192.168.0.0/16"), "private address"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking address"},
	{netip.MustParsePrefix("198.51.100.0/24"), "documentation address"},
	{netip.MustParsePrefix("203.0.113.0/24"), "documentation address"},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast address"},
	{netip.MustParsePrefix("255.255.255.255/32"), "broadcast address"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved address"},

	// IPv6. IPv4-mapped, NAT64 and 6to4 addresses never get here: they are
	// judged by the IPv4 address they carry (see embeddedIPv4).
	{netip.MustParsePrefix("::/128"), "unspecified address"},
	{netip.MustParsePrefix("::1/128"), "loopback address"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "private (local-use NAT64) address"},
	{netip.MustParsePrefix("::/8"), "reserved address"},
	{netip.MustParsePrefix("100::/64"), "reserved (discard-only) address"},
	{netip.MustParsePrefix("2001:db8::/32"), "documentation address"},
	{netip.MustParsePrefix("2001::/23"), "reserved (IETF protocol assignment) address"},
	{netip.MustParsePrefix("3fff::/20"), "documentation address"},
	{netip.MustParsePrefix("5f00::/16"), "reserved (segment routing) address"},
	{netip.MustParsePrefix("fc00::/7"), "private (unique local) address"},
	{netip.MustParsePrefix("fe80::/10"), "link-local address"},
	{netip.MustParsePrefix("fec0::/10"), "private (site-local) address"},
	{netip.MustParsePrefix("ff00::/8"), "multicast address"},
}

var (
	nat64Prefix = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour   = netip.MustParsePrefix("2002::/16")
)

// embeddedIPv4 returns the IPv4 address that an IPv6 address stands for
// when traffic to it ends up at that IPv4 address, and how it is embedded.
func embeddedIPv4(a netip.Addr) (v4 netip.Addr, how string, ok bool) {
	if !a.Is6() {
		return netip.Addr{}, "", false
	}
	b := a.As16()
	switch {
	case a.Is4In6():
		return a.Unmap(), "IPv4-mapped", true
	case nat64Prefix.Contains(a):
		return netip.AddrFrom4([4]byte(b[12:16])), "NAT64", true
	case sixToFour.Contains(a):
		return netip.AddrFrom4([4]byte(b[2:6])), "6to4", true
	}
	return netip.Addr{}, "", false
}

// classify says why a is not a public unicast address, or "" when it is.
func classify(a netip.Addr) string {
	a = a.WithZone("")
	if !a.IsValid() {
		return "invalid address"
	}
	if v4, how, ok := embeddedIPv4(a); ok {
		if why := classify(v4); why != "" {
			return fmt.Sprintf("%s (%s %s)", why, how, v4)
		}
		return ""
	}
	for _, r := range blockedRanges {
		if r.prefix.Contains(a) {
			return r.what
		}
	}
	return ""
}

// refusedError is returned by the dialer when the guard refuses an address.
type refusedError struct {
	addr netip.Addr
	why  string
}

func (e *refusedError) Error() string {
	return fmt.Sprintf("refused to connect to %s: %s not allowed (use --allow-private-networks)", e.addr, e.why)
}

// guard decides which addresses may be dialed.
type guard struct {
	off   bool
	allow []netip.Prefix
}

// check returns a *refusedError when a may not be dialed.
func (g *guard) check(a netip.Addr) error {
	if g.off {
		return nil
	}
	plain := a.WithZone("")
	for _, p := range g.allow {
		// An operator writing 10.0.0.0/8 means the hosts, however the
		// address is spelled, so a mapped form matches too.
		if p.Contains(plain) || p.Contains(plain.Unmap()) {
			return nil
		}
	}
	if why := classify(plain); why != "" {
		return &refusedError{addr: a, why: why}
	}
	return nil
}

// dnsError is a failed or empty lookup, kept apart from other dial errors
// so that the reason can name the host.
type dnsError struct {
	host string
	err  error
}

// Error names the endpoint's host and what failed, in words about that
// host: net.DNSError's own text names hookd's resolver ("lookup x on
// 10.0.0.2:53: …"), which is hookd's infrastructure, not the tenant's
// business, and it ends up in the tenant's event log.
func (e *dnsError) Error() string {
	return fmt.Sprintf("DNS lookup failed for host %s: %s", e.host, dnsReason(e.err))
}

// dnsReason says why a lookup failed without naming any resolver.
func dnsReason(err error) string {
	if errors.Is(err, errNoAddresses) {
		return "no addresses"
	}
	var de *net.DNSError
	if !errors.As(err, &de) {
		if errors.Is(err, context.DeadlineExceeded) {
			return "resolver timed out"
		}
		return "resolver failed"
	}
	switch {
	case de.IsNotFound || de.Err == "no such host":
		return "no such host"
	case de.IsTimeout:
		return "resolver timed out"
	case de.Err == "server misbehaving":
		// The resolver answered, with an error (SERVFAIL, REFUSED).
		return "resolver answered with an error (server misbehaving)"
	case de.Err == "no suitable address found":
		return "no addresses"
	}
	// Whatever else is a failure to reach the resolver ("read udp
	// 10.0.0.9:5353->10.0.0.2:53: connection refused"): its text names
	// hookd's own addresses.
	return "resolver unreachable"
}

func (e *dnsError) Unwrap() error { return e.err }

var errNoAddresses = errors.New("no addresses")

// guardedDialer resolves once, checks every answer and dials the checked
// IP literal, so what was checked is what gets connected to.
type guardedDialer struct {
	guard    *guard
	resolver Resolver
	dialer   net.Dialer

	// proxy, when set, tunnels every connection through the egress proxy
	// (CONNECT to the checked address) instead of dialing it.
	proxy *egressProxy

	// afterCheck, when set, sees every address that passed the guard just
	// before the socket connects; tests use it as a safety net so that a
	// regression can never send their traffic beyond loopback.
	afterCheck func(netip.AddrPort) error
}

func newGuardedDialer(g *guard, r Resolver) *guardedDialer {
	d := &guardedDialer{guard: g, resolver: r}
	d.dialer.Control = d.control
	return d
}

// control runs after the socket is made and before it connects: a
// backstop that sees the address the kernel is about to be given.
func (d *guardedDialer) control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("refused to connect to %q: not an IP address", address)
	}
	if err := d.guard.check(ap.Addr()); err != nil {
		return err
	}
	if d.afterCheck != nil {
		return d.afterCheck(ap)
	}
	return nil
}

func (d *guardedDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	host, portStr, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("invalid port %q", portStr)
	}
	addrs, err := d.resolve(ctx, network, host)
	if err != nil {
		return nil, err
	}
	// Refuse when any answer is refused rather than dialing the others: a
	// name that points partly into private space is misconfigured or
	// hostile, and a clear refusal beats deliveries that work on some tries.
	for _, a := range addrs {
		if err := d.guard.check(a); err != nil {
			return nil, err
		}
	}
	var firstErr error
	for i, a := range addrs {
		// A mapped answer is the IPv4 host; dialing it plainly keeps the
		// socket family right and the backstop check sees the same host.
		target := netip.AddrPortFrom(a.Unmap(), uint16(port)).String()
		var conn net.Conn
		var err error
		if d.proxy != nil {
			if d.afterCheck != nil {
				if err := d.afterCheck(netip.AddrPortFrom(a.Unmap(), uint16(port))); err != nil {
					return nil, err
				}
			}
			conn, err = d.proxy.tunnel(ctx, network, target)
		} else {
			conn, err = d.dialOne(ctx, network, target, len(addrs)-i)
		}
		if err == nil {
			return conn, nil
		}
		if firstErr == nil {
			firstErr = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, firstErr
}

// minDialShare is the least time one address gets when several share the
// request's deadline.
const minDialShare = 2 * time.Second

// dialOne dials one address. When others remain it gets only its share of
// the time left, as net.Dialer does, so that one black-holed address (an
// unroutable IPv6 answer, say) cannot use up the whole timeout.
func (d *guardedDialer) dialOne(ctx context.Context, network, target string, remaining int) (net.Conn, error) {
	if deadline, ok := ctx.Deadline(); ok && remaining > 1 {
		share := time.Until(deadline) / time.Duration(remaining)
		if share >= minDialShare {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, share)
			defer cancel()
		}
	}
	return d.dialer.DialContext(ctx, network, target)
}

func (d *guardedDialer) resolve(ctx context.Context, network, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a}, nil
	}
	ipNet := "ip"
	switch network {
	case "tcp4":
		ipNet = "ip4"
	case "tcp6":
		ipNet = "ip6"
	}
	trace := httptrace.ContextClientTrace(ctx)
	if trace != nil && trace.DNSStart != nil {
		trace.DNSStart(httptrace.DNSStartInfo{Host: host})
	}
	addrs, err := d.resolver.LookupNetIP(ctx, ipNet, host)
	if err == nil && len(addrs) == 0 {
		err = errNoAddresses
	}
	if trace != nil && trace.DNSDone != nil {
		info := httptrace.DNSDoneInfo{Err: err}
		for _, a := range addrs {
			info.Addrs = append(info.Addrs, net.IPAddr{IP: a.AsSlice(), Zone: a.Zone()})
		}
		trace.DNSDone(info)
	}
	if err != nil {
		return nil, &dnsError{host: host, err: err}
	}
	return addrs, nil
}
