package api

import (
	"net/http"
	"time"

	"github.com/hookd/hookd/internal/service"
)

type auditJSON struct {
	ID         string    `json:"id"`
	At         time.Time `json:"at"`
	ProjectID  *string   `json:"project_id,omitempty"` // only in the admin's view of all projects
	ActorKeyID *string   `json:"actor_key_id"`
	// ActorPortalSessionID: the customer portal session that acted
	// (made by ActorKeyID).
	ActorPortalSessionID *string `json:"actor_portal_session_id"`
	Source               string  `json:"source"`
	Action               string  `json:"action"`
	TargetID             *string `json:"target_id"`
	Detail               string  `json:"detail"`
}

func orNull(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func renderAudit(r service.AuditRecord) auditJSON {
	return auditJSON{ID: r.ID, At: r.At.UTC(), ActorKeyID: orNull(r.ActorKeyID), ActorPortalSessionID: orNull(r.ActorPortalID), Source: r.Source,
		Action: r.Action, TargetID: orNull(r.TargetID), Detail: r.Detail}
}

// listProjectAudit is a project's audit trail, newest first.
func (s *server) listProjectAudit(w http.ResponseWriter, r *http.Request, c call) error {
	l, err := s.svc.Audit.List(r.Context(), c.projectID, pageQuery(r.URL.Query()))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, renderList(l, renderAudit))
	return nil
}

// listAudit is the whole audit trail (admin): every project's records,
// and those of none (failed sign-ins), each naming its project.
func (s *server) listAudit(w http.ResponseWriter, r *http.Request, _ call) error {
	l, err := s.svc.Audit.List(r.Context(), "", pageQuery(r.URL.Query()))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, renderList(l, func(rec service.AuditRecord) auditJSON {
		out := renderAudit(rec)
		out.ProjectID = orNull(rec.ProjectID)
		return out
	}))
	return nil
}
