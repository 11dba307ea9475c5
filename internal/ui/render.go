package ui

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"iter"
	"math"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hookd/hookd/internal/service"
	"github.com/hookd/hookd/internal/store"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// view is what every page template gets.
type view struct {
	Title   string
	Nav     string // the tab to highlight: "projects", "webhooks", "events"
	Now     time.Time
	Signed  bool // a session exists: show the sign-out button
	Admin   bool
	CSRF    string
	Project store.Project // zero outside a project
	Flash   string        // a message about what was just done
	// FlashProblem shows Flash as a problem: nothing was done.
	FlashProblem bool
	// CanChange: the session's scope lets it change things (project or
	// admin); pages show no control that changes anything otherwise.
	CanChange bool
	// Portal is the customer portal's chrome (portal.go); nil for the
	// operator's pages.
	Portal *portalView
	Data   any
}

// pages are the parsed templates, one set per page (each page defines
// "content" inside the shared layout).
type pages struct {
	byName map[string]*template.Template
}

func parsePages() (*pages, error) {
	// The layout and the parts every page may use (part_*.html).
	base, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/part_*.html")
	if err != nil {
		return nil, err
	}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	p := &pages{byName: map[string]*template.Template{}}
	for _, n := range names {
		name := strings.TrimSuffix(path.Base(n), ".html")
		if name == "layout" || strings.HasPrefix(name, "part_") {
			continue
		}
		t, err := base.Clone()
		if err != nil {
			return nil, err
		}
		if _, err := t.ParseFS(templateFS, n); err != nil {
			return nil, err
		}
		p.byName[name] = t
	}
	return p, nil
}

// render writes page name with status. The page is rendered into a buffer
// first, so a template failure becomes an error page, not half a page.
func (u *UI) render(w http.ResponseWriter, r *http.Request, c *request, status int, name string, v view) {
	t, ok := u.page(w, r, c, name, &v)
	if !ok {
		return
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", v); err != nil {
		u.log.ErrorContext(r.Context(), "ui: rendering failed", "page", name, "err", err)
		if name != "error" {
			u.renderError(w, r, c, errInternal)
		}
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes()) // a failed write means the browser left
}

// streamBuffer is what renderStreamed holds of a page while it writes it.
const streamBuffer = 32 << 10

// renderStreamed writes page name with status as it renders it, through a
// buffer of streamBuffer bytes: for a page whose size is a tenant's to
// choose (the delivery page shows an event's body), so that it is never
// held whole. The caller loads everything the page shows first, and
// answers an error status itself when it cannot; once the status is sent,
// a template failure can only cut the page short (and is logged).
func (u *UI) renderStreamed(w http.ResponseWriter, r *http.Request, c *request, status int, name string, v view) {
	t, ok := u.page(w, r, c, name, &v)
	if !ok {
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	bw := bufio.NewWriterSize(w, streamBuffer)
	err := t.ExecuteTemplate(bw, "layout.html", v)
	if err == nil {
		err = bw.Flush()
	}
	if err != nil && r.Context().Err() == nil {
		u.log.ErrorContext(r.Context(), "ui: rendering failed after the page was begun", "page", name, "err", err)
	}
}

// page finds page name's template and fills in what every page shows
// (and the portal's headers); without the template it answers the error
// page and returns false.
func (u *UI) page(w http.ResponseWriter, r *http.Request, c *request, name string, v *view) (*template.Template, bool) {
	t, ok := u.pages.byName[name]
	if !ok {
		u.log.ErrorContext(r.Context(), "ui: no such template", "name", name)
		u.renderError(w, r, c, errInternal)
		return nil, false
	}
	v.Now = u.clock.Now()
	if c != nil {
		v.Signed, v.Admin, v.CSRF = true, c.admin(), c.csrf
		if v.Project.ID == "" {
			v.Project = c.project
		}
		if v.Flash == "" {
			v.Flash, v.FlashProblem = c.flash.Message, c.flash.Problem
		}
		v.CanChange = service.Require(c.key(), service.ScopeProject) == nil
		if c.portal != nil {
			v.Portal = u.portalViewOf(r, c)
			u.portalHeaders(w, v.Portal.LogoURL)
		}
	}
	return t, true
}

// renderError shows err as a page; errors the user cannot act on are
// logged and shown only as "something went wrong".
func (u *UI) renderError(w http.ResponseWriter, r *http.Request, c *request, err error) {
	e, internal := asPageError(err)
	if internal {
		u.log.ErrorContext(r.Context(), "ui: internal error", "method", r.Method, "route", r.Pattern, "err", err)
	}
	if wantsJSON(r) {
		writeJSON(w, e.Status, map[string]string{"error": e.Message})
		return
	}
	u.render(w, r, c, e.Status, "error", view{Title: e.Title, Data: e})
}

// assetVersions are short hashes of the static files, added to their URLs
// so browsers may cache them for good and still get a new version at once.
var assetVersions = func() map[string]string {
	m := map[string]string{}
	_ = fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := staticFS.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		m[path.Base(p)] = hex.EncodeToString(sum[:6])
		return nil
	})
	return m
}()

func staticHandler() http.Handler {
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		panic(err) // the embedded tree always has it
	}
	files := http.StripPrefix(Prefix+"static/", http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if v := r.URL.Query().Get("v"); v != "" && v == assetVersions[path.Base(r.URL.Path)] {
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		}
		files.ServeHTTP(w, r)
	})
}

var funcs = template.FuncMap{
	"asset": func(name string) string {
		return Prefix + "static/" + name + "?v=" + assetVersions[name]
	},
	"at":          func(now, t time.Time) timeView { return timeView{Now: now, T: t} },
	"ago":         ago,
	"utc":         utc,
	"iso":         isoMillis,
	"statusWord":  statusWord,
	"duration":    formatDuration,
	"prettyJSON":  prettyJSON,
	"pretty":      prettyChunks,
	"bodyCut":     bodyCut,
	"bytesSize":   bytesSize,
	"join":        strings.Join,
	"statusText":  http.StatusText,
	"codeClass":   codeClass,
	"truncate":    truncate,
	"pluralize":   pluralize,
	"grouped":     grouped[int],
	"percent":     percent,
	"health":      endpointHealth,
	"heldWhy":     heldWhy,
	"insecure":    func(url string) bool { return strings.HasPrefix(strings.ToLower(strings.TrimSpace(url)), "http://") },
	"projectPath": func(p store.Project) string { return Prefix + "projects/" + p.ID },
}

// timeView is a time shown relative to Now, exact in UTC on hover.
type timeView struct {
	Now, T time.Time
}

func utc(t time.Time) string {
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// ago says how long before now t was, the way people say it: "just now",
// "5 min ago", "in 3 h"; past a month, the date.
func ago(now, t time.Time) string {
	d := now.Sub(t)
	future := d < 0
	if future {
		d = -d
	}
	var s string
	switch {
	case d < 5*time.Second:
		return "just now"
	case d < time.Minute:
		s = fmt.Sprintf("%d s", int(d/time.Second))
	case d < time.Hour:
		s = fmt.Sprintf("%d min", int(d/time.Minute))
	case d < 48*time.Hour:
		s = fmt.Sprintf("%d h", int(d/time.Hour))
	case d < 30*24*time.Hour:
		s = fmt.Sprintf("%d days", int(d/(24*time.Hour)))
	default:
		return t.UTC().Format("2 Jan 2006")
	}
	if future {
		return "in " + s
	}
	return s + " ago"
}

// statusWord is a delivery status as people say it.
func statusWord(status string) string {
	switch status {
	case store.StatusPending:
		return "Pending"
	case store.StatusHeld:
		return "Held"
	case store.StatusDelivering:
		return "Sending"
	case store.StatusSucceeded:
		return "Succeeded"
	case store.StatusRetrying:
		return "Retrying"
	case store.StatusFailed:
		return "Failed"
	case store.StatusCancelled:
		return "Cancelled"
	}
	return status
}

// heldWhy says why a held delivery waits and when it goes, as the log,
// the delivery page and the health page all say it: "Held: breaker open,
// next probe in 12 s".
func heldWhy(now time.Time, h store.Hold) string {
	switch h.Reason {
	case store.HeldOrdering:
		return "Held: ordered, waiting for the delivery before it of its ordering key"
	case store.HeldBreakerOpen:
		return "Held: breaker open, next probe " + until(now, h.Until)
	case store.HeldRateLimit:
		return "Held: rate limit, waiting for a send slot"
	case store.HeldConcurrencyLimit:
		return "Held: concurrency limit, waiting for a request to finish"
	}
	return ""
}

// codeClass colours an HTTP status code: 2xx good, anything else bad, no
// response at all neutral.
func codeClass(code int) string {
	switch {
	case code == 0:
		return "code-none"
	case code >= 200 && code < 300:
		return "code-ok"
	case code >= 300 && code < 500:
		return "code-warn"
	}
	return "code-bad"
}

func formatDuration(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%d µs", d/time.Microsecond)
	case d < 10*time.Second:
		return fmt.Sprintf("%d ms", d/time.Millisecond)
	}
	return fmt.Sprintf("%.1f s", d.Seconds())
}

// percent shows a rate of 0 to 1 as people read it: "100 %", "99.8 %",
// "0 %"; a rate just short of 1 is never rounded up to 100.
func percent(r float64) string {
	p := r * 100
	switch {
	case p >= 100:
		return "100 %"
	case p >= 99.9:
		return "99.9 %"
	case p > 0 && p < 0.1:
		return "< 0.1 %"
	case p == math.Trunc(p):
		return fmt.Sprintf("%.0f %%", p)
	}
	return fmt.Sprintf("%.1f %%", p)
}

func truncate(n int, s string) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

func pluralize(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return grouped(n) + " " + many
}

// grouped writes n with its thousands grouped (1,000 and 10,000 rather
// than 1000 and 10000), as a person reads a count.
func grouped[N int | int64](n N) string {
	s := strconv.FormatInt(int64(n), 10)
	sign := ""
	if n < 0 {
		sign, s = "-", s[1:]
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return sign + s
}

// prettyMaxDepth and prettyMaxBytes bound what prettyJSON makes: indenting
// grows with depth times size (a 40 KB body 9,990 levels deep made 200 MB).
// prettyChunk is the size of the pieces prettyChunks hands out.
const (
	prettyMaxDepth = 32
	prettyMaxBytes = 512 << 10
	prettyChunk    = 8 << 10
)

// prettyJSON indents a JSON document for reading; anything else, a
// document nested deeper than prettyMaxDepth or one whose indented form
// would pass prettyMaxBytes is shown as it is, cut at prettyMaxBytes.
func prettyJSON(b []byte) string {
	var out strings.Builder
	for s := range prettyChunks(b) {
		out.WriteString(s)
	}
	return out.String()
}

// prettyChunks is prettyJSON(b) in pieces of about prettyChunk bytes, each
// made when it is asked for: a page ranging over it streams the indented
// body without ever holding it whole.
func prettyChunks(b []byte) iter.Seq[string] {
	return func(yield func(string) bool) {
		if jsonDepth(b) > prettyMaxDepth || !json.Valid(b) || !indentedWithin(b, prettyMaxBytes) {
			rawChunks(b, yield)
			return
		}
		indentJSON(b, make([]byte, 0, prettyChunk+128), func(p []byte) bool { return yield(string(p)) })
	}
}

// indentedWithin tells whether the indented form of JSON text b (valid)
// takes at most n bytes, without making it.
func indentedWithin(b []byte, n int) bool {
	size := 0
	return indentJSON(b, make([]byte, 0, prettyChunk+128), func(p []byte) bool {
		size += len(p)
		return size <= n
	})
}

// indentJSON makes what json.Indent(dst, b, "", "  ") makes of JSON text b
// (valid, nested at most prettyMaxDepth deep) a piece at a time: flush
// gets each piece of at least prettyChunk bytes, then the rest, in buf
// (reused: flush must not keep it). It stops when flush returns false and
// tells whether every piece was taken.
func indentJSON(b, buf []byte, flush func([]byte) bool) bool {
	dst := buf[:0]
	depth, needIndent, inString := 0, false, false
	newline := func(dst []byte, depth int) []byte {
		dst = append(dst, '\n')
		for range depth {
			dst = append(dst, "  "...)
		}
		return dst
	}
	// Space after the document is kept as it is, as json.Indent keeps it.
	end := len(bytes.TrimRight(b, " \t\n\r"))
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case i >= end:
			dst = append(dst, c)
		case inString:
			dst = append(dst, c)
			if c == '\\' && i+1 < len(b) {
				i++
				dst = append(dst, b[i])
			} else if c == '"' {
				inString = false
			}
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			continue
		default:
			if needIndent && c != '}' && c != ']' {
				// Delayed, so that empty objects and arrays stay {} and [].
				needIndent = false
				depth++
				dst = newline(dst, depth)
			}
			switch c {
			case '"':
				inString = true
				dst = append(dst, c)
			case '{', '[':
				needIndent = true
				dst = append(dst, c)
			case ',':
				dst = newline(append(dst, c), depth)
			case ':':
				dst = append(dst, c, ' ')
			case '}', ']':
				if needIndent {
					needIndent = false
				} else {
					depth--
					dst = newline(dst, depth)
				}
				dst = append(dst, c)
			default:
				dst = append(dst, c)
			}
		}
		if len(dst) >= prettyChunk {
			if !flush(dst) {
				return false
			}
			dst = dst[:0]
		}
	}
	return len(dst) == 0 || flush(dst)
}

// rawChunks hands out b as it is, or cut at prettyMaxBytes with " …"
// (and its invalid UTF-8 dropped, as the cut may split a character), in pieces of at most prettyChunk bytes that
// never split a character.
func rawChunks(b []byte, yield func(string) bool) {
	cut := len(b) > prettyMaxBytes
	if cut {
		b = b[:prettyMaxBytes-len(" …")]
	}
	for len(b) > 0 {
		n := min(len(b), prettyChunk)
		// A piece ends before a byte that starts a character: a valid
		// character never spans two pieces. (Four continuation bytes
		// in a row belong to none.)
		for back := 0; back < 3 && n < len(b) && n > 1 && !utf8.RuneStart(b[n]); back++ {
			n--
		}
		piece := string(b[:n])
		if cut {
			piece = strings.ToValidUTF8(piece, "")
		}
		if !yield(piece) {
			return
		}
		b = b[n:]
	}
	if cut {
		yield(" …")
	}
}

// jsonDepth is the deepest nesting of arrays and objects in JSON text b.
func jsonDepth(b []byte) int {
	depth, deepest, inString := 0, 0, false
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case inString:
		case c == '[' || c == '{':
			depth++
			deepest = max(deepest, depth)
		case c == ']' || c == '}':
			depth--
		}
	}
	return deepest
}

// Favicon serves the UI's icon (an SVG drawn for hookd) where browsers
// ask for it without being told: mount it at /favicon.ico.
func Favicon() http.Handler {
	b, err := staticFS.ReadFile("static/favicon.svg")
	if err != nil {
		panic(err) // embedded
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/svg+xml")
		w.Header().Set("Cache-Control", "public, max-age=86400")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		_, _ = w.Write(b)
	})
}
