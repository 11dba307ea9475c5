package service

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/store"
)

// The customer portal: a SaaS, holding a project key, asks for a link for
// one of its customers (Portal.Create); the customer's browser opens it
// once (Portal.Claim), which gives it a session (Portal.Session) on that
// project's Webhooks pages, until the link's expiry, a sign-out
// (Portal.End) or the revocation of the key that made it, whichever
// comes first. The UI serves the pages; the rules are here.

// PortalSession is a customer's portal session as stored.
type PortalSession = store.PortalSession

// PortalBrand is how a project's portal looks.
type PortalBrand = store.PortalBrand

// Portal access: what the customer may do.
const (
	// PortalManage: everything the Webhooks pages offer (scope project
	// within the one project).
	PortalManage = "manage"
	// PortalView: see everything, change nothing (scope read).
	PortalView = "view"
)

// Bounds of a portal session's life.
const (
	MinPortalTTL     = time.Minute
	MaxPortalTTL     = 7 * 24 * time.Hour
	DefaultPortalTTL = time.Hour
)

// maxReturnURL bounds a return URL; maxBrandName a portal's shown name.
const (
	maxReturnURL = 2000
	maxBrandName = 100
)

// Portal makes and checks customer portal sessions.
type Portal struct {
	c *core
}

// CreatePortalSession is the input of Portal.Create.
type CreatePortalSession struct {
	// TTLSeconds is how long the link and its session last, from now:
	// MinPortalTTL to MaxPortalTTL; 0 is DefaultPortalTTL.
	TTLSeconds int
	// Access is PortalManage or PortalView. Required: what a customer
	// may change is never a default.
	Access string
	// ReturnURL, optional, is where the portal sends the customer back
	// to (the SaaS's settings page): an https URL, or http on a loopback
	// host (for development).
	ReturnURL string
}

// Validate checks the input, naming the field at fault.
func (in CreatePortalSession) Validate() error {
	if in.TTLSeconds != 0 && (in.TTLSeconds < int(MinPortalTTL/time.Second) || in.TTLSeconds > int(MaxPortalTTL/time.Second)) {
		return Invalid("ttl_seconds", "must be "+strconv.Itoa(int(MinPortalTTL/time.Second))+" to "+
			strconv.Itoa(int(MaxPortalTTL/time.Second))+" seconds (one minute to seven days), or left out for one hour")
	}
	if in.Access != PortalManage && in.Access != PortalView {
		return Invalid("access", `must be "manage" (the customer may change its endpoints) or "view" (it may only look)`)
	}
	if in.ReturnURL != "" {
		if err := checkBrowserURL("return_url", in.ReturnURL, true); err != nil {
			return err
		}
	}
	return nil
}

// checkBrowserURL checks a URL that only a browser fetches or goes to: an
// absolute https URL without credentials; with loopbackHTTP, http on a
// loopback host too.
func checkBrowserURL(field, v string, loopbackHTTP bool) error {
	if len(v) > maxReturnURL {
		return Invalid(field, "must be at most "+strconv.Itoa(maxReturnURL)+" characters")
	}
	u, err := url.Parse(v)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return Invalid(field, "must be an absolute URL, such as https://app.example.com/settings")
	}
	if u.User != nil {
		return Invalid(field, "must not carry a user name or password")
	}
	if !validHostname(u.Hostname()) {
		// The logo's origin goes into a Content-Security-Policy: a
		// host of letters, digits, dots and dashes, or an IP address.
		return Invalid(field, "must have a host name such as app.example.com")
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && loopbackHTTP && isLoopbackHost(u.Hostname()):
	case loopbackHTTP:
		return Invalid(field, "must be an https URL (http only on localhost or a loopback address)")
	default:
		return Invalid(field, "must be an https URL")
	}
	if strings.ContainsFunc(v, isControl) || strings.ContainsAny(v, " <>\"'`") {
		return Invalid(field, "must not contain spaces, quotes, angle brackets or control characters")
	}
	return nil
}

func validHostname(h string) bool {
	if _, err := netip.ParseAddr(h); err == nil {
		return true
	}
	if h == "" || len(h) > 253 {
		return false
	}
	for _, r := range h {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-') {
			return false
		}
	}
	return true
}

func isLoopbackHost(h string) bool {
	if strings.EqualFold(h, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(h)
	return err == nil && a.IsLoopback()
}

// NewPortalSession is a portal session just made: the link's token is
// here, this once.
type NewPortalSession struct {
	ID        string
	Token     string // the one-time token the link carries
	ExpiresAt time.Time
}

// Create makes a portal session of project projectID for key, the
// project's own key of scope project (a portal session lives and dies with
// a project key; an admin key has no project to give). It is audited with
// the key as actor.
func (s *Portal) Create(ctx context.Context, key APIKey, projectID string, in CreatePortalSession) (NewPortalSession, error) {
	if key.ProjectID != projectID || key.Scope != string(ScopeProject) {
		return NewPortalSession{}, &Error{Code: CodePermissionDenied,
			Message: "a portal session is made with a key of this project of scope project; it ends when that key is revoked"}
	}
	if err := in.Validate(); err != nil {
		return NewPortalSession{}, err
	}
	ttl := DefaultPortalTTL
	if in.TTLSeconds != 0 {
		ttl = time.Duration(in.TTLSeconds) * time.Second
	}
	now := s.c.now()
	token := "hps_" + randomToken()
	p := store.PortalSession{
		ID: ids.New(ids.Portal, now), ProjectID: projectID, APIKeyID: key.ID, LinkHash: hashPortalToken(token),
		Access: in.Access, ReturnURL: in.ReturnURL, CreatedAt: now, ExpiresAt: now.Add(ttl),
	}
	if err := s.c.store.CreatePortalSession(ctx, p); err != nil {
		return NewPortalSession{}, translate(err, "project")
	}
	s.c.record(ctx, projectID, ActionPortalCreated, p.ID, in.Access+", "+ttl.String())
	return NewPortalSession{ID: p.ID, Token: token, ExpiresAt: p.ExpiresAt}, nil
}

// Why a portal link or session no longer lets the customer in.
const (
	PortalUnknownLink = "unknown" // no such link
	PortalUsed        = "used"    // the link was opened before
	PortalExpired     = "expired"
	PortalRevoked     = "revoked" // the key that made it was revoked
	PortalSignedOut   = "signed_out"
)

// PortalClosed is the error of a portal link or session that no longer
// lets the customer in: why, and where the customer goes back to.
type PortalClosed struct {
	Reason    string // PortalUsed, …
	ReturnURL string // "" when none was given (or the link is unknown)
	ProjectID string // whose portal it was ("" for an unknown link)
}

func (e *PortalClosed) Error() string { return "portal session closed: " + e.Reason }

// PortalLogin is a portal link just claimed.
type PortalLogin struct {
	Session PortalSession
	// Token is the browser's session token (its cookie), this once.
	Token string
}

// Claim opens the link of linkToken, once: the browser gets a session
// token. A link opened before, expired or whose key was revoked is a
// *PortalClosed error (so is one never made).
func (s *Portal) Claim(ctx context.Context, linkToken string) (PortalLogin, error) {
	if !validPortalToken(linkToken) {
		return PortalLogin{}, &PortalClosed{Reason: PortalUnknownLink}
	}
	now := s.c.now()
	token := randomToken()
	p, err := s.c.store.ClaimPortalSession(ctx, hashPortalToken(linkToken), HashSessionToken(token), now)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return PortalLogin{}, &PortalClosed{Reason: PortalUnknownLink}
	case errors.Is(err, store.ErrConflict):
		return PortalLogin{}, &PortalClosed{Reason: closedReason(p, now, true), ReturnURL: p.ReturnURL, ProjectID: p.ProjectID}
	case err != nil:
		return PortalLogin{}, translate(err, "portal session")
	}
	s.c.recordAs(ctx, Actor{KeyID: p.APIKeyID, PortalID: p.ID, Source: ActorOf(ctx).Source}, p.ProjectID, ActionPortalOpened, p.ID, "")
	return PortalLogin{Session: p, Token: token}, nil
}

// closedReason says why p does not let the customer in at now ("" when it
// does). claiming: the link is being opened, so one claimed before is used.
func closedReason(p PortalSession, now time.Time, claiming bool) string {
	switch {
	case p.KeyRevoked:
		return PortalRevoked
	case !p.EndedAt.IsZero():
		return PortalSignedOut
	case !now.Before(p.ExpiresAt):
		return PortalExpired
	case claiming && !p.ClaimedAt.IsZero():
		return PortalUsed
	}
	return ""
}

// Session returns the open portal session of the browser's token: its
// key is checked at each call, as a stream checks its key, so a
// revocation ends it at the next page. One that ended is a *PortalClosed
// error; a token of no portal session is CodeUnauthenticated.
func (s *Portal) Session(ctx context.Context, token string) (PortalSession, error) {
	if token == "" || len(token) > 100 {
		return PortalSession{}, errNoPortalSession
	}
	p, err := s.c.store.GetPortalSession(ctx, HashSessionToken(token))
	if errors.Is(err, store.ErrNotFound) {
		return PortalSession{}, errNoPortalSession
	}
	if err != nil {
		return PortalSession{}, translate(err, "portal session")
	}
	if why := closedReason(p, s.c.now(), false); why != "" {
		return p, &PortalClosed{Reason: why, ReturnURL: p.ReturnURL, ProjectID: p.ProjectID}
	}
	return p, nil
}

var errNoPortalSession = &Error{Code: CodeUnauthenticated, Message: "no portal session"}

// End ends the portal session of token (sign-out); audited with the
// session as actor. Ending one that ended is not an error.
func (s *Portal) End(ctx context.Context, p PortalSession) error {
	if err := s.c.store.EndPortalSession(ctx, p.SessionHash, s.c.now()); err != nil {
		return translate(err, "portal session")
	}
	s.c.recordAs(ctx, Actor{KeyID: p.APIKeyID, PortalID: p.ID, Source: ActorOf(ctx).Source}, p.ProjectID, ActionPortalEnded, p.ID, "signed out")
	return nil
}

// KeyOf is the key a portal session acts with, as far as the rules of
// scopes go: the key that made it, narrowed to its project and to scope
// project (PortalManage) or read (PortalView).
func KeyOf(p PortalSession) APIKey {
	scope := ScopeRead
	if p.Access == PortalManage {
		scope = ScopeProject
	}
	return APIKey{ID: p.APIKeyID, ProjectID: p.ProjectID, Scope: string(scope)}
}

// Brand returns the portal brand of project projectID (zero when none).
func (s *Portal) Brand(ctx context.Context, projectID string) (PortalBrand, error) {
	b, err := s.c.store.GetPortalBrand(ctx, projectID)
	return b, translate(err, "project")
}

// SetBrand validates b and stores it as the portal brand of projectID;
// audited.
func (s *Portal) SetBrand(ctx context.Context, projectID string, b PortalBrand) (PortalBrand, error) {
	b.Name = strings.TrimSpace(b.Name)
	b.AccentColor = strings.ToLower(strings.TrimSpace(b.AccentColor))
	b.LogoURL = strings.TrimSpace(b.LogoURL)
	if utf8.RuneCountInString(b.Name) > maxBrandName {
		return PortalBrand{}, Invalid("portal.name", "must be at most "+strconv.Itoa(maxBrandName)+" characters")
	}
	if err := checkText("portal.name", b.Name, false); err != nil {
		return PortalBrand{}, err
	}
	if b.LogoURL != "" {
		if err := checkBrowserURL("portal.logo_url", b.LogoURL, false); err != nil {
			return PortalBrand{}, err
		}
	}
	if b.AccentColor != "" && !validColor(b.AccentColor) {
		return PortalBrand{}, Invalid("portal.accent_color", `must be a colour as #rrggbb, such as "#0a7f5c"`)
	}
	if err := s.c.store.SetPortalBrand(ctx, projectID, b); err != nil {
		return PortalBrand{}, translate(err, "project")
	}
	s.c.record(ctx, projectID, ActionPortalBranded, projectID, b.Name)
	return b, nil
}

func validColor(c string) bool {
	if len(c) != 7 || c[0] != '#' {
		return false
	}
	for i := 1; i < 7; i++ {
		if !strings.ContainsRune("0123456789abcdef", rune(c[i])) {
			return false
		}
	}
	return true
}

// randomToken is 32 random bytes, URL-safe.
func randomToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func validPortalToken(t string) bool {
	return strings.HasPrefix(t, "hps_") && len(t) == len("hps_")+43
}

// hashPortalToken is what the store keeps of a link's token.
func hashPortalToken(t string) []byte {
	sum := sha256.Sum256([]byte(t))
	return sum[:]
}

// HashSessionToken is what the store keeps of a browser's session token
// (the UI's sign-in sessions and the portal's alike).
func HashSessionToken(t string) []byte {
	sum := sha256.Sum256([]byte(t))
	return sum[:]
}
