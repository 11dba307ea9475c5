package api

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hookd/hookd/internal/service"
)

// bodyRule says whether a request body may be left out.
type bodyRule int

const (
	bodyRequired bodyRule = iota
	// bodyOptional: an empty body means "all defaults", for routes whose
	// fields are all optional (rotate, test, new API key).
	bodyOptional
)

// decodeBody reads exactly one JSON object into dst. Unknown fields, trailing
// data, wrong types and bodies over limit are errors whose message names the
// field. A missing or wrong Content-Type is tolerated: callers of webhook
// APIs use curl -d, which sends form encoding.
func decodeBody(w http.ResponseWriter, r *http.Request, limit int64, rule bodyRule, dst any) error {
	if r.ContentLength > limit {
		return tooLarge(limit)
	}
	body := http.MaxBytesReader(w, r.Body, limit)
	data, err := io.ReadAll(body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return tooLarge(limit)
		}
		return service.Invalid("body", "could not be read")
	}
	return decodeJSON(data, rule, dst)
}

func tooLarge(limit int64) *service.Error {
	return &service.Error{Code: service.CodePayloadTooLarge, Field: "body", Message: fmt.Sprintf("must be at most %d bytes", limit)}
}

// decodeJSON is decodeBody after reading: split out so fuzz tests and the
// handler share one decoder.
func decodeJSON(data []byte, rule bodyRule, dst any) error {
	if len(bytes.TrimSpace(data)) == 0 {
		if rule == bodyOptional {
			return nil
		}
		return service.Invalid("body", "must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		var syn *json.SyntaxError
		if name, ok := badTime(data, reflect.TypeOf(dst)); ok && !errors.As(err, &syn) {
			// time.Time's own decoding error names no field.
			return service.Invalid(clip(name, 64), "must be an RFC 3339 time in a string, such as 2026-11-26T12:00:00Z")
		}
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return service.Invalid("body", "must contain a single JSON value")
	}
	if !utf8.Valid(data) {
		return notUTF8(data)
	}
	return nil
}

// badTime names the field of struct type t (or a pointer to it, fields of
// embedded structs included) that is a time whose value in the object
// data is not one.
func badTime(data []byte, t reflect.Type) (string, bool) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return "", false
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(data, &fields) != nil {
		return "", false
	}
	for i := range t.NumField() {
		f := t.Field(i)
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if f.Anonymous {
			if name, ok := badTime(data, ft); ok {
				return name, true
			}
			continue
		}
		if ft != reflect.TypeFor[time.Time]() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		for key, raw := range fields {
			if !strings.EqualFold(key, cmp.Or(name, f.Name)) || string(raw) == "null" {
				continue
			}
			var v time.Time
			if json.Unmarshal(raw, &v) != nil {
				return key, true
			}
		}
	}
	return "", false
}

// notUTF8 names the field of a well-formed body that holds invalid UTF-8.
// encoding/json would silently turn such bytes in strings into U+FFFD, so
// a name or description would be stored other than sent; they are
// refused instead, as the service refuses them in event data.
func notUTF8(data []byte) error {
	var fields map[string]json.RawMessage
	if json.Unmarshal(data, &fields) == nil {
		names := make([]string, 0, len(fields))
		for name, v := range fields {
			if !utf8.Valid(v) && utf8.ValidString(name) {
				names = append(names, name)
			}
		}
		if len(names) > 0 {
			slices.Sort(names)
			return service.Invalid(clip(names[0], 64), "must be valid UTF-8")
		}
	}
	return service.Invalid("body", "must be valid UTF-8")
}

// jsonError translates encoding/json's errors into messages naming the
// field, without echoing input back.
func jsonError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return service.Invalid("body", "malformed JSON at offset "+strconv.FormatInt(syn.Offset, 10))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return service.Invalid("body", "malformed JSON: unexpected end")
	case errors.As(err, &typ):
		if typ.Field == "" {
			return service.Invalid("body", "must be a JSON object")
		}
		return service.Invalid(typ.Field, "must be "+describeType(typ.Type))
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		if s, uerr := strconv.Unquote(name); uerr == nil {
			name = s
		}
		return service.Invalid(clip(name, 64), "unknown field")
	}
	return service.Invalid("body", "malformed JSON")
}

func describeType(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == reflect.TypeFor[json.RawMessage]() {
		return "valid JSON"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer in range"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.String {
			return "an array of strings"
		}
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return "of another type"
}

// clip shortens user-supplied text that is echoed in an error message.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}
