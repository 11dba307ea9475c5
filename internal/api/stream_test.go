package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/api"
	"github.com/hookd/hookd/internal/eventfeed"
	"github.com/hookd/hookd/internal/service"
)

// withFeed gives the env's services a feed with cfg's limits.
func withFeed(t testing.TB, cfg eventfeed.Config) func(*service.Config) {
	return func(c *service.Config) {
		cfg.Store, cfg.Clock = c.Store, c.Clock
		hub, err := eventfeed.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(hub.Close)
		c.Feed = hub
	}
}

// sseEvent is one event read off a stream.
type sseEvent struct{ id, typ, data string }

// readEvents reads events from r until it ends (io.EOF) or stop says so.
func readEvents(r *bufio.Reader, stop func([]sseEvent) bool) ([]sseEvent, error) {
	var out []sseEvent
	var cur sseEvent
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return out, err
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			if cur.data != "" {
				out = append(out, cur)
				if stop != nil && stop(out) {
					return out, nil
				}
			}
			cur = sseEvent{id: cur.id}
		case strings.HasPrefix(line, "id: "):
			cur.id = line[4:]
		case strings.HasPrefix(line, "event: "):
			cur.typ = line[7:]
		case strings.HasPrefix(line, "data: "):
			cur.data = line[6:]
		}
	}
}

// TestStreamLimits: a project gets at most MaxProjectStreams streams and
// the node MaxStreams; beyond, 429 rate_limited with Retry-After, and a
// stream that ends gives its slot back.
func TestStreamLimits(t *testing.T) {
	e := newEnv(t, withFeed(t, eventfeed.Config{MaxStreams: 3, MaxProjectStreams: 2}))
	pa, ka := e.project("a")
	pb, kb := e.project("b")
	open := func(pid, key string) (*http.Response, context.CancelFunc) {
		ctx, cancel := context.WithCancel(context.Background())
		req := e.request("GET", e.srv.URL+"/v1/projects/"+pid+"/events/stream", key, nil).WithContext(ctx)
		res, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cancel(); res.Body.Close() })
		return res, cancel
	}
	refused := func(res *http.Response, what, want string) {
		t.Helper()
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode != 429 || res.Header.Get("Retry-After") != "5" ||
			!strings.Contains(string(body), `"rate_limited"`) || !strings.Contains(string(body), want) {
			t.Fatalf("%s: %d %s (Retry-After %q), want 429 rate_limited saying %q", what, res.StatusCode, body, res.Header.Get("Retry-After"), want)
		}
	}
	a1, closeA1 := open(pa, ka)
	a2, _ := open(pa, ka)
	if a1.StatusCode != 200 || a2.StatusCode != 200 {
		t.Fatalf("two streams of a: %d %d", a1.StatusCode, a2.StatusCode)
	}
	a3, _ := open(pa, ka)
	refused(a3, "a third stream of a", "for this project (its limit is 2)")
	b1, _ := open(pb, kb)
	if b1.StatusCode != 200 {
		t.Fatalf("b's first stream: %d", b1.StatusCode)
	}
	b2, _ := open(pb, kb)
	refused(b2, "a fourth stream on the server", "on this server (its limit is 3)")

	closeA1()
	deadline := time.Now().Add(10 * time.Second) // bounds a broken run
	for {
		res, _ := open(pb, kb)
		if res.StatusCode == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a closed stream's slot never came back: %d", res.StatusCode)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestAStalledClientIsDroppedAndResumes (issue 19, finding 1): a client
// that reads nothing while a backlog of large events waits is dropped
// after StreamStall with a last message saying why; it gets the events
// before it, and resumes with Last-Event-ID from the last one it got,
// missing none.
func TestAStalledClientIsDroppedAndResumes(t *testing.T) {
	e := newEnv(t, withFeed(t, eventfeed.Config{}))
	pid, key := e.project("stalled")
	before := e.publish(pid, key, "t.before", map[string]any{})
	var want []string
	blob := strings.Repeat("x", 200<<10)
	for range 30 {
		want = append(want, e.publish(pid, key, "t.big", map[string]any{"blob": blob}).ID)
	}

	conn, err := net.Dial("tcp", e.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.(*net.TCPConn).SetReadBuffer(4096); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "GET /v1/projects/%s/events/stream HTTP/1.1\r\nHost: hookd\r\nAuthorization: Bearer %s\r\nLast-Event-ID: %s\r\n\r\n", pid, key, before.ID)
	br := bufio.NewReaderSize(conn, 4096)
	res, err := http.ReadResponse(br, nil)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("stream: %v %v", res, err)
	}
	body := bufio.NewReaderSize(res.Body, 4096)
	if _, err := body.Peek(100); err != nil {
		t.Fatal(err)
	}
	// The client reads no more. Each write waits StreamStall at most.
	deadline := time.Now().Add(30 * time.Second) // bounds a broken run
	for !strings.Contains(e.logs.String(), "reason=behind") {
		if time.Now().After(deadline) {
			t.Fatalf("the stalled client was never dropped; logs:\n%s", e.logs.String())
		}
		if e.clock.Waiters() > 0 {
			e.clock.Advance(api.DefaultStreamStall)
		}
		time.Sleep(time.Millisecond)
	}
	got, err := readEvents(body, nil)
	if err != io.EOF || len(got) == 0 {
		t.Fatalf("after the drop: %d events, %v; want some, then the end", len(got), err)
	}
	last := got[len(got)-1]
	var closed struct{ Reason, Message string }
	_ = json.Unmarshal([]byte(last.data), &closed)
	if last.typ != api.StreamClosedType || closed.Reason != "behind" || !strings.Contains(closed.Message, "Last-Event-ID") {
		t.Fatalf("last message %+v, want %s saying the client fell behind", last, api.StreamClosedType)
	}
	got = got[:len(got)-1]
	if len(got) == 0 || len(got) >= len(want) {
		t.Fatalf("the stalled client got %d of %d events before it was dropped", len(got), len(want))
	}
	var ids []string
	for _, ev := range got {
		ids = append(ids, ev.id)
	}
	if strings.Join(ids, " ") != strings.Join(want[:len(ids)], " ") {
		t.Fatalf("before the drop: %v, want the first of %v", ids, want)
	}

	// Resuming from the last event it got, it gets the rest.
	req := e.request("GET", e.srv.URL+"/v1/projects/"+pid+"/events/stream", key, nil, "Last-Event-ID", last.id)
	res2, err := e.srv.Client().Do(req)
	if err != nil || res2.StatusCode != 200 {
		t.Fatalf("resume: %v %v", res2, err)
	}
	defer res2.Body.Close()
	rest, err := readEvents(bufio.NewReader(res2.Body), func(evs []sseEvent) bool { return evs[len(evs)-1].id == want[len(want)-1] })
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range rest {
		if ev.id > last.id {
			ids = append(ids, ev.id)
		}
	}
	if strings.Join(ids, " ") != strings.Join(want, " ") {
		t.Fatalf("with the resumed stream: %d events, want all %d in order", len(ids), len(want))
	}
}
