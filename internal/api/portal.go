package api

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hookd/hookd/internal/service"
)

// PortalPath is where a portal link leads, followed by its token: the web
// UI serves it (internal/ui).
const PortalPath = "/ui/portal/"

type portalSessionRequest struct {
	TTLSeconds int    `json:"ttl_seconds"`
	Access     string `json:"access"`
	ReturnURL  string `json:"return_url"`
}

type portalSessionJSON struct {
	ID        string    `json:"id"`
	URL       string    `json:"url"`
	Access    string    `json:"access"`
	ExpiresAt time.Time `json:"expires_at"`
}

// createPortalSession makes a one-time link into the project's customer
// portal (service.Portal).
func (s *server) createPortalSession(w http.ResponseWriter, r *http.Request, c call) error {
	var in portalSessionRequest
	if err := decodeBody(w, r, s.maxBody, bodyRequired, &in); err != nil {
		return err
	}
	ps, err := s.svc.Portal.Create(r.Context(), c.key, c.projectID, service.CreatePortalSession(in))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, portalSessionJSON{
		ID: ps.ID, URL: s.portalBase(r) + PortalPath + url.PathEscape(ps.Token), Access: in.Access, ExpiresAt: ps.ExpiresAt.UTC(),
	})
	return nil
}

// portalBase is the scheme and host of the links: Config.PortalURL, or
// else this request's (the host it was sent to; https when it came over
// TLS or through a proxy that says so).
func (s *server) portalBase(r *http.Request) string {
	if s.portalURL != "" {
		return s.portalURL
	}
	scheme := "http"
	if r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

type portalBrandJSON struct {
	Name        string `json:"name"`
	LogoURL     string `json:"logo_url"`
	AccentColor string `json:"accent_color"`
}

type projectWithPortalJSON struct {
	projectJSON
	Portal portalBrandJSON `json:"portal"`
}

type patchProjectRequest struct {
	Portal *portalBrandJSON `json:"portal"`
}

// patchProject changes a project: today its portal brand only.
func (s *server) patchProject(w http.ResponseWriter, r *http.Request, c call) error {
	var in patchProjectRequest
	if err := decodeBody(w, r, s.maxBody, bodyRequired, &in); err != nil {
		return err
	}
	p, err := s.svc.Projects.Get(r.Context(), c.projectID)
	if err != nil {
		return err
	}
	if in.Portal == nil {
		return service.Invalid("portal", "is required (the only field a project's PATCH changes)")
	}
	b, err := s.svc.Portal.SetBrand(r.Context(), c.projectID, service.PortalBrand(*in.Portal))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, projectWithPortalJSON{renderProject(p), portalBrandJSON(b)})
	return nil
}
