package outbound

import (
	"net/netip"
	"strings"
	"testing"
)

func TestClassify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		addr string
		want string // "" = allowed
	}{
		// IPv4 blocked, first and last of each range where it matters.
		{"0.0.0.0", "unspecified address"},
		{"0.255.255.255", "unspecified address"},
		{"10.0.0.0", "private address"},
		{"10.255.255.255", "private address"},
		{"100.64.0.1", "carrier-grade NAT (shared) address"},
		{"100.127.255.255", "carrier-grade NAT (shared) address"},
		{"127.0.0.1", "loopback address"},
		{"127.255.255.254", "loopback address"},
		{"169.254.0.1", "link-local address"},
		{"169.254.169.254", "link-local address"},
		{"172.16.0.0", "private address"},
		{"172.31.255.255", "private address"},
		{"192.0.0.8", "reserved (IETF protocol assignment) address"},
		{"192.0.2.1", "documentation address"},
		{"192.88.99.1", "reserved (6to4 relay) address"},
		{"192.168.0.1", "private address"},
		{"192.168.255.255", "private address"},
		{"198.18.0.1", "benchmarking address"},
		{"198.19.255.255", "benchmarking address"},
		{"198.51.100.7", "documentation address"},
		{"203.0.113.9", "documentation address"},
		{"224.0.0.1", "multicast address"},
		{"239.255.255.255", "multicast address"},
		{"240.0.0.1", "reserved address"},
		{"255.255.255.254", "reserved address"},
		{"255.255.255.255", "broadcast address"},

		// IPv4 public, including the neighbours of blocked ranges.
		{"1.1.1.1", ""},
		{"8.8.8.8", ""},
		{"9.255.255.255", ""},
		{"11.0.0.0", ""},
		{"93.184.216.34", ""},
		{"100.63.255.255", ""},
		{"100.128.0.0", ""},
		{"126.255.255.255", ""},
		{"128.0.0.0", ""},
		{"169.253.255.255", ""},
		{"172.15.255.255", ""},
		{"172.32.0.0", ""},
		{"192.0.1.1", ""},
		{"192.0.3.1", ""},
		{"192.167.255.255", ""},
		{"192.169.0.0", ""},
		{"198.17.255.255", ""},
		{"198.20.0.0", ""},
		{"223.255.255.255", ""},

		// IPv6 blocked.
		{"::", "unspecified address"},
		{"::1", "loopback address"},
		{"::2", "reserved address"},
		{"::127.0.0.1", "reserved address"}, // IPv4-compatible, deprecated
		{"64:ff9b:1::1", "private (local-use NAT64) address"},
		{"64:ff9b:2::1", "reserved address"}, // ::/8 outside the well-known NAT64 prefix
		{"100::1", "reserved (discard-only) address"},
		{"2001::1", "reserved (IETF protocol assignment) address"}, // Teredo
		{"2001:2::1", "reserved (IETF protocol assignment) address"},
		{"2001:1ff:ffff::1", "reserved (IETF protocol assignment) address"},
		{"2001:db8::1", "documentation address"},
		{"2001:db8:ffff:ffff::1", "documentation address"},
		{"3fff::1", "documentation address"},
		{"5f00::1", "reserved (segment routing) address"},
		{"fc00::1", "private (unique local) address"},
		{"fd12:3456:789a::1", "private (unique local) address"},
		{"fe80::1", "link-local address"},
		{"fe80::1%eth0", "link-local address"},
		{"febf:ffff::1", "link-local address"},
		{"fec0::1", "private (site-local) address"},
		{"ff02::1", "multicast address"},
		{"ff0e::1", "multicast address"},

		// IPv6 embedding IPv4: judged by the embedded address.
		{"::ffff:127.0.0.1", "loopback address (IPv4-mapped 127.0.0.1)"},
		{"::ffff:10.0.0.1", "private address (IPv4-mapped 10.0.0.1)"},
		{"::ffff:169.254.169.254", "link-local address (IPv4-mapped 169.254.169.254)"},
		{"::ffff:0.0.0.0", "unspecified address (IPv4-mapped 0.0.0.0)"},
		{"::ffff:8.8.8.8", ""},
		{"64:ff9b::127.0.0.1", "loopback address (NAT64 127.0.0.1)"},
		{"64:ff9b::a9fe:a9fe", "link-local address (NAT64 169.254.169.254)"},
		{"64:ff9b::8.8.8.8", ""},
		{"2002:7f00:1::1", "loopback address (6to4 127.0.0.1)"},
		{"2002:a00:1::", "private address (6to4 10.0.0.1)"},
		{"2002:808:808::1", ""},

		// IPv6 public.
		{"2001:200::1", ""},
		{"2001:4860:4860::8888", ""},
		{"2606:4700:4700::1111", ""},
		{"2a00:1450:4001::1", ""},
		{"fbff:ffff::1", ""},
	}
	for _, tt := range tests {
		a := netip.MustParseAddr(tt.addr)
		if got := classify(a); got != tt.want {
			t.Errorf("classify(%s) = %q, want %q", tt.addr, got, tt.want)
		}
	}
	if got := classify(netip.Addr{}); got == "" {
		t.Error("the zero Addr was allowed")
	}
}

func TestGuardCheck(t *testing.T) {
	t.Parallel()
	allow := &guard{allow: []netip.Prefix{
		netip.MustParsePrefix("10.1.0.0/16"),
		netip.MustParsePrefix("fd00::/8"),
	}}
	tests := []struct {
		g       *guard
		addr    string
		refused bool
	}{
		{&guard{}, "8.8.8.8", false},
		{&guard{}, "10.1.2.3", true},
		{&guard{off: true}, "10.1.2.3", false},
		{&guard{off: true}, "::ffff:127.0.0.1", false},
		{allow, "10.1.2.3", false},
		{allow, "::ffff:10.1.2.3", false}, // the same host, spelled mapped
		{allow, "10.2.0.1", true},
		{allow, "fd00::5", false},
		{allow, "fc00::5", true},
		{allow, "127.0.0.1", true},
	}
	for _, tt := range tests {
		err := tt.g.check(netip.MustParseAddr(tt.addr))
		if (err != nil) != tt.refused {
			t.Errorf("guard %+v check(%s) = %v, want refused %v", tt.g, tt.addr, err, tt.refused)
		}
		if err != nil && !strings.Contains(err.Error(), "refused to connect to "+tt.addr+": ") {
			t.Errorf("refusal %q does not name %s", err, tt.addr)
		}
	}
}

func TestControlRefusesUnparsableAddress(t *testing.T) {
	t.Parallel()
	d := newGuardedDialer(&guard{}, nil)
	if err := d.control("tcp", "localhost:80", nil); err == nil {
		t.Error("control accepted a host name")
	}
	if err := d.control("tcp", "127.0.0.1:80", nil); err == nil {
		t.Error("control accepted loopback")
	}
	if err := d.control("tcp", "8.8.8.8:443", nil); err != nil {
		t.Errorf("control refused a public address: %v", err)
	}
}
