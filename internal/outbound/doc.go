// Package outbound is the HTTP client hookd uses to POST webhooks to
// endpoints that customers registered. Because those URLs come from
// outside, the client is safe by default:
//
//   - It never connects to loopback, private, link-local (cloud metadata),
//     CGNAT, multicast or otherwise reserved addresses. The check is made on
//     the very address that is dialed: a host name is resolved once, every
//     answer is checked, and the connection goes to a checked IP literal, so
//     a DNS answer that changes between check and connect (DNS rebinding)
//     cannot slip through. A second check runs in the socket's Control hook
//     as a backstop. Proxies from the environment are ignored because a proxy
//     would dial on our behalf, out of reach of the check.
//     Config.AllowPrivateNetworks lifts the guard; Config.AllowCIDRs lets an
//     operator open specific ranges.
//   - TLS needs version 1.2 or newer, a certificate chain that verifies
//     against the system roots (plus an optional private CA) and a matching
//     host name; the handshake completes before any byte of the body leaves.
//   - Redirects are not followed: a 3xx is handed back as a status code.
//   - Only a bounded amount of any response is read.
//
// Failures come back as readable one-line reasons ("connection refused",
// "tls: certificate signed by unknown authority: ...") meant for the event
// log, not as Go errors, because every outcome of an attempt is recorded.
//
// # Address policy
//
// Refused IPv4 ranges: 0.0.0.0/8, 10.0.0.0/8, 100.64.0.0/10, 127.0.0.0/8,
// 169.254.0.0/16, 172.16.0.0/12, 192.0.0.0/24, 192.0.2.0/24, 192.88.99.0/24,
// 192.168.0.0/16, 198.18.0.0/15, 198.51.100.0/24, 203.0.113.0/24,
// 224.0.0.0/4 and 240.0.0.0/4 (which holds 255.255.255.255).
//
// Refused IPv6 ranges: ::/128, ::1/128, the rest of ::/8 (IPv4-compatible
// and other IETF-reserved forms), 64:ff9b:1::/48 (local-use NAT64),
// 100::/64, 2001::/23, 2001:db8::/32, 3fff::/20, 5f00::/16, fc00::/7,
// fe80::/10, fec0::/10 and ff00::/8.
//
// Addresses that embed an IPv4 address are judged by that address, so they
// cannot be used to smuggle a private target past the check while public
// targets stay reachable: IPv4-mapped (::ffff:a.b.c.d), the NAT64
// well-known prefix (64:ff9b::a.b.c.d, which is how IPv6-only networks with
// DNS64 reach public IPv4 hosts, so refusing it outright would break them)
// and 6to4 (2002:AABB:CCDD::/48).
package outbound
