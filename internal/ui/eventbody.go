package ui

import (
	"net/http"
	"strconv"
)

// eventBody sends an event's body exactly as it was stored and signed,
// as a download: the delivery page indents at most prettyMaxBytes of it
// (and shows a deeply nested one as it is, cut there), so the whole body
// of a large event is reached through this link.
func (u *UI) eventBody(w http.ResponseWriter, r *http.Request, c *request) error {
	ev, err := u.svc.Events.Get(r.Context(), c.project.ID, r.PathValue("evid"))
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Disposition", `attachment; filename="`+ev.ID+`.json"`)
	h.Set("Content-Length", strconv.Itoa(len(ev.Body)))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	_, _ = w.Write(ev.Body)
	return nil
}

// bodyCut tells whether the delivery page shows only part of body: a
// body over prettyMaxBytes is shown as it is, cut there.
func bodyCut(body []byte) bool { return len(body) > prettyMaxBytes }

// bytesSize says a byte count for people: 812 B, 40.2 KB, 1.3 MB.
func bytesSize(n int) string {
	switch {
	case n < 1000:
		return strconv.Itoa(n) + " B"
	case n < 1000*1000:
		return strconv.FormatFloat(float64(n)/1000, 'f', 1, 64) + " KB"
	}
	return strconv.FormatFloat(float64(n)/1e6, 'f', 1, 64) + " MB"
}
