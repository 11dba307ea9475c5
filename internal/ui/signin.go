package ui

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hookd/hookd/internal/service"
	"github.com/hookd/hookd/internal/store"
)

// home sends the admin to the projects and a project key to its project.
func (u *UI) home(w http.ResponseWriter, r *http.Request, c *request) error {
	if c.admin() {
		redirect(w, r, Prefix+"projects")
	} else {
		redirect(w, r, Prefix+"projects/"+c.session.ProjectID+"/webhooks")
	}
	return nil
}

type signinData struct {
	CSRF  string
	Error string
	TTL   string
}

func (u *UI) signinForm(w http.ResponseWriter, r *http.Request) error {
	if _, err := u.session(r); err == nil {
		redirect(w, r, Prefix)
		return nil
	}
	u.showSignin(w, r, http.StatusOK, "")
	return nil
}

func (u *UI) showSignin(w http.ResponseWriter, r *http.Request, status int, msg string) {
	data := signinData{CSRF: csrfFor(signinToken(w, r)), Error: msg, TTL: formatTTL(u.sessionTTL)}
	u.render(w, r, nil, status, "signin", view{Title: "Sign in", Data: data})
}

// errBadKey is all a failed sign-in says: which keys exist is nobody's
// business.
const errBadKey = "This key is not valid, or it was revoked."

// errPublishKey: a key that can only publish has no page to see.
const errPublishKey = "This key can only publish events, so it cannot sign in. Sign in with a key of scope read, project or admin."

// signin turns a valid API key into a session.
func (u *UI) signin(w http.ResponseWriter, r *http.Request) error {
	ck, err := r.Cookie(signinCookie)
	if err != nil || !checkCSRF(r, ck.Value) {
		// No sign-in cookie: the form was not loaded in this browser
		// (or cookies are off); show a fresh one.
		u.showSignin(w, r, http.StatusForbidden, "The form expired. Please sign in again.")
		return nil
	}
	key := strings.TrimSpace(r.PostFormValue("key"))
	k, err := u.svc.Keys.SignIn(r.Context(), key)
	e, _ := service.AsError(err)
	if err != nil && e.Code == service.CodeRateLimited {
		secs := max(1, int(e.RetryAfter/time.Second))
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		u.showSignin(w, r, http.StatusTooManyRequests, "Too many failed sign-ins from your address. "+
			"Try again in "+pluralize(secs, "second", "seconds")+".")
		return nil
	}
	if err != nil && e.Code != service.CodeUnauthenticated {
		return err // the database, not the key
	}
	if err != nil {
		u.showSignin(w, r, http.StatusUnauthorized, errBadKey)
		return nil
	}
	if service.Require(k, service.ScopeRead) != nil {
		u.showSignin(w, r, http.StatusForbidden, errPublishKey)
		return nil
	}
	now := u.clock.Now()
	token := newToken()
	s := store.Session{Hash: hashToken(token), APIKeyID: k.ID, CreatedAt: now, ExpiresAt: now.Add(u.sessionTTL)}
	if err := u.sessions.CreateSession(r.Context(), s); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			// The key was deleted between the check and now.
			u.showSignin(w, r, http.StatusUnauthorized, errBadKey)
			return nil
		}
		return err
	}
	setCookie(w, r, signinCookie, "", 0)
	setCookie(w, r, sessionCookie, token, u.sessionTTL)
	redirect(w, r, Prefix)
	return nil
}

// signout ends the session here and in the database.
func (u *UI) signout(w http.ResponseWriter, r *http.Request, c *request) error {
	if c.portal != nil {
		return u.portalSignout(w, r, c)
	}
	if err := u.sessions.DeleteSession(r.Context(), c.session.Hash); err != nil {
		return err
	}
	setCookie(w, r, sessionCookie, "", 0)
	redirect(w, r, Prefix+"signin")
	return nil
}

// formatTTL says how long a session lasts: "12 hours", "90 minutes".
func formatTTL(d time.Duration) string {
	if d >= time.Hour && d%time.Hour == 0 {
		return pluralize(int(d/time.Hour), "hour", "hours")
	}
	return pluralize(int(d/time.Minute), "minute", "minutes")
}
