package api

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/clock"
)

// encoderBody is how the event body was built with encoding/json before
// newEvent wrote it by hand; the two must agree byte for byte, since the
// body is what receivers verify signatures over.
func encoderBody(t testing.TB, id, typ string, now time.Time, data json.RawMessage) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	err := enc.Encode(struct {
		ID        string          `json:"id"`
		Type      string          `json:"type"`
		Timestamp string          `json:"timestamp"`
		Data      json.RawMessage `json:"data"`
	}{id, typ, now.Truncate(time.Second).Format(time.RFC3339), data})
	if err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

func FuzzEventBody(f *testing.F) {
	for _, seed := range []string{
		`{}`, `{"a":1}`, ` { "a" : [ 1 , 2 , { "b" : null } ] } `, `{"x":"<\u2028>&"}`, `{"s":"\ud800"}`,
		`{"n":1e400}`, "{\"t\":\"\t\"}", `{"u":"é€😀"}`, `{"a":"</script>"}`,
	} {
		f.Add("order.created", []byte(seed))
	}
	s := &server{clock: clock.NewFake(time.Date(2026, 11, 27, 4, 0, 0, 123456789, time.UTC))}
	f.Fuzz(func(t *testing.T, typ string, raw []byte) {
		// What the handler hands to newEvent: data as the decoder left it.
		var in struct {
			Data json.RawMessage `json:"data"`
		}
		if json.Unmarshal(append(append([]byte(`{"data":`), raw...), '}'), &in) != nil {
			return
		}
		e, err := s.newEvent("prj", typ, in.Data, "")
		if err != nil {
			return
		}
		want := encoderBody(t, e.ID, typ, e.CreatedAt, in.Data)
		if !bytes.Equal(e.Body, want) {
			t.Fatalf("body\n got %s\nwant %s", e.Body, want)
		}
		if !json.Valid(e.Body) {
			t.Fatalf("body is not JSON: %s", e.Body)
		}
	})
}
