package ui

import (
	"cmp"
	"net/http"
	"strings"

	"github.com/hookd/hookd/internal/service"
)

// The Activity page: the project's audit trail, newest first, paged — who
// (which key, by name) did what, to what, when and from where. It names
// keys and addresses, so it needs a key of scope project, as the API's
// GET …/audit does.

type activityData struct {
	Rows       []activityRow
	NextCursor string
	Cursor     string
}

// activityRow is an audit record as the page says it.
type activityRow struct {
	service.AuditRecord
	What string // the action in words
	// Who names the actor key: its name, "you" for the session's key.
	Who string
	// TargetURL leads to the target when it is a page of the UI.
	TargetURL string
}

// actionWords are the audit actions in words; an action not listed is
// shown as recorded.
var actionWords = map[string]string{
	service.ActionProjectCreated:    "Project created",
	service.ActionEndpointCreated:   "Endpoint added",
	service.ActionEndpointUpdated:   "Endpoint changed",
	service.ActionEndpointEnabled:   "Endpoint enabled",
	service.ActionEndpointDisabled:  "Endpoint disabled",
	service.ActionEndpointDeleted:   "Endpoint deleted",
	service.ActionEndpointProbed:    "Probe now",
	service.ActionEndpointRecovered: "Endpoint recovered",
	service.ActionSecretRevealed:    "Signing secret revealed",
	service.ActionSecretRotated:     "Signing secret rotated",
	service.ActionKeyCreated:        "API key created",
	service.ActionKeyRevoked:        "API key revoked",
	service.ActionDeliveryResent:    "Delivery resent",
	service.ActionDeliveriesResent:  "Deliveries resent",
	service.ActionSigninSucceeded:   "Signed in",
	service.ActionSigninFailed:      "Sign-in failed",
	service.ActionPortalCreated:     "Portal link made",
	service.ActionPortalOpened:      "Portal opened",
	service.ActionPortalEnded:       "Portal left",
	service.ActionPortalBranded:     "Portal brand changed",
}

func (u *UI) activity(w http.ResponseWriter, r *http.Request, c *request) error {
	if err := service.Require(c.key(), service.ScopeProject); err != nil {
		return err
	}
	d := activityData{Cursor: r.URL.Query().Get("cursor")}
	l, err := u.svc.Audit.List(r.Context(), c.project.ID, service.Page{Cursor: d.Cursor, Limit: service.DefaultPageLimit})
	if err != nil {
		return err
	}
	names := map[string]string{}
	p := service.Page{Limit: service.MaxPageLimit}
	for range 20 { // bounded: names are a help, not a need
		keys, err := u.svc.Keys.List(r.Context(), c.project.ID, p)
		if err != nil {
			return err
		}
		for _, k := range keys.Items {
			names[k.ID] = k.Name
		}
		if p.Cursor = keys.NextCursor; p.Cursor == "" {
			break
		}
	}
	for _, rec := range l.Items {
		row := activityRow{AuditRecord: rec, What: actionWords[rec.Action]}
		if row.What == "" {
			row.What = rec.Action
		}
		switch name, ok := names[rec.ActorKeyID]; {
		case rec.ActorKeyID == c.session.APIKeyID:
			row.Who = "you"
		case ok && name != "":
			row.Who = name
		case ok:
			row.Who = "a key with no name"
		case rec.ActorKeyID != "":
			row.Who = "an admin key"
		}
		if rec.ActorPortalID != "" {
			// A customer in the portal, by a link that key made.
			row.Who = "customer portal " + rec.ActorPortalID + ", link by " + cmp.Or(row.Who, "a key")
		}
		switch {
		case strings.HasPrefix(rec.TargetID, "ep_") && rec.Action != service.ActionEndpointDeleted:
			row.TargetURL = u.projectPath(c, "/webhooks/"+rec.TargetID)
		case strings.HasPrefix(rec.TargetID, "dlv_"):
			row.TargetURL = u.projectPath(c, "/deliveries/"+rec.TargetID)
		case strings.HasPrefix(rec.TargetID, "key_"):
			row.TargetURL = u.projectPath(c, "/api-keys#key-"+rec.TargetID)
		}
		d.Rows = append(d.Rows, row)
	}
	d.NextCursor = l.NextCursor
	u.render(w, r, c, http.StatusOK, "activity", view{Title: "Activity · " + c.project.Name, Nav: "activity", Data: d})
	return nil
}
