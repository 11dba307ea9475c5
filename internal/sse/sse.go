// Package sse writes and reads server-sent events (the text/event-stream
// format of the HTML standard): the long-lived HTTP stream `hookd listen`
// receives a project's events over. The reader takes untrusted input and
// bounds what it buffers.
package sse

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ContentType is the media type of a stream.
const ContentType = "text/event-stream"

// Event is one dispatched event.
type Event struct {
	ID   string // the "id" field; the reader carries the last one forward, as browsers do
	Type string // the "event" field; "" means "message"
	Data []byte // the "data" lines joined with "\n"
}

// Writer writes events to w. It does not flush; the caller does after
// each event it wants on the wire now.
type Writer struct {
	w io.Writer
}

// NewWriter returns a Writer on w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// ErrField is returned for an id or type that would break the framing.
var ErrField = errors.New("sse: id and event type must not contain CR, LF or NUL")

// Event writes one event. Data may hold any bytes but CR: it is split into
// one "data:" line per LF, which the reader joins again. (A CR ends a line
// in this format, so data with CRs would not come back the same.) Data is
// written as it is, not copied: an event costs no memory of its own.
func (w *Writer) Event(id, typ string, data []byte) error {
	if strings.ContainsAny(id, "\r\n\x00") || strings.ContainsAny(typ, "\r\n") {
		return ErrField
	}
	if bytes.IndexByte(data, '\r') >= 0 {
		return errors.New("sse: data must not contain CR")
	}
	var head []byte
	if id != "" {
		head = append(head, "id: "+id+"\n"...)
	}
	if typ != "" {
		head = append(head, "event: "+typ+"\n"...)
	}
	for line := range bytes.SplitSeq(data, []byte("\n")) {
		head = append(head, "data: "...)
		if _, err := w.w.Write(head); err != nil {
			return err
		}
		if _, err := w.w.Write(line); err != nil {
			return err
		}
		head = append(head[:0], '\n')
	}
	_, err := w.w.Write(append(head, '\n'))
	return err
}

// Comment writes a comment line, which readers ignore: a heartbeat that
// keeps proxies and load balancers from closing an idle stream.
func (w *Writer) Comment(text string) error {
	if strings.ContainsAny(text, "\r\n") {
		return errors.New("sse: a comment is one line")
	}
	_, err := io.WriteString(w.w, ": "+text+"\n")
	return err
}

// Retry writes a "retry:" field: how long a client waits before it
// reconnects.
func (w *Writer) Retry(ms int) error {
	_, err := fmt.Fprintf(w.w, "retry: %d\n\n", ms)
	return err
}

// Reader reads events from a stream.
type Reader struct {
	r        *bufio.Reader
	maxEvent int
	lastID   string
	// Retry is the reconnection time in milliseconds the server last
	// asked for, or -1 while it asked for none.
	Retry int
	// OnLine, when set, is called for every line read, comments included:
	// a client's proof that the stream is alive.
	OnLine func()
}

// DefaultMaxEvent bounds the bytes of one event's data; a longer event is
// an error rather than unbounded memory.
const DefaultMaxEvent = 4 << 20

// NewReader returns a Reader on r that refuses events whose data exceeds
// maxEvent bytes (DefaultMaxEvent when maxEvent <= 0).
func NewReader(r io.Reader, maxEvent int) *Reader {
	if maxEvent <= 0 {
		maxEvent = DefaultMaxEvent
	}
	return &Reader{r: bufio.NewReaderSize(r, 64<<10), maxEvent: maxEvent, Retry: -1}
}

// ErrTooLarge is returned for an event or a line over the reader's limit.
var ErrTooLarge = errors.New("sse: event too large")

// Next returns the next event. It returns io.EOF when the stream ends
// between events; an event cut off by the end of the stream is dropped,
// as the standard says.
func (r *Reader) Next() (Event, error) {
	var (
		data    []byte
		hasData bool
		typ     string
	)
	for {
		line, err := r.line()
		if err != nil {
			return Event{}, err
		}
		if r.OnLine != nil {
			r.OnLine()
		}
		if len(line) == 0 {
			if !hasData {
				// A block without data dispatches nothing (its id and
				// retry fields still count).
				typ = ""
				continue
			}
			return Event{ID: r.lastID, Type: typ, Data: data}, nil
		}
		if line[0] == ':' {
			continue
		}
		name, value, found := bytes.Cut(line, []byte(":"))
		if found && len(value) > 0 && value[0] == ' ' {
			value = value[1:]
		}
		switch string(name) {
		case "event":
			typ = string(value)
		case "data":
			if len(data)+len(value)+1 > r.maxEvent {
				return Event{}, ErrTooLarge
			}
			if hasData {
				data = append(data, '\n')
			}
			data = append(data, value...)
			hasData = true
		case "id":
			if bytes.IndexByte(value, 0) < 0 {
				r.lastID = string(value)
			}
		case "retry":
			if n, err := strconv.Atoi(string(value)); err == nil && n >= 0 && isDigits(value) {
				r.Retry = n
			}
		}
	}
}

func isDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(b) > 0
}

// line reads one line ended by CRLF, LF or CR, without its ending.
func (r *Reader) line() ([]byte, error) {
	var out []byte
	for {
		b, err := r.r.ReadByte()
		if err != nil {
			if err == io.EOF && len(out) > 0 {
				// A last line without its ending is incomplete; so is
				// the event it belongs to.
				return nil, io.EOF
			}
			return nil, err
		}
		switch b {
		case '\n':
			return out, nil
		case '\r':
			if next, err := r.r.Peek(1); err == nil && next[0] == '\n' {
				_, _ = r.r.ReadByte()
			}
			return out, nil
		}
		if len(out) >= r.maxEvent {
			return nil, ErrTooLarge
		}
		out = append(out, b)
	}
}
