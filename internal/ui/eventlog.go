package ui

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/hookd/hookd/internal/service"
	"github.com/hookd/hookd/internal/store"
)

// logPageSize is how many deliveries one page of the Event Log shows.
const logPageSize = 50

// statuses are the delivery statuses in the order the filter offers them.
var statuses = []string{
	store.StatusFailed, store.StatusRetrying, store.StatusPending, store.StatusHeld, store.StatusDelivering,
	store.StatusSucceeded, store.StatusCancelled,
}

// timeLayouts are what the time filters accept: the browser's
// datetime-local value, with or without seconds, or RFC 3339.
var timeLayouts = []string{"2006-01-02T15:04", "2006-01-02T15:04:05", time.RFC3339}

// timeHelp is the error beside a time field that is not one.
const timeHelp = "Use a date and time in UTC, like 2026-12-01T09:30."

func parseTime(s string) (time.Time, bool) {
	for _, l := range timeLayouts {
		if t, err := time.ParseInLocation(l, s, time.UTC); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

type logData struct {
	// Form holds the filters as typed (status, endpoint_id, event_type,
	// since, until, event_id) and the errors beside them; q is the search.
	Form       form
	Statuses   []string
	Deliveries []service.Delivery
	Endpoints  []service.Endpoint
	// URLs of the endpoints by id. With AllEndpoints, an id without one
	// is a deleted endpoint; otherwise it may be one past the first page.
	URLs         map[string]string
	AllEndpoints bool
	Filtered     bool
	OlderURL     string // the next page, "" on the last
	NewestURL    string // the first page, "" on it
	// Query is this page's filters and cursor, for the links to a
	// delivery, whose "← Event Log" comes back to them.
	Query string
	// BulkURL previews resending what the filters match ("" unfiltered).
	BulkURL string
}

// logFilters are the Event Log's query parameters, named as the API's.
var logFilters = []string{"status", "endpoint_id", "event_type", "since", "until", "event_id"}

// eventLog lists the project's deliveries, newest first, filtered. With
// q, it searches instead and goes straight to what it found.
func (u *UI) eventLog(w http.ResponseWriter, r *http.Request, c *request) error {
	q := r.URL.Query()
	d := logData{Form: form{Values: map[string]string{}, Errors: map[string]string{}}, Statuses: statuses}
	if search := strings.TrimSpace(q.Get("q")); search != "" {
		found, err := u.svc.Search(r.Context(), c.project.ID, search)
		if err == nil {
			redirect(w, r, u.foundURL(c, found))
			return nil
		}
		d.Form.Values["q"] = search
		e, internal := service.AsError(err)
		if internal || e.Code != service.CodeNotFound && e.Code != service.CodeInvalidArgument {
			return err
		}
		d.Form.Errors["q"] = capitalize(e.Message) + "."
	}
	for _, name := range logFilters {
		d.Form.Values[name] = strings.TrimSpace(q.Get(name))
		d.Filtered = d.Filtered || d.Form.Values[name] != ""
	}
	f := service.DeliveryFilter{
		Status:     d.Form.Values["status"],
		EndpointID: d.Form.Values["endpoint_id"],
		EventType:  d.Form.Values["event_type"],
		EventID:    d.Form.Values["event_id"],
	}
	for name, dst := range map[string]*time.Time{"since": &f.Since, "until": &f.Until} {
		if v := d.Form.Values[name]; v != "" {
			t, ok := parseTime(v)
			if !ok {
				d.Form.Errors[name] = timeHelp
			}
			*dst = t
		}
	}

	eps, err := u.svc.Endpoints.List(r.Context(), c.project.ID, service.Page{Limit: service.MaxPageLimit})
	if err != nil {
		return err
	}
	d.Endpoints = eps.Items
	d.AllEndpoints = eps.NextCursor == ""
	d.URLs = make(map[string]string, len(eps.Items))
	for _, e := range eps.Items {
		d.URLs[e.ID] = e.URL
	}

	status := http.StatusOK
	if d.Form.Errors["q"] != "" {
		status = http.StatusNotFound // the log below is unfiltered
	}
	if len(d.Form.Errors) == 0 || d.Form.Errors["q"] != "" && len(d.Form.Errors) == 1 {
		cursor := q.Get("cursor")
		d.Query = logQuery(d.Form.Values, cursor)
		d.BulkURL = u.bulkURL(c, d.Form.Values)
		list, err := u.svc.Deliveries.List(r.Context(), c.project.ID, f, service.Page{Cursor: cursor, Limit: logPageSize})
		switch {
		case err == nil:
			d.Deliveries = list.Items
			if list.NextCursor != "" {
				d.OlderURL = u.logURL(c, d.Form.Values, list.NextCursor)
			}
			if cursor != "" {
				d.NewestURL = u.logURL(c, d.Form.Values, "")
			}
		case d.Form.fail(err):
			status = http.StatusBadRequest
		default:
			return err
		}
	} else {
		status = http.StatusBadRequest
	}
	u.render(w, r, c, status, "events", view{Title: "Event Log · " + c.project.Name, Nav: "events", Data: d})
	return nil
}

// logURL is the Event Log with the same filters at cursor.
func (u *UI) logURL(c *request, filters map[string]string, cursor string) string {
	s := u.projectPath(c, "/events")
	if q := logQuery(filters, cursor); q != "" {
		s += "?" + q
	}
	return s
}

// logQuery is the query of the Event Log with filters at cursor: only
// the log's own parameters, so a link made from it goes nowhere else.
func logQuery(filters map[string]string, cursor string) string {
	q := url.Values{}
	for _, name := range logFilters {
		if v := filters[name]; v != "" {
			q.Set(name, v)
		}
	}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	return q.Encode()
}

// backQuery is the Event Log's query a delivery page links back to: the
// filters the log had (its back parameter), re-read so that the link
// cannot point elsewhere.
func backQuery(back string) string {
	q, _ := url.ParseQuery(back)
	filters := map[string]string{}
	for _, name := range logFilters {
		filters[name] = q.Get(name)
	}
	return logQuery(filters, q.Get("cursor"))
}

// foundURL is where a search goes: a delivery's page, an event's
// deliveries, an endpoint's deliveries.
func (u *UI) foundURL(c *request, f service.Found) string {
	switch f.Kind {
	case service.FoundDelivery:
		return u.projectPath(c, "/deliveries/"+f.ID)
	case service.FoundEndpoint:
		return u.logURL(c, map[string]string{"endpoint_id": f.ID}, "")
	}
	return u.logURL(c, map[string]string{"event_id": f.ID}, "")
}

type deliveryData struct {
	Delivery service.Delivery
	Attempts []service.Attempt // newest first
	Event    service.Event
	Endpoint service.Endpoint // zero when it was deleted
	// Live: the delivery is about to be sent; the page reloads itself
	// (with script) to show the attempt.
	Live     bool
	FlashErr string
	// BackURL is the Event Log as it was when the delivery was opened;
	// BackQuery its query, which this page's own links and forms keep.
	BackURL, BackQuery string
	// UserAgent is what hookd sends as User-Agent (Config.UserAgent).
	UserAgent string
}

// delivery shows one delivery: the event body and every attempt.
func (u *UI) delivery(w http.ResponseWriter, r *http.Request, c *request) error {
	var flashErr string
	if c.flash.Problem {
		flashErr, c.flash.Message = c.flash.Message, "" // shown under the Resend button
	}
	return u.showDelivery(w, r, c, http.StatusOK, flashErr)
}

func (u *UI) showDelivery(w http.ResponseWriter, r *http.Request, c *request, status int, flashErr string) error {
	ctx := r.Context()
	dd, err := u.svc.Deliveries.Get(ctx, c.project.ID, r.PathValue("did"))
	if err != nil {
		return err
	}
	ev, err := u.svc.Events.Get(ctx, c.project.ID, dd.EventID)
	if err != nil {
		return err
	}
	d := deliveryData{Delivery: dd.Delivery, Event: ev, Attempts: slices.Clone(dd.Attempts), FlashErr: flashErr,
		BackURL: u.projectPath(c, "/events"), UserAgent: u.userAgent}
	if back := backQuery(r.URL.Query().Get("back")); back != "" {
		d.BackURL, d.BackQuery = d.BackURL+"?"+back, back
	}
	slices.Reverse(d.Attempts)
	if ep, err := u.svc.Endpoints.Get(ctx, c.project.ID, dd.EndpointID); err == nil {
		d.Endpoint = ep
	} else if notFoundAs(err, errPageNotFound) != errPageNotFound {
		return err
	}
	// Live while an attempt is under way or due within seconds; one due
	// long ago waits behind others (or a held endpoint), and a page
	// reloading itself for minutes would only be in the way.
	now := u.clock.Now()
	switch dd.Status {
	case store.StatusDelivering:
		d.Live = true
	case store.StatusPending, store.StatusRetrying:
		d.Live = dd.NextAttemptAt.Before(now.Add(5*time.Second)) && dd.NextAttemptAt.After(now.Add(-30*time.Second))
	}
	// Everything is loaded: the page streams, its body indented as it
	// is written, not held (a body may be large, or deeply nested).
	u.renderStreamed(w, r, c, status, "delivery", view{Title: dd.EventType + " · delivery", Nav: "events", Data: d})
	return nil
}

// resend makes the delivery due now, or for a succeeded one makes a new
// delivery of its event, shown next; one being sent right now, or whose
// endpoint is disabled or deleted, cannot be.
func (u *UI) resend(w http.ResponseWriter, r *http.Request, c *request) error {
	did := r.PathValue("did")
	d, err := u.svc.Deliveries.Retry(r.Context(), c.project.ID, did)
	to := u.projectPath(c, "/deliveries/"+did)
	back := ""
	if q := backQuery(r.PostFormValue("back")); q != "" {
		back = "?" + url.Values{"back": {q}}.Encode()
	}
	to += back
	if e, _ := service.AsError(err); err != nil {
		switch e.Code {
		case service.CodeConflict:
			return u.done(w, r, c, to, flash{Message: "This delivery is being sent right now. Resend it once the attempt has finished.", Problem: true})
		case service.CodeEndpointNotEnabled:
			return u.done(w, r, c, to, flash{Message: "Not resent: this delivery's endpoint is disabled or deleted. Nothing was changed; enable the endpoint to resend.", Problem: true})
		}
		return err
	}
	if d.ID != did {
		to, msg := u.projectPath(c, "/deliveries/"+d.ID)+back, "Resent as a new delivery, due now: the delivery that succeeded stays in the log as it was."
		if d.Status == store.StatusHeld {
			msg = "Resent as a new delivery (the delivery that succeeded stays in the log as it was), but not now. " + heldWhy(u.clock.Now(), d.Hold) + "."
		}
		return u.done(w, r, c, to, flash{Message: msg})
	}
	if d.Status == store.StatusHeld {
		// Not due now: its endpoint holds it; say until when.
		return u.done(w, r, c, to, flash{Message: "Resent, but not now. " + heldWhy(u.clock.Now(), d.Hold) + "."})
	}
	return u.done(w, r, c, to, flash{Message: "Resent: the delivery is due now."})
}
