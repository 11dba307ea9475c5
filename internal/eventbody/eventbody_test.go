package eventbody_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/eventbody"
)

// encoderBody is the body as encoding/json writes it without HTML
// escaping; Build must agree byte for byte, since the body is what
// receivers verify signatures over.
func encoderBody(t testing.TB, id, typ string, ts time.Time, data json.RawMessage) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	err := enc.Encode(struct {
		ID        string          `json:"id"`
		Type      string          `json:"type"`
		Timestamp string          `json:"timestamp"`
		Data      json.RawMessage `json:"data"`
	}{id, typ, ts.UTC().Truncate(time.Second).Format(time.RFC3339), data})
	if err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

var ts = time.Date(2026, 11, 27, 4, 0, 0, 123456789, time.FixedZone("CET", 3600))

func TestBuild(t *testing.T) {
	got, err := eventbody.Build("evt_1", "order.created", ts, []byte(` { "html" : "<script>&</script>" , "n":[1, 2] } `))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"evt_1","type":"order.created","timestamp":"2026-11-27T03:00:00Z","data":{"html":"<script>&</script>","n":[1,2]}}`
	if string(got) != want {
		t.Fatalf("body\n got %s\nwant %s", got, want)
	}
	if _, err := eventbody.Build("evt_1", "t", ts, []byte(`{"a":`)); err == nil {
		t.Fatal("invalid data built a body")
	}
}

func FuzzBuild(f *testing.F) {
	for _, seed := range []string{
		`{}`, `{"a":1}`, ` { "a" : [ 1 , 2 , { "b" : null } ] } `, `{"x":"<\u2028>&"}`, `{"s":"\ud800"}`,
		`{"n":1e400}`, "{\"t\":\"\t\"}", `{"u":"é€😀"}`, `{"a":"</script>"}`,
	} {
		f.Add("order.created", []byte(seed))
	}
	f.Add("quote\"and\\<tag>\x01é", []byte(`{}`))
	f.Fuzz(func(t *testing.T, typ string, raw []byte) {
		// Data as a JSON decoder leaves it; the type as given, valid or
		// not (the builder must still write JSON).
		var in struct {
			Data json.RawMessage `json:"data"`
		}
		if json.Unmarshal(append(append([]byte(`{"data":`), raw...), '}'), &in) != nil {
			return
		}
		got, err := eventbody.Build("evt_01", typ, ts, in.Data)
		if err != nil {
			t.Fatalf("valid data refused: %v", err)
		}
		if want := encoderBody(t, "evt_01", typ, ts, in.Data); !bytes.Equal(got, want) {
			t.Fatalf("body\n got %s\nwant %s", got, want)
		}
		if !json.Valid(got) {
			t.Fatalf("body is not JSON: %s", got)
		}
	})
}

// BenchmarkBuild is the body of every published event.
func BenchmarkBuild(b *testing.B) {
	data := []byte(`{"order":{"id":"ord_1234567890","amount":4200,"currency":"EUR","items":[{"sku":"A-1","qty":2},{"sku":"B-2","qty":1}]},"customer":"cus_42"}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := eventbody.Build("evt_01KBF6ZJ5W3M8Q2V7X9Y4T6R1N", "order.created", ts, data); err != nil {
			b.Fatal(err)
		}
	}
}
