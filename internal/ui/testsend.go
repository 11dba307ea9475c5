package ui

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hookd/hookd/internal/service"
)

// The Test page of an endpoint: send a test event of a type chosen among
// those the project publishes (or any other), with data that starts as
// that type's newest example and can be edited first. The quick Test
// button of the Webhooks page sends service.TestEventType with no data;
// this form posts to the same address with the fields type and data.

type testPageData struct {
	Endpoint service.Endpoint
	Types    []service.EventType
	// Chosen is the type whose example fills the data field.
	Chosen string
	Form   form
	// Result is the answer to the test just sent, if any.
	Result *testView
}

// testPageFlash is what a test from the page leaves for it: the result
// and what was sent, so the form shows it again to change and resend.
type testPageFlash struct {
	Result testView `json:"result"`
	Type   string   `json:"type"`
	Data   string   `json:"data"`
}

// testPage shows the form; ?type= chooses the type whose example fills
// the data field.
func (u *UI) testPage(w http.ResponseWriter, r *http.Request, c *request) error {
	var fd testPageFlash
	d := testPageData{Chosen: r.URL.Query().Get("type")}
	if c.flash.readData(&fd) {
		d.Result = &fd.Result
		d.Form = form{Values: map[string]string{"type": fd.Type, "data": fd.Data}, Errors: map[string]string{}}
	}
	return u.showTestPage(w, r, c, http.StatusOK, d)
}

func (u *UI) showTestPage(w http.ResponseWriter, r *http.Request, c *request, status int, d testPageData) error {
	e, err := u.svc.Endpoints.Get(r.Context(), c.project.ID, r.PathValue("eid"))
	if err != nil {
		return err
	}
	d.Endpoint, d.Types = e, u.knownTypes(r, c)
	if d.Form.Values == nil {
		typ := d.Chosen
		if typ == "" && len(d.Types) > 0 {
			typ = d.Types[0].Type
		}
		data := "{}"
		for _, t := range d.Types {
			if t.Type == typ && t.Example != nil {
				data = prettyJSON(t.Example)
			}
		}
		if typ == "" {
			typ = service.TestEventType
		}
		d.Form = form{Values: map[string]string{"type": typ, "data": data}, Errors: map[string]string{}}
	}
	if d.Chosen == "" {
		d.Chosen = d.Form.Values["type"]
	}
	u.render(w, r, c, status, "testsend", view{Title: "Test " + e.URL, Nav: "webhooks", Data: d})
	return nil
}

// testWithType sends the test event the Test page's form describes and
// comes back to the page with the result (PRG); a type or data the
// service refuses is shown beside its field, nothing sent.
func (u *UI) testWithType(w http.ResponseWriter, r *http.Request, c *request) error {
	eid := r.PathValue("eid")
	f := newForm(r, "type", "data")
	typ := strings.TrimSpace(f.Values["type"])
	back := u.projectPath(c, "/webhooks/"+eid+"/test?type="+url.QueryEscape(typ))
	fd := testPageFlash{Type: typ, Data: f.Values["data"]}
	res, err := u.svc.Endpoints.Test(r.Context(), c.project.ID, eid, service.TestSend{Type: typ, Data: json.RawMessage(f.Values["data"])})
	if e, _ := service.AsError(err); err != nil && e.Code == service.CodeRateLimited {
		w.Header().Set("Retry-After", strconv.Itoa(max(int(e.RetryAfter.Round(time.Second)/time.Second), 1)))
		fd.Result = testView{Error: "Not sent: " + e.Message + "."}
		return u.done(w, r, c, back, flash{}.with(fd))
	}
	if err != nil {
		if !f.fail(err) {
			return err
		}
		return u.showTestPage(w, r, c, http.StatusBadRequest, testPageData{Chosen: typ, Form: f})
	}
	fd.Result = testView{
		StatusCode:   res.StatusCode,
		StatusText:   http.StatusText(res.StatusCode),
		DurationMS:   res.Duration.Milliseconds(),
		Error:        res.Error,
		ResponseBody: res.ResponseBody,
		OK:           res.Error == "" && res.StatusCode >= 200 && res.StatusCode < 300,
	}
	return u.done(w, r, c, back+"#test-result", flash{}.with(fd))
}
