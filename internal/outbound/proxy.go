package outbound

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"syscall"
	"time"
)

// egressProxy sends webhooks through an operator's HTTP forward proxy, so that
// they leave from the proxy's fixed addresses. hookd still resolves every
// endpoint and checks each address with the guard; the proxy is then asked for
// the checked IP, never the name, so a second lookup by the proxy cannot be
// rebound elsewhere:
//
//   - https:// endpoints: the guarded dialer opens a CONNECT tunnel to ip:port
//     and the transport runs TLS through it, verified against the endpoint's
//     name (SNI and certificate as without a proxy);
//   - http:// endpoints: the request goes to the proxy in absolute form,
//     "POST http://ip:port/path". Go writes that URI from the Host header, and
//     a proxy replaces Host with the URI's authority anyway (RFC 9112 3.2.2),
//     so such a receiver sees its IP as Host; name-based virtual hosts need
//     https:// endpoints, whose Host and SNI keep the name.
//
// The proxy's own address is the operator's, dialed without the guard.
type egressProxy struct {
	addr   string // host:port
	auth   string // Proxy-Authorization value, "" without credentials
	dialer net.Dialer
	// plain carries http:// requests in absolute form.
	plain *http.Transport
}

// proxyError is a failure of the proxy itself, told apart from the endpoint's.
// Its text never names the proxy's address (hookd's infrastructure).
type proxyError struct {
	reason string
	err    error
}

func (e *proxyError) Error() string { return "egress proxy " + e.reason }
func (e *proxyError) Unwrap() error { return e.err }

func checkProxyURL(u *url.URL) error {
	if u.Scheme != "http" || u.Hostname() == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return errors.New("outbound: the egress proxy must be http://[user:pass@]host:port (an HTTP forward proxy)")
	}
	return nil
}

func newEgressProxy(u *url.URL, base *http.Transport) *egressProxy {
	p := &egressProxy{addr: u.Host}
	if u.Port() == "" {
		p.addr = net.JoinHostPort(u.Hostname(), "80")
	}
	if u.User != nil {
		pass, _ := u.User.Password()
		p.auth = "Basic " + base64.StdEncoding.EncodeToString([]byte(u.User.Username()+":"+pass))
	}
	plain := base.Clone()
	fixed := &url.URL{Scheme: "http", Host: p.addr, User: u.User}
	plain.Proxy = func(*http.Request) (*url.URL, error) { return fixed, nil }
	plain.DialContext = p.dial
	p.plain = plain
	return p
}

// dial connects to the proxy itself.
func (p *egressProxy) dial(ctx context.Context, network, _ string) (net.Conn, error) {
	conn, err := p.dialer.DialContext(ctx, network, p.addr)
	if err != nil {
		return nil, &proxyError{reason: "unreachable (" + proxyReason(err) + ")", err: err}
	}
	return conn, nil
}

func proxyReason(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	}
	return "connection failed"
}

// tunnel opens a CONNECT tunnel to target, a checked ip:port.
func (p *egressProxy) tunnel(ctx context.Context, network, target string) (net.Conn, error) {
	conn, err := p.dial(ctx, network, "")
	if err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	req := &http.Request{
		Method: http.MethodConnect,
		URL:    &url.URL{Opaque: target},
		Host:   target,
		Header: http.Header{},
	}
	if p.auth != "" {
		req.Header.Set("Proxy-Authorization", p.auth)
	}
	br := bufio.NewReader(conn)
	err = req.Write(conn)
	var resp *http.Response
	if err == nil {
		resp, err = http.ReadResponse(br, req)
	}
	if !stop() || ctx.Err() != nil {
		conn.Close()
		return nil, ctx.Err()
	}
	if err != nil {
		conn.Close()
		return nil, &proxyError{reason: "failed during CONNECT (" + proxyReason(err) + ")", err: err}
	}
	// resp.Body is not closed: a 2xx to CONNECT has no body, and Close would
	// read the tunnel until it ends.
	if resp.StatusCode != http.StatusOK {
		conn.Close()
		return nil, &proxyError{reason: "refused the tunnel: " + resp.Status}
	}
	if br.Buffered() > 0 {
		return &bufferedConn{Conn: conn, r: br}, nil
	}
	return conn, nil
}

type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (b *bufferedConn) Read(p []byte) (int, error) { return b.r.Read(p) }

// pinHTTP resolves and checks an http:// request's host and points its URL
// (and so its Host) at the checked address.
func (c *Client) pinHTTP(ctx context.Context, req *http.Request) error {
	host := req.URL.Hostname()
	port := req.URL.Port()
	if port == "" {
		port = "80"
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return fmt.Errorf("invalid port %q", port)
	}
	addrs, err := c.dialer.resolve(ctx, "tcp", host)
	if err != nil {
		return err
	}
	for _, a := range addrs {
		if err := c.dialer.guard.check(a); err != nil {
			return err
		}
	}
	if c.dialer.afterCheck != nil {
		if err := c.dialer.afterCheck(netip.AddrPortFrom(addrs[0].Unmap(), uint16(n))); err != nil {
			return err
		}
	}
	req.Host = ""
	req.URL.Host = netip.AddrPortFrom(addrs[0].Unmap(), uint16(n)).String()
	return nil
}
