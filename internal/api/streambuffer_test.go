package api

import (
	"context"
	"net"
	"syscall"
	"testing"
)

// TestStreamConnectionsGetABoundedSendBuffer: the stream handler reaches
// the TCP socket through the listener's wrapper and sets its send buffer.
func TestStreamConnectionsGetABoundedSendBuffer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	wrapped := JSONErrors(ln)
	go func() {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err == nil {
			defer c.Close()
			b := make([]byte, 1)
			c.Read(b)
		}
	}()
	c, err := wrapped.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if limitSendBuffer(context.Background(), DefaultStreamSendBuffer) {
		t.Fatal("a context without a connection set a buffer")
	}
	if !limitSendBuffer(WithConn(context.Background(), c), DefaultStreamSendBuffer) {
		t.Fatal("the stream's connection was not reached")
	}
	raw, err := c.(*jsonErrorsConn).Conn.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var got int
	raw.Control(func(fd uintptr) { got, err = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDBUF) })
	if err != nil {
		t.Fatal(err)
	}
	// Linux doubles what it is given, for its own bookkeeping.
	if got < DefaultStreamSendBuffer || got > 2*DefaultStreamSendBuffer {
		t.Fatalf("SO_SNDBUF %d, want %d (or twice it)", got, DefaultStreamSendBuffer)
	}
}
