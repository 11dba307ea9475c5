package ui

import (
	"net/http"
	"strings"

	"github.com/hookd/hookd/internal/service"
)

// The Event types page: the types the project has published, how many,
// when last, and the newest one's data as an example. The endpoint form
// offers the same types as choices, and the Test page sends one of them
// with its example, edited.

type eventTypesData struct {
	Types      []service.EventType
	NextCursor string
	Cursor     string
}

func (u *UI) eventTypes(w http.ResponseWriter, r *http.Request, c *request) error {
	d := eventTypesData{Cursor: r.URL.Query().Get("cursor")}
	l, err := u.svc.Events.Types(r.Context(), c.project.ID, service.Page{Cursor: d.Cursor, Limit: service.MaxPageLimit})
	if err != nil {
		return err
	}
	d.Types, d.NextCursor = l.Items, l.NextCursor
	u.render(w, r, c, http.StatusOK, "eventtypes", view{Title: "Event types · " + c.project.Name, Nav: "types", Data: d})
	return nil
}

// knownTypes are the project's event types (the first page of them, by
// type) for the endpoint form and the Test page to offer; none when they
// cannot be read, since a choice list is a help, not a need.
func (u *UI) knownTypes(r *http.Request, c *request) []service.EventType {
	l, err := u.svc.Events.Types(r.Context(), c.project.ID, service.Page{Limit: service.MaxPageLimit})
	if err != nil {
		u.log.WarnContext(r.Context(), "ui: event types not read", "err", err)
		return nil
	}
	return l.Items
}

// typeChoice is a known event type as the endpoint form offers it.
type typeChoice struct {
	Type    string
	Count   int64
	Checked bool
}

// typeChoices offers the known types, those in chosen ticked, and returns
// the chosen ones that are not among them (patterns such as "invoice.*",
// types not published yet), for the free field.
func typeChoices(known []service.EventType, chosen []string) (choices []typeChoice, rest []string) {
	ticked := map[string]bool{}
	for _, t := range chosen {
		ticked[t] = true
	}
	isKnown := map[string]bool{}
	for _, t := range known {
		isKnown[t.Type] = true
		choices = append(choices, typeChoice{Type: t.Type, Count: t.Count, Checked: ticked[t.Type]})
	}
	for _, t := range chosen {
		if !isKnown[t] {
			rest = append(rest, t)
		}
	}
	return choices, rest
}

// postedTypes are the event types of a posted endpoint form: the ticked
// choices, then what the free field lists, each once.
func postedTypes(r *http.Request, f form) []string {
	seen := map[string]bool{}
	var out []string
	for _, t := range append(append([]string(nil), r.PostForm["event_type"]...), splitList(f.Values["event_types"])...) {
		if t = strings.TrimSpace(t); t != "" && !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	return out
}
