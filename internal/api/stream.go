package api

import (
	"bytes"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/hookd/hookd/internal/service"
	"github.com/hookd/hookd/internal/sse"
)

// streamEvents streams the project's events as server-sent events while
// they are published; `hookd listen` reads it. Each event is "id: <event
// id>", "event: <type>", "data: <the webhook body>". A client that
// reconnects sends Last-Event-ID (or ?after=) and gets what it missed.
func (s *server) streamEvents(w http.ResponseWriter, r *http.Request, c call) error {
	q := r.URL.Query()
	in := service.FollowEvents{LastID: r.Header.Get("Last-Event-ID")}
	if in.LastID == "" {
		in.LastID = q.Get("after")
	}
	if v := q.Get("types"); v != "" {
		in.Types = strings.Split(v, ",")
	}
	if err := s.svc.Events.CheckFollow(in); err != nil {
		return err
	}

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
	sink := &streamSink{w: sse.NewWriter(w), rc: rc}
	// A client that lost the stream reconnects after a second.
	if err := sink.w.Retry(1000); err != nil || sink.flush() != nil {
		return nil
	}
	if err := s.svc.Events.Follow(r.Context(), c.projectID, in, sink); err != nil && !sink.failed {
		// The status line is sent: the error can only end the stream
		// (the client reconnects), and is worth a log line.
		s.log.WarnContext(r.Context(), "api: event stream ended", "project", c.projectID, "err", err)
	}
	return nil
}

type streamSink struct {
	w      *sse.Writer
	rc     *http.ResponseController
	failed bool // a write failed: the client left
}

func (k *streamSink) Event(e service.Event) error {
	// Bodies are compact JSON that hookd built; a CR could only be JSON
	// whitespace, which the framing cannot carry.
	body := e.Body
	if bytes.IndexByte(body, '\r') >= 0 {
		body = bytes.ReplaceAll(body, []byte("\r"), nil)
	}
	if err := k.w.Event(e.ID, e.Type, body); err != nil {
		k.failed = true
		return err
	}
	return k.flush()
}

func (k *streamSink) Heartbeat() error {
	if err := k.w.Comment("keep-alive"); err != nil {
		k.failed = true
		return err
	}
	return k.flush()
}

func (k *streamSink) flush() error {
	if err := k.rc.Flush(); err != nil {
		k.failed = true
		return err
	}
	return nil
}
