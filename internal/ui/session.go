package ui

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/hookd/hookd/internal/service"
	"github.com/hookd/hookd/internal/store"
)

// Cookies of the UI. Both are scoped to Prefix.
const (
	sessionCookie = "hookd_session"
	// signinCookie holds the token the sign-in form's CSRF field is
	// checked against, before there is a session.
	signinCookie = "hookd_signin"
	csrfField    = "csrf"
)

// newToken is 32 random bytes, URL-safe: a session or sign-in token.
func newToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails; it aborts the program instead
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// hashToken is what the database keeps of a session token. A fast hash is
// enough: the token has 256 random bits.
func hashToken(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

// csrfFor is the CSRF token of a session (or sign-in) token: an HMAC keyed
// by it, so a page's CSRF token reveals nothing of the cookie, and a site
// that cannot read the cookie cannot make the token.
func csrfFor(token string) string {
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte("hookd ui csrf v1"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// checkCSRF reports whether the form's CSRF field matches token.
func checkCSRF(r *http.Request, token string) bool {
	got := r.PostFormValue(csrfField)
	return token != "" && got != "" && hmac.Equal([]byte(got), []byte(csrfFor(token)))
}

// secure tells whether cookies must be Secure: served over TLS here, or
// behind a proxy that says it terminated TLS. Trusting the header can only
// make a cookie stricter, never looser.
func secure(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

func setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge time.Duration) {
	c := &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     Prefix,
		HttpOnly: true,
		Secure:   secure(r),
		SameSite: http.SameSiteStrictMode,
	}
	if maxAge > 0 {
		c.MaxAge = int(maxAge / time.Second)
	} else {
		c.MaxAge = -1
	}
	http.SetCookie(w, c)
}

// request is what a handler knows about the signed-in caller.
type request struct {
	session store.Session
	token   string // the session token from the cookie
	csrf    string // the CSRF token forms carry
	// project is the checked {pid} for project pages.
	project store.Project
	// flash is the one-time result the URL names (see done); a page
	// that shows it elsewhere than at the top clears Message.
	flash flash
	// portal is the customer portal session (portal.go); nil for an
	// operator's sign-in.
	portal *service.PortalSession
}

// admin reports whether the caller signed in with the admin key.
func (c *request) admin() bool { return c.session.ProjectID == "" }

// key is the key the caller signed in with, as far as the service needs
// it to decide what the caller may do.
func (c *request) key() service.APIKey {
	return service.APIKey{ID: c.session.APIKeyID, ProjectID: c.session.ProjectID, Scope: c.session.Scope}
}

type handlerFunc func(w http.ResponseWriter, r *http.Request, c *request) error

// public serves a page that needs no session.
func (u *UI) public(h func(w http.ResponseWriter, r *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r = r.WithContext(service.WithActor(r.Context(), service.Actor{Source: service.SourceOf(r.RemoteAddr)}))
		if err := u.checkPost(r, ""); err != nil {
			u.renderError(w, r, nil, err)
			return
		}
		if err := h(w, r); err != nil {
			u.renderError(w, r, nil, err)
		}
	}
}

// signedIn serves a page for a valid session; without one the browser
// goes to the sign-in page. A POST must carry the session's CSRF token
// and come from this origin.
//
// The key's scope must cover the page: read for a GET, project for a POST
// (a change); signedInAnyScope serves what every session may do.
func (u *UI) signedIn(h handlerFunc) http.HandlerFunc {
	return u.signedInAnyScope(func(w http.ResponseWriter, r *http.Request, c *request) error {
		need := service.ScopeRead
		if r.Method == http.MethodPost {
			need = service.ScopeProject
		}
		if err := service.Require(c.key(), need); err != nil {
			return err
		}
		return h(w, r, c)
	})
}

// signedInAnyScope is signedIn for any scope (signing out).
func (u *UI) signedInAnyScope(h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := u.session(r)
		var closed *service.PortalClosed
		if errors.As(err, &closed) {
			if wantsJSON(r) {
				writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "This page's link has ended. Go back and open it again."})
				return
			}
			u.renderPortalClosed(w, r, closed)
			return
		}
		if errors.Is(err, errSignedOut) {
			setCookie(w, r, sessionCookie, "", 0)
			if wantsJSON(r) {
				// The page's script: say so instead of answering
				// with the sign-in page.
				writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "You were signed out. Reload the page to sign in again."})
				return
			}
			redirect(w, r, Prefix+"signin")
			return
		}
		if err == nil {
			// Who acts from where, for the audit trail.
			a := service.Actor{KeyID: c.session.APIKeyID, Source: service.SourceOf(r.RemoteAddr)}
			if c.portal != nil {
				a.PortalID = c.portal.ID
			}
			r = r.WithContext(service.WithActor(r.Context(), a))
			err = u.checkPost(r, c.token)
		}
		if err == nil {
			err = inPortal(r, c)
		}
		if err == nil {
			c.flash, err = u.takeFlash(r, c)
		}
		if err == nil {
			err = h(w, r, c)
		}
		if err != nil {
			u.renderError(w, r, c, err)
		}
	}
}

// inProject checks the {pid} of a project page. A project key gets 404
// for another project, as for one that does not exist, so it cannot learn
// which exist.
func (u *UI) inProject(h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, c *request) error {
		pid := r.PathValue("pid")
		if !c.admin() && c.session.ProjectID != pid {
			return errProjectNotFound
		}
		p, err := u.svc.Projects.Get(r.Context(), pid)
		if err != nil {
			return notFoundAs(err, errProjectNotFound)
		}
		c.project = p
		return h(w, r, c)
	}
}

// adminOnly is signedIn for what only the admin key may do.
func (u *UI) adminOnly(h handlerFunc) http.HandlerFunc {
	return u.signedIn(func(w http.ResponseWriter, r *http.Request, c *request) error {
		if !c.admin() {
			return errAdminOnly
		}
		return h(w, r, c)
	})
}

var errSignedOut = errors.New("signed out")

// session finds the caller's session from the cookie: a portal session
// first (portal.go), then an operator's sign-in. A portal session that
// ended is a *service.PortalClosed error.
func (u *UI) session(r *http.Request) (*request, error) {
	pc, err := u.portalSession(r)
	if err != nil {
		var closed *service.PortalClosed
		if !errors.As(err, &closed) {
			return nil, err
		}
		// An operator signed in beside it keeps the operator's pages.
		if c, oerr := u.operatorSession(r); oerr == nil {
			return c, nil
		}
		return nil, err
	}
	if pc != nil {
		return pc, nil
	}
	return u.operatorSession(r)
}

// operatorSession finds the caller's sign-in from its cookie.
func (u *UI) operatorSession(r *http.Request) (*request, error) {
	ck, err := r.Cookie(sessionCookie)
	if err != nil || ck.Value == "" || len(ck.Value) > 100 {
		return nil, errSignedOut
	}
	s, err := u.sessions.GetSession(r.Context(), hashToken(ck.Value), u.clock.Now())
	if errors.Is(err, store.ErrNotFound) {
		return nil, errSignedOut
	}
	if err != nil {
		return nil, err
	}
	return &request{session: s, token: ck.Value, csrf: csrfFor(ck.Value)}, nil
}

// checkPost refuses a state-changing request that another site made (the
// browser's Origin and Sec-Fetch-Site say so) or that lacks the CSRF token
// of token. Other methods pass.
func (u *UI) checkPost(r *http.Request, token string) error {
	if r.Method != http.MethodPost {
		return nil
	}
	if err := u.crossOrigin.Check(r); err != nil {
		return errForbidden
	}
	if token == "" {
		return nil // the sign-in form checks its own token
	}
	if !checkCSRF(r, token) {
		return errForbidden
	}
	return nil
}

// signinToken returns the sign-in token of the browser, making one (and
// its cookie) when it has none, for the sign-in form's CSRF field.
func signinToken(w http.ResponseWriter, r *http.Request) string {
	if ck, err := r.Cookie(signinCookie); err == nil && len(ck.Value) >= 40 && len(ck.Value) <= 100 {
		return ck.Value
	}
	t := newToken()
	setCookie(w, r, signinCookie, t, time.Hour)
	return t
}
