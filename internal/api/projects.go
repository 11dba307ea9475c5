package api

import (
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/store"
)

type projectJSON struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

func renderProject(p store.Project) projectJSON {
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
	name := strings.TrimSpace(in.Name)
	if name == "" || utf8.RuneCountInString(name) > maxNameLen {
		return invalid("name", "must be 1 to "+strconv.Itoa(maxNameLen)+" characters")
	}
	_, sealed, err := s.newSecret(in.SignatureScheme, schemeHMAC)
	if err != nil {
		return err
	}
	now := s.now()
	p := store.Project{ID: ids.New(ids.Project, now), Name: name, CreatedAt: now}
	if err := s.store.CreateProject(r.Context(), p); err != nil {
		return err
	}
	// Two writes, not one transaction: should the second fail, the
	// project exists without a secret until the first rotation, which
	// is harmless because nothing is delivered for a project that has no
	// endpoints yet.
	sec := store.Secret{ID: ids.New(ids.Secret, now), ProjectID: p.ID, Value: sealed, CreatedAt: now}
	if err := s.store.AddSecret(r.Context(), sec); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, renderProject(p))
	return nil
}

func (s *server) listProjects(w http.ResponseWriter, r *http.Request, c call) error {
	page, limit, err := pageQuery(r.URL.Query(), ids.Project)
	if err != nil {
		return err
	}
	// A project key lists only its own project; the admin key all.
	rows, err := s.store.ListProjects(r.Context(), c.key.ProjectID, page)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, paginate(rows, limit, func(p store.Project) string { return p.ID }, renderProject))
	return nil
}

func (s *server) getProject(w http.ResponseWriter, r *http.Request, c call) error {
	p, err := s.store.GetProject(r.Context(), c.projectID)
	if err != nil {
		return notFoundAs(err, "project")
	}
	writeJSON(w, http.StatusOK, renderProject(p))
	return nil
}

// API keys of a project.

type apiKeyJSON struct {
	ID        string     `json:"id"`
	Key       string     `json:"key,omitempty"` // only in the answer that creates it
	Prefix    string     `json:"prefix"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at"`
}

func renderAPIKey(k store.APIKey) apiKeyJSON {
	return apiKeyJSON{ID: k.ID, Prefix: k.Prefix, CreatedAt: k.CreatedAt.UTC(), RevokedAt: optionalTime(k.RevokedAt)}
}

func optionalTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

// ProjectKeyPrefix starts every project API key; admin keys start with
// AdminKeyPrefix. The prefix lets secret scanners recognise leaked keys.
const (
	ProjectKeyPrefix = "hk_"
	AdminKeyPrefix   = "hk_adm_"
)

func (s *server) createAPIKey(w http.ResponseWriter, r *http.Request, c call) error {
	var in struct{}
	if err := decodeBody(w, r, s.maxBody, bodyOptional, &in); err != nil {
		return err
	}
	now := s.now()
	key := NewKey(ProjectKeyPrefix)
	k := store.APIKey{
		ID:        ids.New(ids.APIKey, now),
		ProjectID: c.projectID,
		Hash:      HashKey(key),
		Prefix:    displayPrefix(key),
		CreatedAt: now,
	}
	if err := s.store.CreateAPIKey(r.Context(), k); err != nil {
		return err
	}
	out := renderAPIKey(k)
	out.Key = key
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func (s *server) listAPIKeys(w http.ResponseWriter, r *http.Request, c call) error {
	page, limit, err := pageQuery(r.URL.Query(), ids.APIKey)
	if err != nil {
		return err
	}
	rows, err := s.store.ListAPIKeys(r.Context(), c.projectID, page)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, paginate(rows, limit, func(k store.APIKey) string { return k.ID }, renderAPIKey))
	return nil
}

func (s *server) revokeAPIKey(w http.ResponseWriter, r *http.Request, c call) error {
	kid := r.PathValue("kid")
	if !ids.Valid(ids.APIKey, kid) {
		return notFound("api key")
	}
	if err := s.store.RevokeAPIKey(r.Context(), c.projectID, kid, s.now()); err != nil {
		return notFoundAs(err, "api key")
	}
	s.keys.forget(kid)
	w.WriteHeader(http.StatusNoContent)
	return nil
}
