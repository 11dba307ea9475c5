package ui

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/hookd/hookd/internal/service"
	"github.com/hookd/hookd/internal/store"
)

// bulkFilters are the Event Log filters a bulk resend takes (an event's
// own deliveries are resent one by one).
var bulkFilters = []string{"status", "endpoint_id", "event_type", "since", "until"}

type bulkData struct {
	Filters  map[string]string // as the log had them
	Describe []string          // the filters as people say them
	Result   service.BulkRetried
	LogURL   string
	Max      int
	Form     form
}

// bulkInput reads the filters from values (the preview's query or the
// confirmation's form) into the service's input; bad times are f's
// errors.
func bulkInput(get func(string) string, f *form) service.BulkRetry {
	for _, name := range bulkFilters {
		f.Values[name] = strings.TrimSpace(get(name))
	}
	in := service.BulkRetry{Status: f.Values["status"], EndpointID: f.Values["endpoint_id"], EventType: f.Values["event_type"]}
	in.Since, _ = formTime(f, "since")
	in.Until, _ = formTime(f, "until")
	return in
}

// resendPreview counts what the Event Log's filters match and asks before
// resending it: "312 deliveries match; resend them?".
func (u *UI) resendPreview(w http.ResponseWriter, r *http.Request, c *request) error {
	f := form{Values: map[string]string{}, Errors: map[string]string{}}
	in := bulkInput(r.URL.Query().Get, &f)
	in.DryRun = true
	d := bulkData{Filters: f.Values, LogURL: u.logURL(c, f.Values, ""), Max: service.MaxBulkRetry, Form: f}
	status := http.StatusOK
	if len(f.Errors) == 0 {
		res, err := u.svc.Deliveries.RetryMatching(r.Context(), c.project.ID, in)
		switch {
		case err == nil:
			d.Result = res
		case d.Form.fail(err):
			status = http.StatusBadRequest
		default:
			return err
		}
	} else {
		status = http.StatusBadRequest
	}
	d.Describe = u.describeFilters(r, c, f.Values)
	u.render(w, r, c, status, "resend", view{Title: "Resend deliveries", Nav: "events", Data: d})
	return nil
}

// resendMatching resends what the filters match and goes back to the
// Event Log with them, saying how many and how to go on.
func (u *UI) resendMatching(w http.ResponseWriter, r *http.Request, c *request) error {
	f := newForm(r)
	in := bulkInput(r.PostFormValue, &f)
	if len(f.Errors) > 0 {
		return errBadFilters
	}
	res, err := u.svc.Deliveries.RetryMatching(r.Context(), c.project.ID, in)
	if err != nil {
		if f.fail(err) {
			return errBadFilters
		}
		return err
	}
	return u.done(w, r, c, u.logURL(c, f.Values, ""), flash{Message: bulkMessage(res, in)})
}

var errBadFilters = &pageError{http.StatusBadRequest, "Check the filters", "These filters are not valid any more. Go back to the Event Log and filter again."}

// bulkMessage says what a bulk resend did and, when more matched, how
// to go on.
func bulkMessage(res service.BulkRetried, in service.BulkRetry) string {
	if res.Resent == 0 {
		return "Nothing to resend: no delivery matches these filters now."
	}
	msg := fmt.Sprintf("Resent %s: they are due now.", pluralize(res.Resent, "delivery", "deliveries"))
	if res.Truncated {
		if in.Status == store.StatusFailed || in.Status == store.StatusCancelled || in.Status == store.StatusSucceeded {
			msg += fmt.Sprintf(" More than %s matched: those resent are pending now, so Resend again with the same filters takes the next ones.", grouped(service.MaxBulkRetry))
		} else {
			msg += fmt.Sprintf(" More than %s matched and only the newest were resent: set Until to the oldest one resent to go on.", grouped(service.MaxBulkRetry))
		}
	}
	return msg
}

// describeFilters says the filters as a sentence's parts.
func (u *UI) describeFilters(r *http.Request, c *request, v map[string]string) []string {
	var out []string
	if s := v["status"]; s != "" {
		out = append(out, "status "+statusWord(s))
	}
	if id := v["endpoint_id"]; id != "" {
		name := id
		if e, err := u.svc.Endpoints.Get(r.Context(), c.project.ID, id); err == nil {
			name = e.URL
		}
		out = append(out, "to "+name)
	}
	if t := v["event_type"]; t != "" {
		out = append(out, "of type "+t)
	}
	if t, ok := parseTime(v["since"]); ok {
		out = append(out, "created from "+utc(t))
	}
	if t, ok := parseTime(v["until"]); ok {
		out = append(out, "created before "+utc(t))
	}
	return out
}

// bulkURL is the preview's address for the log's filters ("" when there
// are none: the log offers no bulk resend of everything).
func (u *UI) bulkURL(c *request, filters map[string]string) string {
	q := url.Values{}
	for _, name := range bulkFilters {
		if v := filters[name]; v != "" {
			q.Set(name, v)
		}
	}
	if len(q) == 0 || filters["event_id"] != "" || filters["status"] == store.StatusDelivering {
		return ""
	}
	return u.projectPath(c, "/events/resend?"+q.Encode())
}
