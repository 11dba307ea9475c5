package api

import (
	"context"
	"net"
)

// DefaultStreamSendBuffer is Config.StreamSendBuffer's default: the kernel
// send buffer of a connection that carries an event stream. Left to itself
// Linux grows a socket's send buffer to about 4 MB, and a client that reads
// nothing makes the server copy that much into the kernel before the write
// blocks and the stall can drop it: 1,000 such clients and 200 KB events
// cost 4 GB of copying and took the publishers' CPU. At 256 KiB (Linux
// doubles what is asked) the copying of 1,000 stalled streams' first events
// still put publish p99 at 1.2–1.4× its value without them on a quiet
// machine; at 64 KiB it is within noise (BENCHMARKS.md). A client that
// reads gets up to about 128 KiB a round trip: 1.3 MB/s at 100 ms.
const DefaultStreamSendBuffer = 64 << 10

type connKey struct{}

// WithConn is an http.Server's ConnContext: it lets the stream handler
// reach its connection's socket.
func WithConn(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, c)
}

// limitSendBuffer sets the send buffer of the request's connection, when
// the server made it reachable (WithConn) and it is a TCP socket.
func limitSendBuffer(ctx context.Context, size int) bool {
	c, _ := ctx.Value(connKey{}).(net.Conn)
	for c != nil {
		if b, ok := c.(interface{ SetWriteBuffer(int) error }); ok {
			return b.SetWriteBuffer(size) == nil
		}
		u, ok := c.(interface{ NetConn() net.Conn })
		if !ok {
			return false
		}
		c = u.NetConn()
	}
	return false
}
