package sse

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	events := []Event{
		{ID: "evt_1", Type: "invoice.paid", Data: []byte(`{"a":1}`)},
		{ID: "evt_2", Type: "x", Data: []byte("two\nlines\n")},
		{ID: "evt_3", Data: []byte("")},
	}
	if err := w.Retry(1500); err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		if err := w.Comment("keepalive"); err != nil {
			t.Fatal(err)
		}
		if err := w.Event(e.ID, e.Type, e.Data); err != nil {
			t.Fatal(err)
		}
	}
	r := NewReader(&buf, 0)
	for _, want := range events {
		got, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != want.ID || got.Type != want.Type || !bytes.Equal(got.Data, want.Data) {
			t.Fatalf("got %+v, want %+v", got, want)
		}
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("after the last event: %v, want io.EOF", err)
	}
	if r.Retry != 1500 {
		t.Fatalf("Retry = %d, want 1500", r.Retry)
	}
}

func TestReaderFollowsTheStandard(t *testing.T) {
	in := "data:no space\r\n\r\n" + // CRLF endings, no space after the colon
		": a comment\rid: 7\rdata: cr endings\r\r" +
		"event: typed\ndata\ndata:  two spaces\n\n" + // a bare field name is an empty value
		"id\nevent: ignored\n\n" + // no data: nothing dispatched, but the id is reset
		"data: last one\n\n" +
		"data: cut off by the end"
	r := NewReader(strings.NewReader(in), 0)
	want := []Event{
		{Data: []byte("no space")},
		{ID: "7", Data: []byte("cr endings")},
		{ID: "7", Type: "typed", Data: []byte("\n two spaces")},
		{Data: []byte("last one")},
	}
	for i, w := range want {
		got, err := r.Next()
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if got.ID != w.ID || got.Type != w.Type || !bytes.Equal(got.Data, w.Data) {
			t.Fatalf("event %d: got %+v (%q), want %+v (%q)", i, got, got.Data, w, w.Data)
		}
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("an event cut off by the end: %v, want io.EOF", err)
	}
}

func TestReaderBoundsAnEvent(t *testing.T) {
	in := "data: " + strings.Repeat("a", 100) + "\ndata: " + strings.Repeat("b", 100) + "\n\n"
	if _, err := NewReader(strings.NewReader(in), 150).Next(); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("200 bytes of data with a limit of 150: %v, want ErrTooLarge", err)
	}
	long := strings.Repeat(":", 1000) + "\n"
	if _, err := NewReader(strings.NewReader(long), 150).Next(); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("a 1000-byte comment line with a limit of 150: %v, want ErrTooLarge", err)
	}
}

func TestWriterRefusesWhatWouldBreakTheFraming(t *testing.T) {
	w := NewWriter(io.Discard)
	for _, tc := range []struct{ id, typ, data string }{
		{"a\nb", "", "x"}, {"", "a\rb", "x"}, {"a\x00", "", "x"}, {"", "", "a\rb"},
	} {
		if err := w.Event(tc.id, tc.typ, []byte(tc.data)); err == nil {
			t.Errorf("Event(%q, %q, %q) = nil, want an error", tc.id, tc.typ, tc.data)
		}
	}
}

// FuzzReader feeds the parser arbitrary streams: it must not panic, must
// respect its bound, and whatever the Writer writes it must read back.
func FuzzReader(f *testing.F) {
	f.Add([]byte("id: 1\nevent: a\ndata: b\n\n"), "evt_1", "t", []byte("x\ny"))
	f.Add([]byte("data:x\r\n\r\n: c\rretry: 10\r\r"), "", "", []byte(""))
	f.Add([]byte("data\n\ndata: \xff\x00\n\n"), "i", "e", []byte("\x00"))
	f.Fuzz(func(t *testing.T, stream []byte, id, typ string, data []byte) {
		const limit = 1 << 10
		r := NewReader(bytes.NewReader(stream), limit)
		for range 1000 {
			e, err := r.Next()
			if err != nil {
				break
			}
			if len(e.Data) > limit {
				t.Fatalf("event of %d bytes past a limit of %d", len(e.Data), limit)
			}
		}
		var buf bytes.Buffer
		if err := NewWriter(&buf).Event(id, typ, data); err != nil {
			return // refused: id, type or data would break the framing
		}
		got, err := NewReader(&buf, 0).Next()
		if err != nil {
			t.Fatalf("reading back what Writer wrote: %v", err)
		}
		// A leading space of a value is eaten once, as the standard says,
		// and the Writer adds one; an empty type reads as "".
		if got.ID != id || got.Type != typ || !bytes.Equal(got.Data, data) {
			t.Fatalf("wrote (%q, %q, %q), read %+v", id, typ, data, got)
		}
	})
}
