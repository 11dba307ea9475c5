package ui

import (
	"net/http"

	"github.com/hookd/hookd/internal/service"
)

type projectsData struct {
	Projects   []service.Project
	NextCursor string
	Cursor     string
	Form       form // the new-project form
	// NewKey is a project key just created, shown this once.
	NewKey     string
	NewKeyFor  service.Project
	NewProject service.Project
}

// projects lists the projects the key can see: every one for the admin.
// A project key has one, so it goes straight there.
func (u *UI) projects(w http.ResponseWriter, r *http.Request, c *request) error {
	if !c.admin() {
		redirect(w, r, Prefix+"projects/"+c.session.ProjectID+"/webhooks")
		return nil
	}
	return u.showProjects(w, r, c, http.StatusOK, projectsData{Cursor: r.URL.Query().Get("cursor")}, "")
}

func (u *UI) showProjects(w http.ResponseWriter, r *http.Request, c *request, status int, d projectsData, flash string) error {
	list, err := u.svc.Projects.List(r.Context(), "", service.Page{Cursor: d.Cursor, Limit: service.MaxPageLimit})
	if err != nil {
		return err
	}
	d.Projects, d.NextCursor = list.Items, list.NextCursor
	u.render(w, r, c, status, "projects", view{Title: "Projects", Nav: "projects", Flash: flash, Data: d})
	return nil
}

// createProject makes a project (admin) and shows the list with it.
func (u *UI) createProject(w http.ResponseWriter, r *http.Request, c *request) error {
	f := newForm(r, "name")
	p, err := u.svc.Projects.Create(r.Context(), service.CreateProject{Name: f.Values["name"]})
	if err != nil {
		if !f.fail(err) {
			return err
		}
		return u.showProjects(w, r, c, http.StatusBadRequest, projectsData{Form: f}, "")
	}
	return u.showProjects(w, r, c, http.StatusOK, projectsData{NewProject: p}, "Project "+p.Name+" created.")
}

// createKey makes a project API key (admin) and shows it this once. The
// answer is a page, never a redirect: the key must not be in a URL.
func (u *UI) createKey(w http.ResponseWriter, r *http.Request, c *request) error {
	k, err := u.svc.Keys.Create(r.Context(), c.project.ID)
	if err != nil {
		return err
	}
	p := c.project
	c.project = service.Project{} // the list is not one project's page
	return u.showProjects(w, r, c, http.StatusOK, projectsData{NewKey: k.Key, NewKeyFor: p}, "")
}
