package ui

import (
	"net/http"

	"github.com/hookd/hookd/internal/service"
)

// probeFlash marks the flash of Probe now, whose problem is shown at the
// top of the health page rather than beside Recover.
type probeFlash struct {
	Probe bool `json:"probe"`
}

// probeEndpoint is Probe now on an endpoint whose breaker is open: its
// next probe goes now, on every node (POST …/probe). A breaker closed
// meanwhile is said, nothing done.
func (u *UI) probeEndpoint(w http.ResponseWriter, r *http.Request, c *request) error {
	eid := r.PathValue("eid")
	back := u.projectPath(c, "/webhooks/"+eid)
	_, err := u.svc.Endpoints.Probe(r.Context(), c.project.ID, eid)
	if e, _ := service.AsError(err); err != nil && e.Code == service.CodeConflict {
		return u.done(w, r, c, back, flash{Message: capitalize(e.Message) + ".", Problem: true}.with(probeFlash{Probe: true}))
	}
	if err != nil {
		return err
	}
	return u.done(w, r, c, back, flash{Message: "Probe sent now: one held delivery goes to the endpoint. " +
		"If it succeeds the breaker closes and the others follow; if not, the breaker stays open and probes again later."}.with(probeFlash{Probe: true}))
}
