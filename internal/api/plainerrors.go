package api

import (
	"bytes"
	"net"
	"net/http"
	"regexp"
	"strconv"

	"github.com/hookd/hookd/internal/service"
)

// Codes of the errors net/http answers before any handler runs.
const (
	codeHeadersTooLarge service.Code = "request_headers_too_large"
	codeNotImplemented  service.Code = "not_implemented"
)

// JSONErrors wraps the listener an http.Server serves the API on, so that
// the errors net/http writes itself, before any handler sees the request,
// have the API's JSON error shape too. Those are requests it cannot parse:
// a malformed request line or header, an invalid %-escape in the path, a
// malformed Host header, headers over MaxHeaderBytes (431), an unsupported
// Transfer-Encoding (501). net/http writes each as one canned plain-text
// answer straight to the connection and closes it; this finds exactly
// that answer among what is written and replaces it.
//
// What it cannot reach: a connection closed without an answer (timeouts,
// a client gone, a TLS handshake that failed) has nothing to rewrite, and
// an unsupported Expect header gets an empty 417 written as a normal
// response.
func JSONErrors(ln net.Listener) net.Listener { return jsonErrorsListener{ln} }

type jsonErrorsListener struct{ net.Listener }

func (l jsonErrorsListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &jsonErrorsConn{Conn: c}, nil
}

type jsonErrorsConn struct {
	net.Conn
}

// NetConn returns the connection it wraps (as tls.Conn does).
func (c *jsonErrorsConn) NetConn() net.Conn { return c.Conn }

// CloseWrite keeps what net/http does with a *net.TCPConn when it closes
// a connection after an error answer: it half-closes first, so that the
// client reads the answer instead of a reset.
func (c *jsonErrorsConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// cannedError is net/http's answer to a request it could not read: a
// status line, these two headers and nothing else, and the status again as
// the body. Real answers always carry a Date header, so none matches.
var cannedError = regexp.MustCompile(`\AHTTP/1\.1 ([1-5][0-9][0-9]) ([^\r\n]*)\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n([^\r\n]*)\z`)

func (c *jsonErrorsConn) Write(b []byte) (int, error) {
	if !bytes.HasPrefix(b, []byte("HTTP/1.1 ")) {
		return c.Conn.Write(b)
	}
	m := cannedError.FindSubmatch(b)
	if m == nil {
		return c.Conn.Write(b)
	}
	if _, err := c.Conn.Write(jsonCanned(m[1], m[3])); err != nil {
		return 0, err
	}
	return len(b), nil
}

// jsonCanned is the JSON answer for a canned error with status code and
// body ("400 Bad Request: malformed Host header").
func jsonCanned(code, body []byte) []byte {
	status, _ := strconv.Atoi(string(code))
	e := &service.Error{Code: service.CodeInvalidArgument, Message: "malformed HTTP request"}
	switch status {
	case http.StatusRequestHeaderFieldsTooLarge:
		e = &service.Error{Code: codeHeadersTooLarge, Message: "request headers too large"}
	case http.StatusNotImplemented:
		e = &service.Error{Code: codeNotImplemented, Message: "unsupported transfer encoding"}
	case http.StatusBadRequest:
		// net/http's detail names what was wrong, never echoing input:
		// "400 Bad Request: malformed Host header".
		if _, detail, ok := bytes.Cut(body, []byte(": ")); ok {
			e.Message += ": " + string(detail)
		}
	default:
		e = &service.Error{Code: service.CodeInvalidArgument, Message: http.StatusText(status)}
	}
	var out bytes.Buffer
	writeJSON(&bufferResponse{buf: &out, header: http.Header{}}, status, errorBody{Error: errorJSON{Code: string(e.Code), Message: e.Error()}})
	head := "HTTP/1.1 " + string(code) + " " + http.StatusText(status) + "\r\n" +
		"Content-Type: application/json\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n" +
		"Connection: close\r\nContent-Length: " + strconv.Itoa(out.Len()) + "\r\n\r\n"
	return append([]byte(head), out.Bytes()...)
}

// bufferResponse is a ResponseWriter into a buffer, for writeJSON.
type bufferResponse struct {
	buf    *bytes.Buffer
	header http.Header
}

func (r *bufferResponse) Header() http.Header         { return r.header }
func (r *bufferResponse) Write(b []byte) (int, error) { return r.buf.Write(b) }
func (r *bufferResponse) WriteHeader(int)             {}
