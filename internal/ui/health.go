package ui

import (
	"cmp"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/hookd/hookd/internal/service"
	"github.com/hookd/hookd/internal/store"
)

// healthState is an endpoint's health as a word and a colour (the class
// status-<Class>). The states are the store's (Healthy, BreakerOpen); the
// UI only names them.
type healthState struct {
	Class string // "healthy", "failing", "breaker" or "disabled"
	Word  string
}

func endpointHealth(e store.Endpoint) healthState {
	switch {
	case !e.Enabled:
		return healthState{"disabled", "Disabled"}
	case e.Health.BreakerOpen():
		return healthState{"breaker", "Breaker open"}
	case !e.Health.Healthy():
		return healthState{"failing", "Failing"}
	case e.Health.LastSuccessAt.IsZero():
		// Nothing has reached it yet: not known to be healthy.
		return healthState{"new", "No attempts yet"}
	}
	return healthState{"healthy", "Healthy"}
}

// windowNames are the stats windows as the page's tabs say them.
var windowNames = map[string]string{"24h": "24 hours", "7d": "7 days"}

type windowTab struct {
	Name, Label, URL string
	Current          bool
}

type healthData struct {
	Endpoint service.Endpoint
	Health   healthState
	Stats    service.EndpointStats
	Windows  []windowTab
	Window   string // the current window as people say it: "24 hours"
	Chart    chart
	// Recover is the Recover form (field since), Enable the form that
	// enables a disabled endpoint (field recover_since).
	Recover, Enable form
	FlashErr        string
	// Held are the endpoint's deliveries held right now (the first
	// heldShown), with HeldMore when there are more.
	Held     []service.Delivery
	HeldMore bool
}

// heldShown is how many held deliveries the health page counts.
const heldShown = 100

// endpointPage is an endpoint's health: its state, its attempts by hour
// and outcome over a window, its limits, and Recover.
func (u *UI) endpointPage(w http.ResponseWriter, r *http.Request, c *request) error {
	var d healthData
	var probe probeFlash
	if c.flash.Problem && !(c.flash.readData(&probe) && probe.Probe) {
		d.FlashErr, c.flash.Message = c.flash.Message, "" // shown beside Recover
	}
	return u.showEndpoint(w, r, c, http.StatusOK, d)
}

func (u *UI) showEndpoint(w http.ResponseWriter, r *http.Request, c *request, status int, d healthData) error {
	ctx := r.Context()
	eid := r.PathValue("eid")
	window := r.URL.Query().Get("window")
	st, err := u.svc.Endpoints.Stats(ctx, c.project.ID, eid, window)
	if err != nil {
		return err
	}
	e, err := u.svc.Endpoints.Get(ctx, c.project.ID, eid)
	if err != nil {
		return err
	}
	d.Endpoint, d.Stats, d.Health = e, st, endpointHealth(e)
	for _, win := range service.StatsWindows {
		tab := windowTab{Name: win.Name, Label: cmp.Or(windowNames[win.Name], win.Name),
			URL: u.projectPath(c, "/webhooks/"+e.ID+"?window="+win.Name), Current: win.Name == st.Window}
		if tab.Current {
			d.Window = tab.Label
		}
		d.Windows = append(d.Windows, tab)
	}
	d.Chart = newChart(st, d.Window)
	held, err := u.svc.Deliveries.List(ctx, c.project.ID, service.DeliveryFilter{Status: store.StatusHeld, EndpointID: e.ID},
		service.Page{Limit: heldShown})
	if err != nil {
		return err
	}
	d.Held, d.HeldMore = held.Items, held.NextCursor != ""
	// Recover offers to resend since the endpoint began failing, or
	// else the start of the window shown.
	since := e.Health.FailingSince
	if since.IsZero() {
		since = st.From
	}
	if d.Recover.Values == nil {
		d.Recover = form{Values: map[string]string{"since": localTime(since)}, Errors: map[string]string{}}
	}
	if d.Enable.Values == nil {
		d.Enable = form{Values: map[string]string{"recover_since": ""}, Errors: map[string]string{}}
	}
	u.render(w, r, c, status, "health", view{Title: e.URL + " · health", Nav: "webhooks", Data: d})
	return nil
}

// localTime is t as a datetime-local field shows it, in UTC as every
// time the UI takes.
func localTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04") }

// formTime reads a time field: ok is false when it is not a time (the
// field's error is set); an empty field is the zero time, which the
// service names as required where it is.
func formTime(f *form, field string) (t time.Time, ok bool) {
	v := strings.TrimSpace(f.Values[field])
	if v == "" {
		return time.Time{}, true
	}
	t, ok = parseTime(v)
	if !ok {
		f.Errors[field] = timeHelp
	}
	return t, ok
}

// recoverEndpoint resends the endpoint's deliveries that failed (or were
// cancelled by a disable) since the time given, as POST …/recover does.
func (u *UI) recoverEndpoint(w http.ResponseWriter, r *http.Request, c *request) error {
	f := newForm(r, "since")
	since, ok := formTime(&f, "since")
	if ok {
		eid := r.PathValue("eid")
		rec, err := u.svc.Endpoints.Recover(r.Context(), c.project.ID, eid, since)
		if err == nil {
			return u.done(w, r, c, u.projectPath(c, "/webhooks/"+eid), flash{Message: recoveredFlash(rec, since)})
		}
		if e, _ := service.AsError(err); e.Code == service.CodeConflict {
			return u.done(w, r, c, u.projectPath(c, "/webhooks/"+eid), flash{Message: capitalize(e.Message) + ".", Problem: true})
		}
		if !f.fail(err) {
			return err
		}
	}
	return u.showEndpoint(w, r, c, http.StatusBadRequest, healthData{Recover: f})
}

func recoveredFlash(r service.Recovered, since time.Time) string {
	var msg string
	switch {
	case r.Total() == 0:
		msg = "Nothing to resend: no delivery failed or was cancelled since " + utc(since) +
			", and no event was published while the endpoint was disabled."
	case r.Replayed == 0:
		msg = fmt.Sprintf("Resent %s that failed or were cancelled since %s: they are due now.",
			pluralize(r.Resent, "delivery", "deliveries"), utc(since))
	case r.Resent == 0:
		msg = fmt.Sprintf("Sending %s published since %s while the endpoint was disabled: they are due now.",
			pluralize(r.Replayed, "event", "events"), utc(since))
	default:
		msg = fmt.Sprintf("Resent %s that failed or were cancelled since %s, and sending %s published while the endpoint was disabled: they are due now.",
			pluralize(r.Resent, "delivery", "deliveries"), utc(since), pluralize(r.Replayed, "event", "events"))
	}
	if r.Held > 0 {
		msg += fmt.Sprintf(" The breaker is open: %s wait for the next probe at %s.",
			pluralize(r.Held, "delivery", "deliveries"), utc(r.HeldUntil))
	}
	return msg
}
