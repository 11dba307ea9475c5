package ui

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/clock"
	"github.com/hookd/hookd/internal/service"
	"github.com/hookd/hookd/internal/store"
)

// heldWriter is a ResponseWriter that discards the page and, at every
// write it gets, collects garbage and notes the heap still in use: what
// the render holds while it writes.
type heldWriter struct {
	h       http.Header
	status  int
	n       int
	writes  int
	maxHeap uint64
}

func (w *heldWriter) Header() http.Header { return w.h }
func (w *heldWriter) WriteHeader(s int)   { w.status = s }
func (w *heldWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.n += len(p)
	w.writes++
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	w.maxHeap = max(w.maxHeap, m.HeapAlloc)
	return len(p), nil
}

// deliveryPageHeldBound is what rendering a delivery page may hold,
// whatever its event's body: the page's buffer (streamBuffer, 32 KiB), a
// piece of the indented body (prettyChunk, 8 KiB), its HTML-escaped form
// (up to 6 times that) and the template's state.
const deliveryPageHeldBound = 256 << 10

// TestDeliveryPageStreamsInBoundedMemory (issue 19): the delivery page is
// written as it renders, so what it holds does not grow with its event's
// body: a 256 KB body indented to 350 KB whose every string HTML escapes
// (a 1.2 MB page), one nested 20,000 deep (shown as it is, 0.9 MB), and a
// 1 MB one (shown cut at 512 KiB, 2.4 MB) each hold under
// deliveryPageHeldBound while the page is written (50–150 KiB measured).
// Rendered into a buffer first, as the other pages are, the same pages
// held 1.3–1.8 MB.
func TestDeliveryPageStreamsInBoundedMemory(t *testing.T) {
	p, err := parsePages()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	u := &UI{pages: p, clock: clock.NewFake(now), log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	escaped := `"<&<&<&"`
	wide := "[" + strings.Repeat(escaped+",", 256<<10/(len(escaped)+1)-1) + escaped + "]"
	deep := strings.Repeat("[", 20000) + strings.Repeat("<", 200<<10) + strings.Repeat("]", 20000)
	huge := `{"pad":"` + strings.Repeat("<&", 512<<10) + `"}`
	for _, tc := range []struct {
		name, body string
		pretty     bool
	}{{"wide", wide, true}, {"deep", deep, false}, {"huge", huge, false}} {
		t.Run(tc.name, func(t *testing.T) {
			d := store.Delivery{ID: "dlv_1", EndpointID: "ep_1", EventType: "order.created", Status: store.StatusSucceeded, CreatedAt: now}
			data := deliveryData{Delivery: d, Event: service.Event{ID: "evt_1", Body: []byte(tc.body), CreatedAt: now}}
			if got := len(prettyJSON(data.Event.Body)); tc.pretty != (got > len(tc.body)) {
				t.Fatalf("the %d-byte body is shown as %d bytes: indented %v, want %v", len(tc.body), got, got > len(tc.body), tc.pretty)
			}
			w := &heldWriter{h: http.Header{}}
			r := httptest.NewRequest("GET", "/ui/projects/prj_1/deliveries/dlv_1", nil)
			runtime.GC()
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			base, allocs := m.HeapAlloc, m.TotalAlloc
			u.renderStreamed(w, r, nil, http.StatusOK, "delivery", view{Data: data})
			runtime.ReadMemStats(&m)
			held := int64(w.maxHeap) - int64(base)
			t.Logf("%d-byte body: a %d-byte page in %d writes, held at most %d KiB more than before it, allocated %d KiB",
				len(tc.body), w.n, w.writes, held>>10, (m.TotalAlloc-allocs)>>10)
			if w.status != http.StatusOK || w.n < len(tc.body)/2 {
				t.Fatalf("status %d, %d bytes written", w.status, w.n)
			}
			if held > deliveryPageHeldBound {
				t.Errorf("rendering the delivery page of a %d-byte body held %d KiB, over the bound of %d KiB (the page is %d KiB)",
					len(tc.body), held>>10, deliveryPageHeldBound>>10, w.n>>10)
			}
		})
	}
}
