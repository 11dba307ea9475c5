package api

import (
	"net/http"
	"time"

	"github.com/hookd/hookd/internal/service"
)

type projectJSON struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

func renderProject(p service.Project) projectJSON {
	return projectJSON{ID: p.ID, Name: p.Name, CreatedAt: p.CreatedAt.UTC()}
}

type createProjectRequest struct {
	Name            string `json:"name"`
	SignatureScheme string `json:"signature_scheme"`
}

func (s *server) createProject(w http.ResponseWriter, r *http.Request, _ call) error {
	var in createProjectRequest
	if err := decodeBody(w, r, s.maxBody, bodyRequired, &in); err != nil {
		return err
	}
	p, err := s.svc.Projects.Create(r.Context(), service.CreateProject(in))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, renderProject(p))
	return nil
}

func (s *server) listProjects(w http.ResponseWriter, r *http.Request, c call) error {
	// A project key lists only its own project; the admin key all.
	l, err := s.svc.Projects.List(r.Context(), c.key.ProjectID, pageQuery(r.URL.Query()))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, renderList(l, renderProject))
	return nil
}

func (s *server) getProject(w http.ResponseWriter, r *http.Request, c call) error {
	p, err := s.svc.Projects.Get(r.Context(), c.projectID)
	if err != nil {
		return err
	}
	b, err := s.svc.Portal.Brand(r.Context(), c.projectID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, projectWithPortalJSON{renderProject(p), portalBrandJSON(b)})
	return nil
}

// API keys: a project's (/v1/projects/{pid}/api-keys, c.projectID set)
// and admin keys (/v1/api-keys, c.projectID "").

type apiKeyJSON struct {
	ID         string     `json:"id"`
	Key        string     `json:"key,omitempty"` // only in the answer that creates it
	Name       string     `json:"name"`
	Scope      string     `json:"scope"`
	Prefix     string     `json:"prefix"`
	CreatedBy  *string    `json:"created_by"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
}

func renderAPIKey(k service.APIKey) apiKeyJSON {
	out := apiKeyJSON{
		ID: k.ID, Name: k.Name, Scope: k.Scope, Prefix: k.Prefix, CreatedAt: k.CreatedAt.UTC(),
		LastUsedAt: optionalTime(k.LastUsedAt), RevokedAt: optionalTime(k.RevokedAt),
	}
	if k.CreatedBy != "" {
		out.CreatedBy = &k.CreatedBy
	}
	return out
}

type createAPIKeyRequest struct {
	Name  string `json:"name"`
	Scope string `json:"scope"`
}

func (s *server) createAPIKey(w http.ResponseWriter, r *http.Request, c call) error {
	var in createAPIKeyRequest
	if err := decodeBody(w, r, s.maxBody, bodyOptional, &in); err != nil {
		return err
	}
	k, err := s.svc.Keys.Create(r.Context(), c.key, c.projectID, service.CreateKey(in))
	if err != nil {
		return err
	}
	writeNewKey(w, k)
	return nil
}

func writeNewKey(w http.ResponseWriter, k service.NewAPIKey) {
	out := renderAPIKey(k.APIKey)
	out.Key = k.Key
	writeJSON(w, http.StatusCreated, out)
}

func (s *server) listAPIKeys(w http.ResponseWriter, r *http.Request, c call) error {
	l, err := s.svc.Keys.List(r.Context(), c.projectID, pageQuery(r.URL.Query()))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, renderList(l, renderAPIKey))
	return nil
}

func (s *server) revokeAPIKey(w http.ResponseWriter, r *http.Request, c call) error {
	if _, err := s.svc.Keys.Revoke(r.Context(), c.key, c.projectID, r.PathValue("kid")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// rotateAPIKey replaces an admin key with a new one (returned once): the
// keys the old one created pass to it, and the old one is revoked.
func (s *server) rotateAPIKey(w http.ResponseWriter, r *http.Request, c call) error {
	var in struct{}
	if err := decodeBody(w, r, s.maxBody, bodyOptional, &in); err != nil {
		return err
	}
	k, err := s.svc.Keys.Rotate(r.Context(), c.key, c.projectID, r.PathValue("kid"))
	if err != nil {
		return err
	}
	writeNewKey(w, k)
	return nil
}
