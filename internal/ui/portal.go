package ui

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hookd/hookd/internal/service"
	"github.com/hookd/hookd/internal/store"
)

// The customer portal (service.Portal): a SaaS's customer, sent here by a
// one-time link, sees one project's Webhooks pages inside the SaaS's own
// app (an iframe). It is the operator's UI in a portal mode, not a copy:
// the same handlers and templates, with
//
//   - its own session cookie (portalCookie), which works inside a frame on
//     another site without third-party cookies (SameSite=None; Secure;
//     Partitioned: the browser keeps it for that top-level site only);
//   - the pages it may see listed once (portalRoutes): every other page,
//     and every other project's, answers 404;
//   - the scope of its access: manage acts as a project key, view as a
//     read key (every change refused 403, and the pages show no control
//     that changes anything: view.CanChange);
//   - its own chrome (the project's brand: name, logo, accent colour
//     through CSS custom properties served by brandCSS) and its own
//     frame-ancestors (Config.PortalFrameAncestors) on its pages only.

// portalCookie holds the portal session's token. Scoped to Prefix like the
// operator's session cookie; the two never stand for each other (the store
// never returns a portal session as a sign-in).
const portalCookie = "hookd_portal"

// portalRoutes are the pages a portal session may see: one project's
// Integrations › Webhooks. Every other route answers 404 to it.
var portalRoutes = map[string]bool{}

func init() {
	const p = "/ui/projects/{pid}"
	for _, r := range []string{
		"GET /ui/{$}",
		"POST /ui/signout",
		"GET " + p + "/webhooks",
		"GET " + p + "/webhooks/new",
		"POST " + p + "/webhooks",
		"GET " + p + "/webhooks/{eid}",
		"POST " + p + "/webhooks/{eid}/recover",
		"POST " + p + "/webhooks/{eid}/probe",
		"GET " + p + "/webhooks/{eid}/edit",
		"POST " + p + "/webhooks/{eid}",
		"POST " + p + "/webhooks/{eid}/enable",
		"POST " + p + "/webhooks/{eid}/disable",
		"GET " + p + "/webhooks/{eid}/delete",
		"POST " + p + "/webhooks/{eid}/delete",
		"GET " + p + "/webhooks/{eid}/test",
		"POST " + p + "/webhooks/{eid}/test",
		"POST " + p + "/secret/reveal",
		"GET " + p + "/secret/rotate",
		"POST " + p + "/secret/rotate",
		"GET " + p + "/events",
		"GET " + p + "/event-types",
		"GET " + p + "/events/resend",
		"POST " + p + "/events/resend",
		"GET " + p + "/deliveries/{did}",
		"POST " + p + "/deliveries/{did}/resend",
		"GET " + p + "/brand.css",
	} {
		portalRoutes[r] = true
	}
}

// portalView is what the layout shows of a portal session.
type portalView struct {
	Name      string // the brand's name, or the project's
	LogoURL   string
	ReturnURL string
	View      bool // access view: nothing can be changed
	// BrandCSS is the URL of the project's brand stylesheet.
	BrandCSS string
	// Home is the project's Webhooks page, Base its project's pages'
	// path ("" on the closed page).
	Home, Base string
}

var (
	errPortalViewOnly = &pageError{http.StatusForbidden, "View only",
		"This link lets you look at your webhooks, not change them. Ask for a link that can manage them."}
)

// portalStart opens a portal link: the first visit claims its token and
// gives the browser its session cookie, then sends it to the Webhooks
// page (303, a URL without the token, which leaves the address bar and
// the history); a second visit is refused with a page that says so.
func (u *UI) portalStart(w http.ResponseWriter, r *http.Request) {
	r = r.WithContext(service.WithActor(r.Context(), service.Actor{Source: service.SourceOf(r.RemoteAddr)}))
	u.portalHeaders(w, "")
	login, err := u.svc.Portal.Claim(r.Context(), r.PathValue("token"))
	var closed *service.PortalClosed
	if errors.As(err, &closed) {
		u.renderPortalClosed(w, r, closed)
		return
	}
	if err != nil {
		u.renderError(w, r, nil, err)
		return
	}
	setPortalCookie(w, login.Token, login.Session.ExpiresAt.Sub(u.clock.Now()))
	redirect(w, r, Prefix+"projects/"+login.Session.ProjectID+"/webhooks")
}

// portalClosedPage shows why the portal session of the browser ended
// (after a sign-out, for one).
func (u *UI) portalClosedPage(w http.ResponseWriter, r *http.Request) {
	u.portalHeaders(w, "")
	ck, err := r.Cookie(portalCookie)
	if err != nil {
		u.renderPortalClosed(w, r, &service.PortalClosed{Reason: service.PortalSignedOut})
		return
	}
	_, err = u.svc.Portal.Session(r.Context(), ck.Value)
	var closed *service.PortalClosed
	switch {
	case errors.As(err, &closed):
		u.renderPortalClosed(w, r, closed)
	case err == nil:
		redirect(w, r, Prefix)
	default:
		u.renderPortalClosed(w, r, &service.PortalClosed{Reason: service.PortalSignedOut})
	}
}

type portalClosedData struct {
	Heading   string
	Message   string
	ReturnURL string
}

// renderPortalClosed shows the page of a link or session that no longer
// lets the customer in, with the way back, and forgets the cookie.
func (u *UI) renderPortalClosed(w http.ResponseWriter, r *http.Request, c *service.PortalClosed) {
	setPortalCookie(w, "", 0)
	d := portalClosedData{ReturnURL: c.ReturnURL}
	switch c.Reason {
	case service.PortalExpired:
		d.Heading, d.Message = "This link expired", "Links to this page last a limited time. Go back and open it again for a new one."
	case service.PortalUsed:
		d.Heading, d.Message = "This link was already used", "Each link opens this page once. Go back and open it again for a new one."
	case service.PortalRevoked:
		d.Heading, d.Message = "This link was withdrawn", "The access that made this link was revoked. Go back and open it again."
	case service.PortalSignedOut:
		d.Heading, d.Message = "You left the webhooks page", "Go back to open it again."
	default:
		d.Heading, d.Message = "This link is not valid", "Check that you copied the whole link, or go back and open the page again."
	}
	// The project's name and logo, so the customer knows where it was;
	// its colours are for its sessions (brand.css).
	pv := &portalView{ReturnURL: d.ReturnURL}
	if c.ProjectID != "" {
		if p, err := u.svc.Projects.Get(r.Context(), c.ProjectID); err == nil {
			pv.Name = p.Name
		}
		if b, err := u.svc.Portal.Brand(r.Context(), c.ProjectID); err == nil {
			pv.Name = cmp.Or(b.Name, pv.Name)
			pv.LogoURL = b.LogoURL
		}
	}
	u.portalHeaders(w, pv.LogoURL)
	u.render(w, r, nil, http.StatusGone, "portalclosed", view{Title: d.Heading, Data: d, Portal: pv})
}

// setPortalCookie sets (maxAge > 0) or clears the portal session cookie:
// SameSite=None, so the browser sends it inside a frame on the SaaS's
// site; Secure, which SameSite=None needs (browsers take it from http on
// localhost and 127.0.0.1 too, which they count as secure); Partitioned
// (CHIPS), so it is kept for the framing site alone and works where
// third-party cookies are blocked.
func setPortalCookie(w http.ResponseWriter, value string, maxAge time.Duration) {
	c := &http.Cookie{
		Name: portalCookie, Value: value, Path: Prefix, HttpOnly: true,
		Secure: true, SameSite: http.SameSiteNoneMode, Partitioned: true,
	}
	if maxAge > 0 {
		c.MaxAge = int((maxAge + time.Second - 1) / time.Second)
	} else {
		c.MaxAge = -1
	}
	http.SetCookie(w, c)
}

// portalSession finds the browser's portal session, if its cookie names
// one: nil and no error when there is no cookie or it names no session.
func (u *UI) portalSession(r *http.Request) (*request, error) {
	ck, err := r.Cookie(portalCookie)
	if err != nil || ck.Value == "" {
		return nil, nil
	}
	p, err := u.svc.Portal.Session(r.Context(), ck.Value)
	if e, _ := service.AsError(err); err != nil && e.Code == service.CodeUnauthenticated {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	k := service.KeyOf(p)
	s := store.Session{Hash: p.SessionHash, APIKeyID: p.APIKeyID, ProjectID: p.ProjectID, Scope: k.Scope,
		CreatedAt: p.ClaimedAt, ExpiresAt: p.ExpiresAt}
	return &request{session: s, token: ck.Value, csrf: csrfFor(ck.Value), portal: &p}, nil
}

// portalHeaders makes the response a portal page: framable by the
// configured origins only (logoURL's origin may serve its image).
func (u *UI) portalHeaders(w http.ResponseWriter, logoURL string) {
	w.Header().Set("Content-Security-Policy", u.portalCSP(logoURL))
	// X-Frame-Options has no list of origins: frame-ancestors decides.
	w.Header().Del("X-Frame-Options")
}

// portalCSP is the operator pages' policy with the configured
// frame-ancestors ('none' when none are) and, for a brand's logo, its
// origin among the image sources.
func (u *UI) portalCSP(logoURL string) string {
	ancestors := "'none'"
	if len(u.frameAncestors) > 0 {
		ancestors = strings.Join(u.frameAncestors, " ")
	}
	img := "'self'"
	if o := originOf(logoURL); o != "" {
		img += " " + o
	}
	return "default-src 'none'; script-src 'self'; style-src 'self'; img-src " + img + "; " +
		"connect-src 'self'; form-action 'self'; frame-ancestors " + ancestors + "; base-uri 'none'"
}

// originOf is the https origin of a URL ("" for anything else).
func originOf(v string) string {
	pu, err := url.Parse(v)
	if err != nil || pu.Scheme != "https" || pu.Host == "" || strings.ContainsAny(pu.Host, " ;,'\"") {
		return ""
	}
	return "https://" + pu.Host
}

// CheckFrameAncestors checks the origins a portal may be framed by
// (--portal-frame-ancestors): each a scheme and host (and port), such as
// https://app.example.com, or a CSP host source with a wildcard
// (https://*.example.com).
func CheckFrameAncestors(origins []string) error {
	for _, o := range origins {
		pu, err := url.Parse(o)
		if err != nil || (pu.Scheme != "https" && pu.Scheme != "http") || pu.Host == "" ||
			(pu.Path != "" && pu.Path != "/") || pu.RawQuery != "" || pu.Fragment != "" || pu.User != nil ||
			strings.ContainsAny(o, " ;,'\"") {
			return fmt.Errorf("portal frame ancestor %q: want an origin such as https://app.example.com", o)
		}
	}
	return nil
}

// inPortal limits a portal session to portalRoutes and its access; other
// sessions pass.
func inPortal(r *http.Request, c *request) error {
	if c.portal == nil {
		return nil
	}
	if !portalRoutes[r.Pattern] {
		return errPageNotFound
	}
	if c.portal.Access != service.PortalManage && r.Pattern != "POST /ui/signout" &&
		(r.Method == http.MethodPost || changeForms[r.Pattern]) {
		return errPortalViewOnly
	}
	return nil
}

// changeForms are the pages that are only a form that changes something:
// a view-only portal session is refused them, as their posts.
var changeForms = map[string]bool{
	"GET /ui/projects/{pid}/webhooks/new":          true,
	"GET /ui/projects/{pid}/webhooks/{eid}/edit":   true,
	"GET /ui/projects/{pid}/webhooks/{eid}/delete": true,
	"GET /ui/projects/{pid}/webhooks/{eid}/test":   true,
	"GET /ui/projects/{pid}/secret/rotate":         true,
	"GET /ui/projects/{pid}/events/resend":         true,
}

// portalSignout ends the portal session; the page it leads to says so,
// with the way back.
func (u *UI) portalSignout(w http.ResponseWriter, r *http.Request, c *request) error {
	if err := u.svc.Portal.End(r.Context(), *c.portal); err != nil {
		return err
	}
	redirect(w, r, Prefix+"portal/closed")
	return nil
}

// brandCSS is the project's portal brand as CSS custom properties: a
// stylesheet of this origin, so the CSP needs no inline style.
func (u *UI) brandCSS(w http.ResponseWriter, r *http.Request, c *request) error {
	b, err := u.svc.Portal.Brand(r.Context(), c.project.ID)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "private, no-cache")
	_, _ = fmt.Fprint(w, brandStylesheet(b))
	return nil
}

// brandStylesheet: the accent and the shades the stylesheet derives from
// it. AccentColor is validated as #rrggbb by the service; anything else
// gives an empty sheet. A brand colour is the customer's choice, and
// readability is ours: --on-accent (text on the accent, the primary
// button's) is white or near-black, whichever reads, and --accent-ink
// (links, the accent as text) is the accent darkened, or in dark mode
// lightened, until it keeps 4.5:1 against the page (WCAG AA).
func brandStylesheet(b service.PortalBrand) string {
	var r, g, bl int
	if n, err := fmt.Sscanf(b.AccentColor, "#%02x%02x%02x", &r, &g, &bl); err != nil || n != 3 || len(b.AccentColor) != 7 {
		return "/* no brand colour */\n"
	}
	c := [3]int{r, g, bl}
	light := [3]int{255, 255, 255}   // --surface, light
	dark := [3]int{0x17, 0x1a, 0x20} // --surface, dark
	darkAccent := mixRGB(c, light, 0.25)
	block := func(accent, page, towards [3]int, hover, soft [3]int) string {
		return fmt.Sprintf("  --accent: %s;\n  --accent-hover: %s;\n  --accent-soft: %s;\n  --focus: %s;\n  --on-accent: %s;\n  --accent-ink: %s;\n",
			hexOf(accent), hexOf(hover), hexOf(soft), hexOf(accent), hexOf(onAccent(accent)), hexOf(readableOn(accent, page, towards)))
	}
	return ":root {\n" + block(c, light, [3]int{0, 0, 0}, mixRGB(c, [3]int{0, 0, 0}, 0.15), mixRGB(c, light, 0.9)) + "}\n" +
		"@media (prefers-color-scheme: dark) {\n  :root {\n" +
		indent(block(darkAccent, dark, light, mixRGB(c, light, 0.4), mixRGB(c, [3]int{23, 23, 23}, 0.8))) + "  }\n}\n"
}

func indent(s string) string {
	return strings.ReplaceAll(strings.TrimSuffix("  "+s, "  "), "\n  --", "\n    --")
}

func mixRGB(c, to [3]int, f float64) [3]int {
	var out [3]int
	for i := range 3 {
		out[i] = int(float64(c[i]) + (float64(to[i])-float64(c[i]))*f + 0.5)
	}
	return out
}

func hexOf(c [3]int) string { return fmt.Sprintf("#%02x%02x%02x", c[0], c[1], c[2]) }

// luminance is WCAG's relative luminance of an sRGB colour.
func luminance(c [3]int) float64 {
	var l [3]float64
	for i, v := range c {
		x := float64(v) / 255
		if x <= 0.03928 {
			l[i] = x / 12.92
		} else {
			l[i] = math.Pow((x+0.055)/1.055, 2.4)
		}
	}
	return 0.2126*l[0] + 0.7152*l[1] + 0.0722*l[2]
}

// contrastRatio is WCAG's contrast between two colours (1 to 21).
func contrastRatio(a, b [3]int) float64 {
	la, lb := luminance(a), luminance(b)
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

// onAccent is the text colour that reads on accent: white when it
// keeps 4.5:1, else near-black (one of the two always does).
func onAccent(accent [3]int) [3]int {
	if white := [3]int{255, 255, 255}; contrastRatio(white, accent) >= 4.5 {
		return white
	}
	return [3]int{0x11, 0x11, 0x11}
}

// readableOn moves c towards towards (black on a light page, white on a
// dark one) until it keeps 4.5:1 against page.
func readableOn(c, page, towards [3]int) [3]int {
	for f := 0.0; f < 1; f += 0.05 {
		if m := mixRGB(c, towards, f); contrastRatio(m, page) >= 4.5 {
			return m
		}
	}
	return towards
}

// portalViewOf is the layout's portal chrome for c.
func (u *UI) portalViewOf(r *http.Request, c *request) *portalView {
	pid := c.portal.ProjectID
	pv := &portalView{Name: c.project.Name, ReturnURL: c.portal.ReturnURL, View: c.portal.Access != service.PortalManage,
		Base: Prefix + "projects/" + pid, Home: Prefix + "projects/" + pid + "/webhooks", BrandCSS: Prefix + "projects/" + pid + "/brand.css"}
	if pv.Name == "" {
		// An error page before the project was read (another
		// project's id, say): the portal's own project names it.
		if p, err := u.svc.Projects.Get(r.Context(), pid); err == nil {
			pv.Name = p.Name
		}
	}
	if b, err := u.svc.Portal.Brand(r.Context(), pid); err == nil {
		if b.Name != "" {
			pv.Name = b.Name
		}
		pv.LogoURL = b.LogoURL
		if b.AccentColor != "" {
			pv.BrandCSS += "?v=" + strings.TrimPrefix(b.AccentColor, "#")
		}
	}
	return pv
}
