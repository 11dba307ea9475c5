package ui

import (
	"net/http"

	"github.com/hookd/hookd/internal/store"
)

// projects lists the projects the key can see: every one for the admin.
// A project key has one, so it goes straight there.
func (u *UI) projects(w http.ResponseWriter, r *http.Request, c *request) error {
	if !c.admin() {
		redirect(w, r, Prefix+"projects/"+c.session.ProjectID+"/webhooks")
		return nil
	}
	list, err := u.store.ListProjects(r.Context(), "", store.Page{Limit: 500})
	if err != nil {
		return err
	}
	u.render(w, r, c, http.StatusOK, "projects", view{Title: "Projects", Nav: "projects", Data: list})
	return nil
}

// webhooks is the project's Integrations › Webhooks page.
func (u *UI) webhooks(w http.ResponseWriter, r *http.Request, c *request) error {
	eps, err := u.store.ListEndpoints(r.Context(), c.project.ID, store.Page{Limit: 500})
	if err != nil {
		return err
	}
	u.render(w, r, c, http.StatusOK, "webhooks", view{Title: "Webhooks · " + c.project.Name, Nav: "webhooks", Data: eps})
	return nil
}
