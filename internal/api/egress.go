package api

import "net/http"

type egressJSON struct {
	// Addresses webhooks leave from (IPs or CIDRs), for receivers' allow-lists;
	// empty when the operator published none.
	Addresses []string `json:"addresses"`
}

func (s *server) egress(w http.ResponseWriter, _ *http.Request, _ call) error {
	out := egressJSON{Addresses: s.svc.EgressAddresses()}
	if out.Addresses == nil {
		out.Addresses = []string{}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
