package ui

import (
	"net/http"
	"strings"

	"github.com/hookd/hookd/internal/service"
)

// form is a posted form as the page shows it again: the values typed and
// the errors beside the fields they are about.
type form struct {
	Values map[string]string
	Errors map[string]string // by field name
	Error  string            // an error about no one field
}

// newForm reads the named fields of the posted form.
func newForm(r *http.Request, fields ...string) form {
	f := form{Values: map[string]string{}, Errors: map[string]string{}}
	for _, name := range fields {
		f.Values[name] = r.PostFormValue(name)
	}
	return f
}

// fail records err, when it is about the input, beside the field the
// service named ("event_types[2]" is the event_types field) and reports
// true; other errors are not the form's, and fail reports false.
func (f *form) fail(err error) bool {
	e, internal := service.AsError(err)
	if internal || (e.Code != service.CodeInvalidArgument && e.Code != service.CodeUnprocessable) {
		return false
	}
	field, _, _ := strings.Cut(e.Field, "[")
	if _, ok := f.Values[field]; ok {
		f.Errors[field] = capitalize(e.Message) + "."
	} else {
		f.Error = capitalize(e.Error()) + "."
	}
	return true
}

// splitList reads a list typed into one field, separated by commas, spaces
// or new lines.
func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool {
		return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t'
	})
}
