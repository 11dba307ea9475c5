package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/outbound"
	"github.com/hookd/hookd/internal/store"
)

// disabledByUser is the reason recorded when a PATCH disables an endpoint.
const disabledByUser = "disabled by user"

type endpointJSON struct {
	ID             string    `json:"id"`
	URL            string    `json:"url"`
	Description    string    `json:"description"`
	EventTypes     []string  `json:"event_types"`
	Enabled        bool      `json:"enabled"`
	DisabledReason string    `json:"disabled_reason"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
}

func renderEndpoint(e store.Endpoint) endpointJSON {
	types := e.EventTypes
	if types == nil {
		types = []string{}
	}
	return endpointJSON{
		ID:             e.ID,
		URL:            e.URL,
		Description:    e.Description,
		EventTypes:     types,
		Enabled:        e.Enabled,
		DisabledReason: e.DisabledReason,
		CreatedAt:      e.CreatedAt.UTC(),
		UpdatedAt:      e.UpdatedAt.UTC(),
	}
}

func (s *server) checkURL(u string) error {
	if err := outbound.CheckURL(u, s.requireHTTPS); err != nil {
		// CheckURL's messages are written for users and already name
		// the field.
		return invalid("url", strings.TrimPrefix(err.Error(), "url: "))
	}
	return nil
}

type createEndpointRequest struct {
	URL         string   `json:"url"`
	Description string   `json:"description"`
	EventTypes  []string `json:"event_types"`
	Enabled     *bool    `json:"enabled"`
}

func (s *server) createEndpoint(w http.ResponseWriter, r *http.Request, c call) error {
	var in createEndpointRequest
	if err := decodeBody(w, r, s.maxBody, bodyRequired, &in); err != nil {
		return err
	}
	if err := s.checkURL(in.URL); err != nil {
		return err
	}
	if err := checkDescription(in.Description); err != nil {
		return err
	}
	if err := checkEventTypes("event_types", in.EventTypes); err != nil {
		return err
	}
	now := s.now()
	e := store.Endpoint{
		ID:          ids.New(ids.Endpoint, now),
		ProjectID:   c.projectID,
		URL:         in.URL,
		Description: in.Description,
		EventTypes:  in.EventTypes,
		Enabled:     in.Enabled == nil || *in.Enabled,
		CreatedAt:   now,
		UpdatedAt:   now,
	}
	if e.EventTypes == nil {
		e.EventTypes = []string{}
	}
	if !e.Enabled {
		e.DisabledReason = disabledByUser
	}
	if err := s.store.CreateEndpoint(r.Context(), e); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, renderEndpoint(e))
	return nil
}

func (s *server) listEndpoints(w http.ResponseWriter, r *http.Request, c call) error {
	page, limit, err := pageQuery(r.URL.Query(), ids.Endpoint)
	if err != nil {
		return err
	}
	rows, err := s.store.ListEndpoints(r.Context(), c.projectID, page)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, paginate(rows, limit, func(e store.Endpoint) string { return e.ID }, renderEndpoint))
	return nil
}

// endpoint loads the {eid} of the path within the caller's project.
func (s *server) endpoint(r *http.Request, c call) (store.Endpoint, error) {
	eid := r.PathValue("eid")
	if !ids.Valid(ids.Endpoint, eid) {
		return store.Endpoint{}, notFound("endpoint")
	}
	e, err := s.store.GetEndpoint(r.Context(), c.projectID, eid)
	if err != nil {
		return store.Endpoint{}, notFoundAs(err, "endpoint")
	}
	return e, nil
}

func (s *server) getEndpoint(w http.ResponseWriter, r *http.Request, c call) error {
	e, err := s.endpoint(r, c)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, renderEndpoint(e))
	return nil
}

// patchEndpointRequest: absent (or null) fields stay as they are.
type patchEndpointRequest struct {
	URL         *string   `json:"url"`
	Description *string   `json:"description"`
	EventTypes  *[]string `json:"event_types"`
	Enabled     *bool     `json:"enabled"`
}

func (s *server) patchEndpoint(w http.ResponseWriter, r *http.Request, c call) error {
	e, err := s.endpoint(r, c)
	if err != nil {
		return err
	}
	var in patchEndpointRequest
	if err := decodeBody(w, r, s.maxBody, bodyRequired, &in); err != nil {
		return err
	}
	if in.URL != nil {
		if err := s.checkURL(*in.URL); err != nil {
			return err
		}
	}
	if in.Description != nil {
		if err := checkDescription(*in.Description); err != nil {
			return err
		}
	}
	if in.EventTypes != nil {
		if err := checkEventTypes("event_types", *in.EventTypes); err != nil {
			return err
		}
	}
	if in == (patchEndpointRequest{}) {
		writeJSON(w, http.StatusOK, renderEndpoint(e))
		return nil
	}
	if in.URL != nil {
		e.URL = *in.URL
	}
	if in.Description != nil {
		e.Description = *in.Description
	}
	if in.EventTypes != nil {
		e.EventTypes = *in.EventTypes
		if e.EventTypes == nil {
			e.EventTypes = []string{}
		}
	}
	if in.Enabled != nil {
		switch {
		case *in.Enabled:
			e.Enabled, e.DisabledReason = true, ""
		case e.Enabled:
			e.Enabled, e.DisabledReason = false, disabledByUser
			// Already disabled (say by a 410): keep the reason that
			// tells the user why.
		}
	}
	e.UpdatedAt = s.now()
	if err := s.store.UpdateEndpoint(r.Context(), e); err != nil {
		return notFoundAs(err, "endpoint")
	}
	writeJSON(w, http.StatusOK, renderEndpoint(e))
	return nil
}

func (s *server) deleteEndpoint(w http.ResponseWriter, r *http.Request, c call) error {
	eid := r.PathValue("eid")
	if !ids.Valid(ids.Endpoint, eid) {
		return notFound("endpoint")
	}
	if err := s.store.DeleteEndpoint(r.Context(), c.projectID, eid, s.now()); err != nil {
		return notFoundAs(err, "endpoint")
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type testRequest struct {
	Type string          `json:"type"`
	Data json.RawMessage `json:"data"`
}

// testEventType is the type of a test event whose request names none.
const testEventType = "webhook.test"

func (s *server) testEndpoint(w http.ResponseWriter, r *http.Request, c call) error {
	e, err := s.endpoint(r, c)
	if err != nil {
		return err
	}
	var in testRequest
	if err := decodeBody(w, r, s.maxBody, bodyOptional, &in); err != nil {
		return err
	}
	if in.Type == "" {
		in.Type = testEventType
	}
	if !validEventType(in.Type) {
		return invalid("type", eventTypeRule)
	}
	data := bytes.TrimSpace(in.Data)
	if len(data) == 0 || bytes.Equal(data, []byte("null")) {
		data = []byte("{}")
	} else if data[0] != '{' {
		return invalid("data", "must be a JSON object")
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, data); err != nil {
		return invalid("data", "must be a JSON object")
	}
	res, err := s.tester.Test(r.Context(), c.projectID, e, in.Type, compact.Bytes())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}
