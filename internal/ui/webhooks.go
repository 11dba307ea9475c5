package ui

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hookd/hookd/internal/service"
)

func (u *UI) projectPath(c *request, rest string) string {
	return Prefix + "projects/" + c.project.ID + rest
}

type webhooksData struct {
	Endpoints  []service.Endpoint
	NextCursor string
	Cursor     string
	// Tests are results of the Test button by endpoint id, for a browser
	// without script (with script they are shown in place).
	Tests map[string]testView
	// Secret is set when the signing secret was revealed or rotated.
	Secret *service.Secret
	// Rotated says the secret was just rotated. GraceEnds is when the
	// previous secret stops signing beside the current one, while a
	// rotation's grace period runs.
	Rotated     bool
	GraceEnds   time.Time
	GraceActive bool
	// Egress are the addresses webhooks leave from, for receivers to allow
	// (--egress-addresses); empty hides the note.
	Egress []string
}

// webhooksFlash is what Test, Reveal and Rotate leave for the Webhooks
// page (the secret itself is the flash's Secret).
type webhooksFlash struct {
	TestOf    string    `json:"test_of,omitempty"` // the endpoint tested
	Test      testView  `json:"test"`
	Revealed  bool      `json:"revealed,omitempty"`
	PublicKey string    `json:"public_key,omitempty"`
	Rotated   bool      `json:"rotated,omitempty"`
	GraceEnds time.Time `json:"grace_ends,omitzero"` // zero: no grace
}

// webhooks is the project's Integrations › Webhooks page.
func (u *UI) webhooks(w http.ResponseWriter, r *http.Request, c *request) error {
	d := webhooksData{Cursor: r.URL.Query().Get("cursor"), Egress: u.svc.EgressAddresses()}
	var fd webhooksFlash
	if c.flash.readData(&fd) {
		if fd.TestOf != "" {
			d.Tests = map[string]testView{fd.TestOf: fd.Test}
		}
		if (fd.Revealed || fd.Rotated) && c.flash.Secret != "" {
			d.Secret = &service.Secret{Secret: c.flash.Secret, PublicKey: fd.PublicKey}
		}
		d.Rotated = fd.Rotated
	}
	list, err := u.svc.Endpoints.List(r.Context(), c.project.ID, service.Page{Cursor: d.Cursor, Limit: service.MaxPageLimit})
	if err != nil {
		return err
	}
	d.Endpoints, d.NextCursor = list.Items, list.NextCursor
	if d.GraceEnds, err = u.svc.Secrets.GraceEnds(r.Context(), c.project.ID); err != nil {
		return err
	}
	d.GraceActive = !d.GraceEnds.IsZero()
	u.render(w, r, c, http.StatusOK, "webhooks", view{Title: "Webhooks · " + c.project.Name, Nav: "webhooks", Data: d})
	return nil
}

// endpointFields are the fields of the endpoint form, named as the
// service names them in its errors.
var endpointFields = []string{"url", "description", "event_types", "rate_limit_per_second", "max_concurrency", "ordered"}

// formLimit reads a limit field: empty is no limit (0); what is not a
// whole number becomes -1, which the service refuses with the rule.
func formLimit(f form, field string) int {
	v := strings.TrimSpace(f.Values[field])
	if v == "" {
		return 0
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return -1
	}
	return n
}

// limitValue shows a limit in the form: empty for none.
func limitValue(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}

type endpointFormData struct {
	Form     form
	Endpoint service.Endpoint // zero when adding
	Action   string
	// Chosen are the event types ticked among Types, the project's known
	// types (eventtypes.go); with splitFree, Chosen is the endpoint's
	// whole list and what is not a known type goes to the free field.
	Chosen    []string
	splitFree bool
	Types     []typeChoice
}

func (u *UI) showEndpointForm(w http.ResponseWriter, r *http.Request, c *request, status int, d endpointFormData) {
	title := "Add endpoint"
	if d.Endpoint.ID != "" {
		title = "Edit endpoint"
	}
	var rest []string
	d.Types, rest = typeChoices(u.knownTypes(r, c), d.Chosen)
	if d.splitFree {
		d.Form.Values["event_types"] = strings.Join(rest, ", ")
	}
	u.render(w, r, c, status, "endpoint", view{Title: title, Nav: "webhooks", Data: d})
}

func (u *UI) newEndpoint(w http.ResponseWriter, r *http.Request, c *request) error {
	f := form{Values: map[string]string{}, Errors: map[string]string{}}
	u.showEndpointForm(w, r, c, http.StatusOK, endpointFormData{Form: f, Action: u.projectPath(c, "/webhooks")})
	return nil
}

func (u *UI) createEndpoint(w http.ResponseWriter, r *http.Request, c *request) error {
	f := newForm(r, endpointFields...)
	e, err := u.svc.Endpoints.Create(r.Context(), c.project.ID, service.CreateEndpoint{
		URL:         strings.TrimSpace(f.Values["url"]),
		Description: f.Values["description"],
		EventTypes:  postedTypes(r, f),

		RateLimitPerSecond: formLimit(f, "rate_limit_per_second"),
		MaxConcurrency:     formLimit(f, "max_concurrency"),
		Ordered:            f.Values["ordered"] != "",
	})
	if err != nil {
		if !f.fail(err) {
			return err
		}
		u.showEndpointForm(w, r, c, http.StatusBadRequest, endpointFormData{Form: f, Action: u.projectPath(c, "/webhooks"), Chosen: r.PostForm["event_type"]})
		return nil
	}
	msg := "Endpoint added. Press Test to send it a test event."
	if strings.HasPrefix(strings.ToLower(e.URL), "http://") {
		msg += " Its URL is http://: webhooks to it travel unencrypted."
	}
	return u.done(w, r, c, u.projectPath(c, "/webhooks"), flash{Message: msg})
}

func (u *UI) editEndpoint(w http.ResponseWriter, r *http.Request, c *request) error {
	e, err := u.svc.Endpoints.Get(r.Context(), c.project.ID, r.PathValue("eid"))
	if err != nil {
		return err
	}
	f := form{Values: map[string]string{
		"url":         e.URL,
		"description": e.Description,
		"event_types": "",

		"rate_limit_per_second": limitValue(e.RateLimitPerSecond),
		"max_concurrency":       limitValue(e.MaxConcurrency),
	}, Errors: map[string]string{}}
	if e.Ordered {
		f.Values["ordered"] = "1"
	}
	u.showEndpointForm(w, r, c, http.StatusOK, endpointFormData{Form: f, Endpoint: e, Action: u.projectPath(c, "/webhooks/"+e.ID),
		Chosen: e.EventTypes, splitFree: true})
	return nil
}

func (u *UI) updateEndpoint(w http.ResponseWriter, r *http.Request, c *request) error {
	f := newForm(r, endpointFields...)
	url, desc := strings.TrimSpace(f.Values["url"]), f.Values["description"]
	types := postedTypes(r, f)
	rate, conc := formLimit(f, "rate_limit_per_second"), formLimit(f, "max_concurrency")
	ordered := f.Values["ordered"] != ""
	eid := r.PathValue("eid")
	_, err := u.svc.Endpoints.Update(r.Context(), c.project.ID, eid, service.UpdateEndpoint{
		URL: &url, Description: &desc, EventTypes: &types,
		RateLimitPerSecond: &rate, MaxConcurrency: &conc, Ordered: &ordered,
	})
	if err != nil {
		if !f.fail(err) {
			return err
		}
		e, gerr := u.svc.Endpoints.Get(r.Context(), c.project.ID, eid)
		if gerr != nil {
			return gerr
		}
		u.showEndpointForm(w, r, c, http.StatusBadRequest, endpointFormData{Form: f, Endpoint: e, Action: u.projectPath(c, "/webhooks/"+eid),
			Chosen: r.PostForm["event_type"]})
		return nil
	}
	return u.done(w, r, c, u.projectPath(c, "/webhooks/"+eid), flash{Message: "Endpoint saved."})
}

// enableEndpoint enables the endpoint. The health page's form carries
// recover_since (perhaps empty) and comes back there: with a time, the
// endpoint also resends what failed or was cancelled since then, as the
// API's recover_since does.
func (u *UI) enableEndpoint(w http.ResponseWriter, r *http.Request, c *request) error {
	eid := r.PathValue("eid")
	if _, fromHealth := r.PostForm["recover_since"]; fromHealth {
		f := newForm(r, "recover_since")
		since, ok := formTime(&f, "recover_since")
		if !ok {
			return u.showEndpoint(w, r, c, http.StatusBadRequest, healthData{Enable: f})
		}
		if since.IsZero() {
			if _, err := u.svc.Endpoints.Enable(r.Context(), c.project.ID, eid); err != nil {
				return err
			}
			return u.done(w, r, c, u.projectPath(c, "/webhooks/"+eid), flash{Message: "Endpoint enabled."})
		}
		on := true
		_, rec, err := u.svc.Endpoints.UpdateAndRecover(r.Context(), c.project.ID, eid, service.UpdateEndpoint{Enabled: &on}, since)
		if err != nil {
			if !f.fail(err) {
				return err
			}
			return u.showEndpoint(w, r, c, http.StatusBadRequest, healthData{Enable: f})
		}
		return u.done(w, r, c, u.projectPath(c, "/webhooks/"+eid), flash{Message: "Endpoint enabled. " + recoveredFlash(rec, since)})
	}
	if _, err := u.svc.Endpoints.Enable(r.Context(), c.project.ID, eid); err != nil {
		return err
	}
	return u.done(w, r, c, u.projectPath(c, "/webhooks"), flash{Message: "Endpoint enabled."})
}

func (u *UI) disableEndpoint(w http.ResponseWriter, r *http.Request, c *request) error {
	if _, err := u.svc.Endpoints.Disable(r.Context(), c.project.ID, r.PathValue("eid")); err != nil {
		return err
	}
	return u.done(w, r, c, u.projectPath(c, "/webhooks"), flash{Message: "Endpoint disabled. Its pending deliveries were cancelled."})
}

// confirmDelete asks before deleting; the page works without script and
// cannot be framed, so the button cannot be clicked from another site.
func (u *UI) confirmDelete(w http.ResponseWriter, r *http.Request, c *request) error {
	e, err := u.svc.Endpoints.Get(r.Context(), c.project.ID, r.PathValue("eid"))
	if err != nil {
		return err
	}
	u.render(w, r, c, http.StatusOK, "delete", view{Title: "Delete endpoint", Nav: "webhooks", Data: e})
	return nil
}

func (u *UI) deleteEndpoint(w http.ResponseWriter, r *http.Request, c *request) error {
	if err := u.svc.Endpoints.Delete(r.Context(), c.project.ID, r.PathValue("eid")); err != nil {
		return err
	}
	return u.done(w, r, c, u.projectPath(c, "/webhooks"), flash{Message: "Endpoint deleted. Its deliveries stay in the Event Log."})
}

// testView is a Test result as the page (and the script) shows it.
type testView struct {
	StatusCode   int    `json:"status_code"` // 0: no response
	StatusText   string `json:"status_text"`
	DurationMS   int64  `json:"duration_ms"`
	Error        string `json:"error"`
	ResponseBody string `json:"response_body"`
	OK           bool   `json:"ok"`
}

// testEndpoint sends a test event now. With script the page asks for
// JSON and shows the result in place; without, the page comes back with
// the result in the endpoint's row.
func (u *UI) testEndpoint(w http.ResponseWriter, r *http.Request, c *request) error {
	if _, fromTestPage := r.PostForm["type"]; fromTestPage {
		return u.testWithType(w, r, c)
	}
	eid := r.PathValue("eid")
	res, err := u.svc.Endpoints.Test(r.Context(), c.project.ID, eid, service.TestSend{})
	if e, _ := service.AsError(err); err != nil && e.Code == service.CodeRateLimited {
		// Not sent: say so where the result would be.
		msg := "Not sent: " + e.Message + "."
		w.Header().Set("Retry-After", strconv.Itoa(max(int(e.RetryAfter.Round(time.Second)/time.Second), 1)))
		if wantsJSON(r) {
			writeJSON(w, http.StatusTooManyRequests, map[string]string{"error": msg})
			return nil
		}
		return u.done(w, r, c, u.projectPath(c, "/webhooks")+"#ep-"+eid, flash{}.with(webhooksFlash{TestOf: eid, Test: testView{Error: msg}}))
	}
	if err != nil {
		return err
	}
	v := testView{
		StatusCode:   res.StatusCode,
		StatusText:   http.StatusText(res.StatusCode),
		DurationMS:   res.Duration.Milliseconds(),
		Error:        res.Error,
		ResponseBody: res.ResponseBody,
		OK:           res.Error == "" && res.StatusCode >= 200 && res.StatusCode < 300,
	}
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, v)
		return nil
	}
	return u.done(w, r, c, u.projectPath(c, "/webhooks")+"#ep-"+eid, flash{}.with(webhooksFlash{TestOf: eid, Test: v}))
}

// revealSecret shows the signing secret: in place with script, on the
// page without. It is a POST so that the secret is never in a URL or a
// cached page, and so that another site cannot ask for it.
func (u *UI) revealSecret(w http.ResponseWriter, r *http.Request, c *request) error {
	s, err := u.svc.Secrets.Reveal(r.Context(), c.project.ID)
	if err != nil {
		return err
	}
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, map[string]string{"secret": s.Secret, "public_key": s.PublicKey})
		return nil
	}
	return u.done(w, r, c, u.projectPath(c, "/webhooks")+"#secret-title", flash{Secret: s.Secret}.with(webhooksFlash{Revealed: true, PublicKey: s.PublicKey}))
}

// graceOptions are the grace periods the rotation page offers; none is
// the default, as the contract says: rotating expires the old secret at
// once.
var graceOptions = []struct {
	Seconds int64
	Label   string
}{
	{0, "None: the current secret stops signing at once"},
	{int64(time.Hour / time.Second), "1 hour"},
	{int64(24 * time.Hour / time.Second), "24 hours"},
	{int64(service.MaxGracePeriod / time.Second), "7 days"},
}

type rotateData struct {
	Options []struct {
		Seconds int64
		Label   string
	}
	Chosen int64
	Form   form
}

func (u *UI) confirmRotate(w http.ResponseWriter, r *http.Request, c *request) error {
	u.render(w, r, c, http.StatusOK, "rotate", view{Title: "Rotate signing secret", Nav: "webhooks",
		Data: rotateData{Options: graceOptions, Form: form{Errors: map[string]string{}}}})
	return nil
}

// rotateSecret rotates and shows the new secret at once: whoever rotates
// has receivers to update.
func (u *UI) rotateSecret(w http.ResponseWriter, r *http.Request, c *request) error {
	f := newForm(r, "grace_period_seconds")
	grace, perr := strconv.ParseInt(strings.TrimSpace(f.Values["grace_period_seconds"]), 10, 64)
	if f.Values["grace_period_seconds"] == "" {
		grace, perr = 0, nil
	}
	if perr != nil {
		grace = -1 // not a number: the service says what is allowed
	}
	s, err := u.svc.Secrets.Rotate(r.Context(), c.project.ID, service.RotateSecret{GracePeriodSeconds: grace})
	if err != nil {
		if !f.fail(err) {
			return err
		}
		u.render(w, r, c, http.StatusBadRequest, "rotate", view{Title: "Rotate signing secret", Nav: "webhooks",
			Data: rotateData{Options: graceOptions, Chosen: grace, Form: f}})
		return nil
	}
	fd := webhooksFlash{Rotated: true, PublicKey: s.PublicKey}
	if grace > 0 {
		fd.GraceEnds = u.clock.Now().Add(time.Duration(grace) * time.Second)
	}
	return u.done(w, r, c, u.projectPath(c, "/webhooks")+"#secret-title", flash{Secret: s.Secret}.with(fd))
}

// wantsJSON tells a request of the page's script, which asks for JSON,
// from a form the browser posted.
func wantsJSON(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "application/json")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // json escapes <, > and &: safe to read anywhere
}
