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
	d := projectsData{Cursor: r.URL.Query().Get("cursor")}
	var fd projectsFlash
	if c.flash.readData(&fd) {
		d.NewProject.ID = fd.NewProject
		if c.flash.Secret != "" {
			d.NewKey, d.NewKeyFor = c.flash.Secret, service.Project{ID: fd.KeyFor, Name: fd.KeyForName}
		}
	}
	return u.showProjects(w, r, c, http.StatusOK, d)
}

// projectsFlash is what New project and New API key leave for the list
// (the key itself is the flash's Secret).
type projectsFlash struct {
	NewProject string `json:"new_project,omitempty"`
	KeyFor     string `json:"key_for,omitempty"`
	KeyForName string `json:"key_for_name,omitempty"`
}

func (u *UI) showProjects(w http.ResponseWriter, r *http.Request, c *request, status int, d projectsData) error {
	list, err := u.svc.Projects.List(r.Context(), "", service.Page{Cursor: d.Cursor, Limit: service.MaxPageLimit})
	if err != nil {
		return err
	}
	d.Projects, d.NextCursor = list.Items, list.NextCursor
	u.render(w, r, c, status, "projects", view{Title: "Projects", Nav: "projects", Data: d})
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
		return u.showProjects(w, r, c, http.StatusBadRequest, projectsData{Form: f})
	}
	return u.done(w, r, c, Prefix+"projects", flash{Message: "Project " + p.Name + " created."}.with(projectsFlash{NewProject: p.ID}))
}

// createKey makes a project API key (admin) and shows it this once, on
// the list the redirect leads to: the key travels in the sealed flash,
// never in a URL.
func (u *UI) createKey(w http.ResponseWriter, r *http.Request, c *request) error {
	k, err := u.svc.Keys.Create(r.Context(), c.key(), c.project.ID, service.CreateKey{})
	if err != nil {
		return err
	}
	return u.done(w, r, c, Prefix+"projects", flash{Secret: k.Key}.with(projectsFlash{KeyFor: c.project.ID, KeyForName: c.project.Name}))
}
