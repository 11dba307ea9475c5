package api

import (
	"net/http"

	"github.com/hookd/hookd/internal/service"
)

type secretJSON struct {
	Secret    string `json:"secret"`
	PublicKey string `json:"public_key,omitempty"` // ed25519 only: what receivers verify with
}

func (s *server) getSecret(w http.ResponseWriter, r *http.Request, c call) error {
	sec, err := s.svc.Secrets.Reveal(r.Context(), c.projectID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, secretJSON(sec))
	return nil
}

type rotateRequest struct {
	GracePeriodSeconds int64  `json:"grace_period_seconds"`
	SignatureScheme    string `json:"signature_scheme"`
}

func (s *server) rotateSecret(w http.ResponseWriter, r *http.Request, c call) error {
	var in rotateRequest
	if err := decodeBody(w, r, s.maxBody, bodyOptional, &in); err != nil {
		return err
	}
	sec, err := s.svc.Secrets.Rotate(r.Context(), c.projectID, service.RotateSecret(in))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, secretJSON(sec))
	return nil
}
