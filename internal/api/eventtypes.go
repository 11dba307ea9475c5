package api

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/hookd/hookd/internal/service"
)

type eventTypeJSON struct {
	Type       string          `json:"type"`
	Count      int64           `json:"count"`
	LastSeenAt time.Time       `json:"last_seen_at"`
	Example    json.RawMessage `json:"example"` // null once retention removed the event
}

func renderEventType(t service.EventType) eventTypeJSON {
	ex := t.Example
	if ex == nil {
		ex = json.RawMessage("null")
	}
	return eventTypeJSON{Type: t.Type, Count: t.Count, LastSeenAt: t.LastSeenAt.UTC(), Example: ex}
}

// listEventTypes lists the types of event the project has published.
func (s *server) listEventTypes(w http.ResponseWriter, r *http.Request, c call) error {
	l, err := s.svc.Events.Types(r.Context(), c.projectID, pageQuery(r.URL.Query()))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, renderList(l, renderEventType))
	return nil
}
