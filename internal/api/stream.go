package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/hookd/hookd/internal/clock"
	"github.com/hookd/hookd/internal/service"
	"github.com/hookd/hookd/internal/sse"
)

// DefaultStreamStall is Config.StreamStall's default.
const DefaultStreamStall = 10 * time.Second

// streamEndGrace is how long a stream that ends has to write its last
// message (and the event it was writing) before its connection is cut: a
// client that reads nothing holds neither memory nor shutdown longer.
const streamEndGrace = 2 * time.Second

// StreamClosedType is the type of the last message of a stream that the
// server ends: its data is {"reason": …, "message": …}. Reasons are
// "behind" (the client read too slowly), "key_revoked", "shutting_down"
// and "error". It carries no id, so a client's Last-Event-ID stays the
// last event it got, and resumes from there.
const StreamClosedType = "hookd.stream.closed"

// streamEvents streams the project's events as server-sent events while
// they are published; `hookd listen` reads it. Each event is "id: <event
// id>", "event: <type>", "data: <the webhook body>". A client that
// reconnects sends Last-Event-ID (or ?after=) and gets what it missed.
//
// A stream holds one page of events read from the store and the event
// being written: a client that takes no event for StreamStall is dropped
// (a last StreamClosedType message, then the connection ends), as is
// every stream when its key is revoked or the server shuts down.
func (s *server) streamEvents(w http.ResponseWriter, r *http.Request, c call) error {
	q := r.URL.Query()
	in := service.FollowEvents{LastID: r.Header.Get("Last-Event-ID"), Key: c.key}
	if in.LastID == "" {
		in.LastID = q.Get("after")
	}
	if v := q.Get("types"); v != "" {
		in.Types = strings.Split(v, ",")
	}
	following, err := s.svc.Events.OpenFollow(c.projectID, in)
	if err != nil {
		return err
	}
	defer following.Close()

	// A client that reads nothing costs this much kernel copying, not
	// the ~4 MB Linux would grow the buffer to.
	limitSendBuffer(r.Context(), s.streamSendBuffer)
	rc := http.NewResponseController(w)
	// The server's read timeout would end a stream that lasts; the
	// heartbeat and the client's idle timeout watch it instead.
	for _, set := range []func(time.Time) error{rc.SetReadDeadline, rc.SetWriteDeadline} {
		if err := set(time.Time{}); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return err
		}
	}
	h := w.Header()
	h.Set("Content-Type", sse.ContentType)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // nginx: pass events through at once
	w.WriteHeader(http.StatusOK)
	sink := &streamSink{w: sse.NewWriter(w), rc: rc, clock: s.clock, stall: s.streamStall}
	// A client that lost the stream reconnects after a second.
	if err := sink.w.Retry(1000); err != nil || rc.Flush() != nil {
		return nil
	}
	sink.start()
	err = following.Follow(r.Context(), sink)
	var reason, msg string
	switch e, _ := service.AsError(err); {
	case err == nil || sink.failed:
		// The client left.
	case errors.Is(err, errBehind):
		reason, msg = "behind", "the client took no event for "+s.streamStall.String()+
			" while events waited, and was dropped; reconnect with Last-Event-ID to resume"
	case e.Code == service.CodeUnauthenticated:
		reason, msg = "key_revoked", "the API key of this stream was revoked"
	case e.Code == service.CodeUnavailable && errors.Is(err, service.ErrShuttingDown):
		reason, msg = "shutting_down", "the server is shutting down; reconnect with Last-Event-ID to resume"
	default:
		// The status line is sent: the error can only end the stream
		// (the client reconnects), and is worth a log line.
		s.log.WarnContext(r.Context(), "api: event stream ended", "project", c.projectID, "err", err)
		reason, msg = "error", e.Message
	}
	if reason != "" {
		s.log.InfoContext(r.Context(), "api: event stream ended by the server", "project", c.projectID, "reason", reason)
	}
	sink.end(reason, msg)
	return nil
}

// errBehind ends a stream whose client took no event for StreamStall.
var errBehind = errors.New("api: the stream's client fell behind")

// streamSink writes a stream's events from a goroutine of its own, so the
// handler can give up on a client that reads nothing: it waits for each
// write at most stall, then cuts it off with a write deadline.
type streamSink struct {
	w      *sse.Writer
	rc     *http.ResponseController
	clock  clock.Clock
	stall  time.Duration
	frames chan func() error // what the writer writes next
	result chan error        // each frame's outcome
	exited chan struct{}     // the writer returned
	busy   bool              // a frame was given and its result not read
	failed bool              // a write failed: the client left
}

func (k *streamSink) start() {
	k.frames, k.result, k.exited = make(chan func() error), make(chan error, 1), make(chan struct{})
	go func() {
		defer close(k.exited)
		for f := range k.frames {
			err := f()
			if err == nil {
				err = k.rc.Flush()
			}
			k.result <- err
		}
	}()
}

// write has the writer write f and waits for it: at most stall, and no
// longer than ctx.
func (k *streamSink) write(ctx context.Context, f func() error) error {
	if k.failed || k.busy {
		return errBehind
	}
	stall := k.clock.After(k.stall)
	k.frames <- f // the writer is idle: every write was waited for
	k.busy = true
	select {
	case err := <-k.result:
		k.busy = false
		if err != nil {
			k.failed = true
		}
		return err
	case <-stall:
		return errBehind
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

func (k *streamSink) Event(ctx context.Context, e service.Event) error {
	// Bodies are compact JSON that hookd built; a CR could only be JSON
	// whitespace, which the framing cannot carry.
	body := e.Body
	if bytes.IndexByte(body, '\r') >= 0 {
		body = bytes.ReplaceAll(body, []byte("\r"), nil)
	}
	return k.write(ctx, func() error { return k.w.Event(e.ID, e.Type, body) })
}

func (k *streamSink) Heartbeat(ctx context.Context) error {
	return k.write(ctx, func() error { return k.w.Comment("keep-alive") })
}

// end writes the last message (none when reason is "") and stops the
// writer, within streamEndGrace even if the client reads nothing.
func (k *streamSink) end(reason, msg string) {
	_ = k.rc.SetWriteDeadline(time.Now().Add(streamEndGrace))
	if k.busy {
		// The event being written, or the deadline, first.
		if err := <-k.result; err != nil {
			k.failed = true
		}
		k.busy = false
	}
	if reason != "" && !k.failed {
		data, _ := json.Marshal(map[string]string{"reason": reason, "message": msg})
		k.frames <- func() error { return k.w.Event("", StreamClosedType, data) }
		if err := <-k.result; err != nil {
			k.failed = true
		}
	}
	close(k.frames)
	<-k.exited
	if !k.failed {
		// The connection may serve another request.
		_ = k.rc.SetWriteDeadline(time.Time{})
	}
}
