package app_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/app"
	"github.com/hookd/hookd/internal/eventfeed"
	"github.com/hookd/hookd/internal/pgtest"
)

// stalledStream opens project p's event stream after lastID on a
// connection with a 4 KB receive buffer, reads until the first event has
// begun (so the server is writing to it), and then reads nothing more:
// the client of finding 1 of issue 19. The connection closes when the
// test ends.
func stalledStream(t testing.TB, base string, p project, lastID string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if err := conn.(*net.TCPConn).SetReadBuffer(4096); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "GET /v1/projects/%s/events/stream HTTP/1.1\r\nHost: hookd\r\nAuthorization: Bearer %s\r\nLast-Event-ID: %s\r\n\r\n", p.ID, p.Key, lastID)
	var got []byte
	buf := make([]byte, 256)
	for !strings.Contains(string(got), "\nid: ") {
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("stream: %v after %q", err, got)
		}
		got = append(got, buf[:n]...)
		if len(got) > 4096 {
			t.Fatalf("stream began %q", got[:200])
		}
	}
	if !strings.HasPrefix(string(got), "HTTP/1.1 200") {
		t.Fatalf("stream answered %q", got[:min(len(got), 200)])
	}
	return conn
}

// bigEvents publishes n events of about size bytes of data and returns
// the id of an event published before them.
func bigEvents(s *server, p project, n, size int) (before string) {
	s.t.Helper()
	before = s.publish(p, "t.before", map[string]any{}).ID
	data := map[string]any{"blob": strings.Repeat("x", size)}
	for range n {
		s.publish(p, "t.big", data)
	}
	return before
}

func heap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestStalledStreamsHoldBoundedMemory (issue 19, finding 1): streams
// whose clients read nothing, resuming before a backlog of 200 KB events,
// hold one page each (eventfeed.DefaultPageBytes and the event being
// written), not the backlog: the heap grows by less than that bound, on
// both backends.
func TestStalledStreamsHoldBoundedMemory(t *testing.T) {
	const streams, events, size = 100, 30, 200 << 10
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			s := start(t, func(c *app.Config) {
				if backend == "postgres" {
					c.DB = pgtest.NewDatabase(t)
				}
				c.MaxProjectStreams = streams
				c.StreamStall = time.Hour // held, not dropped, while measured
			})
			p := s.newProject("stalled")
			before := bigEvents(s, p, events, size)
			base := heap()
			for range streams {
				stalledStream(t, s.base, p, before)
			}
			grew := int64(heap()) - int64(base)
			// A page reaches DefaultPageBytes with its last event, which
			// the writer holds: two 200 KB events here. Before, each
			// stream held the whole 4 MB backlog.
			perStream := int64(eventfeed.DefaultPageBytes + size + 64<<10)
			if bound := streams * perStream; grew > bound {
				t.Fatalf("%d stalled streams grew the heap by %d MB, want under %d MB", streams, grew>>20, bound>>20)
			}
			t.Logf("%d stalled streams, %d events of %d KB behind: heap grew %d MB", streams, events, size>>10, grew>>20)
		})
	}
}

// streamReader reads a stream's events as the client of `hookd listen`
// would.
type streamReader struct {
	res *http.Response
	r   *bufio.Reader
}

func openStream(t *testing.T, base string, p project, key string) *streamReader {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/v1/projects/"+p.ID+"/events/stream", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Body.Close() })
	if res.StatusCode != 200 {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("stream answered %d %s", res.StatusCode, b)
	}
	return &streamReader{res: res, r: bufio.NewReader(res.Body)}
}

// next returns the next event's type and data (comments skipped), or
// io.EOF when the server ended the stream.
func (s *streamReader) next() (typ, data string, err error) {
	// A broken run ends here, not at the suite's timeout: after 30 s
	// without the next event the stream is closed and the read fails.
	stop := time.AfterFunc(30*time.Second, func() { s.res.Body.Close() })
	defer stop.Stop()
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			return "", "", err
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "" && data != "":
			return typ, data, nil
		case strings.HasPrefix(line, "event: "):
			typ = line[len("event: "):]
		case strings.HasPrefix(line, "data: "):
			data = line[len("data: "):]
		}
	}
}

// TestRevokingAKeyEndsItsStreams (issue 19, finding 3): revoking a key
// ends its open streams with a last message saying so, on every node
// sharing the database; a stream of another key goes on.
func TestRevokingAKeyEndsItsStreams(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			a := start(t, nil)
			b := a
			if backend == "postgres" {
				db := pgtest.NewDatabase(t)
				a = start(t, func(c *app.Config) { c.DB = db })
				b = start(t, func(c *app.Config) { c.DB = db })
			}
			p := a.newProject("revoke")
			var k struct{ ID, Key string }
			a.must(201, "POST", "/v1/projects/"+p.ID+"/api-keys", p.Key, map[string]any{}, &k)
			doomed := openStream(t, b.base, p, k.Key)
			kept := openStream(t, b.base, p, p.Key)
			first := a.publish(p, "t.first", map[string]any{})
			for _, st := range []*streamReader{doomed, kept} {
				if typ, data, err := st.next(); err != nil || typ != "t.first" || !strings.Contains(data, first.ID) {
					t.Fatalf("first event: %s %s %v", typ, data, err)
				}
			}

			a.must(204, "DELETE", "/v1/projects/"+p.ID+"/api-keys/"+k.ID, p.Key, nil, nil)
			typ, data, err := doomed.next()
			var last struct{ Reason, Message string }
			_ = json.Unmarshal([]byte(data), &last)
			if err != nil || typ != "hookd.stream.closed" || last.Reason != "key_revoked" {
				t.Fatalf("after the revocation the stream sent %q %s (%v), want hookd.stream.closed with reason key_revoked", typ, data, err)
			}
			if _, _, err := doomed.next(); err != io.EOF {
				t.Fatalf("after its last message the stream gave %v, want its end", err)
			}
			second := a.publish(p, "t.second", map[string]any{})
			if typ, data, err := kept.next(); err != nil || typ != "t.second" || !strings.Contains(data, second.ID) {
				t.Fatalf("the other key's stream: %s %s %v", typ, data, err)
			}
		})
	}
}

// TestShutdownEndsStalledStreams (issue 19, finding 8): streams whose
// clients read nothing end when shutdown starts; Run returns without
// error instead of waiting out its shutdown timeout.
func TestShutdownEndsStalledStreams(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			cfg := app.Config{
				Addr: "127.0.0.1:0", DB: filepath.Join(t.TempDir(), "hookd.db"), AdminKey: testAdminKey,
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), StreamStall: time.Hour,
			}
			if backend == "postgres" {
				cfg.DB = pgtest.NewDatabase(t)
			}
			a, err := app.New(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- a.Run(ctx) }()
			s := &server{t: t, base: "http://" + a.Addr(), app: a}
			p := s.newProject("shutdown")
			before := bigEvents(s, p, 20, 200<<10)
			for range 20 {
				stalledStream(t, s.base, p, before)
			}
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("Run with 20 stalled streams: %v", err)
				}
			case <-time.After(time.Minute): // bounds a broken run only
				t.Fatal("Run did not return a minute after shutdown began")
			}
		})
	}
}
