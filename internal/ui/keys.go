package ui

import (
	"net/http"

	"github.com/hookd/hookd/internal/service"
)

// The API keys page of a project: the keys (revoked ones included), a
// form that makes one, shown once through the flash, and revocation with
// a confirmation. Who may do what is the service's: the page needs a key
// of scope project (signedIn: read for GET, project for POST; the list
// itself needs project too).

type keysData struct {
	Keys       []service.APIKey
	NextCursor string
	Scopes     []keyScope
	Form       form
	// NewKey is the key just created, shown this once (the flash's
	// Secret), with its name and scope.
	NewKey      string
	NewKeyName  string
	NewKeyScope string
}

// keyScope is a scope the form offers, with what it allows.
type keyScope struct {
	Value, Label string
}

// keyScopes are the scopes a project's key can have, narrowest last.
var keyScopes = []keyScope{
	{"project", "project: manage the project (endpoints, secrets, keys)"},
	{"publish", "publish: publish events only"},
	{"read", "read: the Event Log and statistics only"},
}

// keysFlash is what New key leaves for the list (the key itself is the
// flash's Secret).
type keysFlash struct {
	Name  string `json:"name"`
	Scope string `json:"scope"`
}

func (u *UI) keys(w http.ResponseWriter, r *http.Request, c *request) error {
	d := keysData{}
	var fd keysFlash
	if c.flash.readData(&fd) && c.flash.Secret != "" {
		d.NewKey, d.NewKeyName, d.NewKeyScope = c.flash.Secret, fd.Name, fd.Scope
	}
	return u.showKeys(w, r, c, http.StatusOK, d)
}

func (u *UI) showKeys(w http.ResponseWriter, r *http.Request, c *request, status int, d keysData) error {
	if err := service.Require(c.key(), service.ScopeProject); err != nil {
		return err
	}
	list, err := u.svc.Keys.List(r.Context(), c.project.ID, service.Page{Cursor: r.URL.Query().Get("cursor"), Limit: service.MaxPageLimit})
	if err != nil {
		return err
	}
	d.Keys, d.NextCursor, d.Scopes = list.Items, list.NextCursor, keyScopes
	if d.Form.Values == nil {
		d.Form = form{Values: map[string]string{"scope": "project"}, Errors: map[string]string{}}
	}
	u.render(w, r, c, status, "keys", view{Title: "API keys", Nav: "keys", Data: d})
	return nil
}

// createAPIKey makes a key and shows it once, on the list the redirect
// leads to: the key travels in the sealed flash, never in a URL.
func (u *UI) createAPIKey(w http.ResponseWriter, r *http.Request, c *request) error {
	f := newForm(r, "name", "scope")
	k, err := u.svc.Keys.Create(r.Context(), c.key(), c.project.ID, service.CreateKey{Name: f.Values["name"], Scope: f.Values["scope"]})
	if err != nil {
		if !f.fail(err) {
			return err
		}
		return u.showKeys(w, r, c, http.StatusBadRequest, keysData{Form: f})
	}
	return u.done(w, r, c, u.projectPath(c, "/api-keys"), flash{Secret: k.Key}.with(keysFlash{Name: k.Name, Scope: k.Scope}))
}

// confirmRevoke asks before revoking: it cannot be undone, and it
// revokes the keys this one created.
func (u *UI) confirmRevoke(w http.ResponseWriter, r *http.Request, c *request) error {
	if err := service.Require(c.key(), service.ScopeProject); err != nil {
		return err
	}
	k, err := u.findKey(r, c)
	if err != nil {
		return err
	}
	u.render(w, r, c, http.StatusOK, "revokekey", view{Title: "Revoke API key", Nav: "keys", Data: k})
	return nil
}

func (u *UI) revokeAPIKey(w http.ResponseWriter, r *http.Request, c *request) error {
	revoked, err := u.svc.Keys.Revoke(r.Context(), c.key(), c.project.ID, r.PathValue("kid"))
	if err != nil {
		return err
	}
	msg := "API key revoked."
	if n := len(revoked) - 1; n > 0 {
		msg = "API key revoked, with " + pluralize(n, "key", "keys") + " it created."
	}
	return u.done(w, r, c, u.projectPath(c, "/api-keys"), flash{Message: msg})
}

// findKey finds the {kid} of the path among the project's keys.
func (u *UI) findKey(r *http.Request, c *request) (service.APIKey, error) {
	kid := r.PathValue("kid")
	p := service.Page{Limit: service.MaxPageLimit}
	for {
		l, err := u.svc.Keys.List(r.Context(), c.project.ID, p)
		if err != nil {
			return service.APIKey{}, err
		}
		for _, k := range l.Items {
			if k.ID == kid {
				return k, nil
			}
		}
		if l.NextCursor == "" {
			return service.APIKey{}, service.NotFound("api key")
		}
		p.Cursor = l.NextCursor
	}
}
