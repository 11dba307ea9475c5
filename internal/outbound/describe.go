package outbound

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"regexp"
	"strings"
	"syscall"
)

// describe turns a failed request into a one-line reason that starts with
// what went wrong in plain words and keeps the raw detail after a colon.
func (c *Client) describe(ctx context.Context, err error, prog *progress) string {
	// The URL is in the request already; repeating it adds only noise.
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err
	}
	detail := localAddr.ReplaceAllString(err.Error(), "")
	with := func(reason string) string {
		if detail == "" || detail == reason {
			return reason
		}
		return reason + ": " + detail
	}

	var refused *refusedError
	if errors.As(err, &refused) {
		return refused.Error()
	}
	if reason, ok := describeCertificate(err); ok {
		return with(reason)
	}
	// Whatever else failed, a context that ended is the cause: the error
	// text then only tells where it stopped.
	if ctx.Err() != nil {
		if context.Cause(ctx) == errSendTimeout {
			return fmt.Sprintf("timeout after %v %s", c.timeout, prog)
		}
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return fmt.Sprintf("timeout: caller's deadline passed %s", prog)
		}
		return fmt.Sprintf("cancelled %s: %v", prog, context.Cause(ctx))
	}
	var pe *proxyError
	if errors.As(err, &pe) {
		return pe.Error()
	}
	var dnsErr *dnsError
	if errors.As(err, &dnsErr) {
		return dnsErr.Error()
	}
	if reason, ok := describeHandshake(err); ok {
		return with(reason)
	}
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return with("connection refused")
	case errors.Is(err, syscall.ECONNRESET):
		return with("connection reset by peer")
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return with("host unreachable")
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return with("connection closed by server before a response")
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return with("timeout " + prog.String())
	}
	if strings.Contains(detail, "unsupported protocol scheme") {
		return with("invalid url: scheme must be http or https")
	}
	return with("request failed")
}

// localAddr matches the local end of a connection in net's errors ("read
// tcp 10.0.0.7:51234->203.0.113.9:443: …"): hookd's own address, shown to
// nobody. The remote end is the tenant's endpoint and stays.
var localAddr = regexp.MustCompile(`(\[[0-9A-Fa-f:.%\w]*\]|[0-9.]+):[0-9]+->`)

// describeCertificate names certificate verification failures.
func describeCertificate(err error) (string, bool) {
	var unknown x509.UnknownAuthorityError
	if errors.As(err, &unknown) {
		return "tls: certificate signed by unknown authority", true
	}
	var host x509.HostnameError
	if errors.As(err, &host) {
		return fmt.Sprintf("tls: certificate is not valid for host %s (hostname mismatch)", host.Host), true
	}
	var invalid x509.CertificateInvalidError
	if errors.As(err, &invalid) {
		switch invalid.Reason {
		case x509.Expired:
			return "tls: certificate expired or not yet valid", true
		case x509.NotAuthorizedToSign:
			return "tls: certificate chain invalid: issuer not allowed to sign certificates", true
		case x509.IncompatibleUsage:
			return "tls: certificate not valid for server authentication", true
		}
		return "tls: certificate invalid", true
	}
	var verify *tls.CertificateVerificationError
	if errors.As(err, &verify) {
		return "tls: certificate verification failed", true
	}
	return "", false
}

// describeHandshake names other TLS handshake failures.
func describeHandshake(err error) (string, bool) {
	var recErr tls.RecordHeaderError
	if errors.As(err, &recErr) {
		return "tls: handshake failed: server did not answer with TLS", true
	}
	// Alerts received from the peer are an unexported type, and net/http
	// turns a plain-HTTP answer into an unexported error; only the text
	// tells them apart.
	msg := err.Error()
	switch {
	case strings.Contains(msg, "server gave HTTP response to HTTPS client"):
		return "tls: handshake failed: server did not answer with TLS", true
	case strings.Contains(msg, "protocol version not supported"),
		strings.Contains(msg, "unsupported protocol version"),
		strings.Contains(msg, "server selected unsupported protocol version"):
		return "tls: handshake failed: protocol version not supported", true
	case strings.Contains(msg, "handshake failure"),
		strings.Contains(msg, "no cipher suite supported"),
		strings.Contains(msg, "tls: "):
		return "tls: handshake failed", true
	}
	return "", false
}
