package ui

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/hookd/hookd/internal/store"
)

// Post/Redirect/Get. Every form that changes something answers 303 See
// Other to a page, which shows what happened once: the flash. So a
// reload, Back or Forward only fetches a page again and never repeats the
// action.
//
// A handler ends with
//
//	return u.done(w, r, c, u.projectPath(c, "/webhooks"), flash{Message: "Endpoint saved."})
//
// and the page at that path reads c.flash (signedIn takes it before the
// handler runs); the layout shows Message by itself. A secret or key
// shown once goes in Secret (or Data), never in the URL: the flash is kept
// in the database with the session (so any node can show it), sealed with
// a key derived from the session token, which only the browser has, and
// deleted as it is read. The URL carries only the flash's random id.

// flash is the one-time result of a form.
type flash struct {
	// Message is the sentence shown at the top of the page.
	Message string `json:"message,omitempty"`
	// Problem shows Message as a problem (nothing was done) rather than
	// as a success.
	Problem bool `json:"problem,omitempty"`
	// Secret is a secret or key shown this once.
	Secret string `json:"secret,omitempty"`
	// Data is anything else the page shows; see with and readData.
	Data json.RawMessage `json:"data,omitempty"`
}

// with returns f with v as its Data.
func (f flash) with(v any) flash {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // our own types always marshal
	}
	f.Data = b
	return f
}

// readData decodes f's Data into v and reports whether there was any.
func (f flash) readData(v any) bool {
	return len(f.Data) > 0 && json.Unmarshal(f.Data, v) == nil
}

// flashParam names the flash in the URL of the page after a redirect.
const flashParam = "flash"

// flashTTL bounds how long a flash waits for its page: the browser
// follows the redirect at once.
const flashTTL = 10 * time.Minute

// done keeps f for the caller's session and answers 303 to the page at
// to (a path, perhaps with a query), which shows it once.
func (u *UI) done(w http.ResponseWriter, r *http.Request, c *request, to string, f flash) error {
	id := newToken()[:22]
	plain, err := json.Marshal(f)
	if err != nil {
		return err
	}
	now := u.clock.Now()
	err = u.sessions.PutFlash(r.Context(), store.Flash{
		SessionHash: c.session.Hash, ID: id, Data: seal(c.token, id, plain),
		CreatedAt: now, ExpiresAt: now.Add(flashTTL),
	})
	if err != nil {
		return err
	}
	target, err := url.Parse(to)
	if err != nil {
		return err
	}
	q := target.Query()
	q.Set(flashParam, id)
	target.RawQuery = q.Encode()
	redirect(w, r, target.String())
	return nil
}

// takeFlash returns the flash the URL names, once; none, one already
// shown or one of another session is the zero flash.
func (u *UI) takeFlash(r *http.Request, c *request) (flash, error) {
	id := r.URL.Query().Get(flashParam)
	if r.Method != http.MethodGet || id == "" || len(id) > 64 {
		return flash{}, nil
	}
	sealed, err := u.sessions.TakeFlash(r.Context(), c.session.Hash, id, u.clock.Now())
	if errors.Is(err, store.ErrNotFound) {
		return flash{}, nil
	}
	if err != nil {
		return flash{}, err
	}
	var f flash
	if plain, ok := unseal(c.token, id, sealed); !ok || json.Unmarshal(plain, &f) != nil {
		return flash{}, nil
	}
	return f, nil
}

// flashKey is the AES key of a session's flashes: derived from the token,
// which the database never has (it keeps only its hash).
func flashKey(token string) []byte {
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte("hookd ui flash v1"))
	return m.Sum(nil)
}

func flashAEAD(token string) cipher.AEAD {
	b, err := aes.NewCipher(flashKey(token))
	if err != nil {
		panic(err) // a 32-byte key always makes a cipher
	}
	g, err := cipher.NewGCM(b)
	if err != nil {
		panic(err)
	}
	return g
}

// seal encrypts plain for the session of token, bound to the flash's id.
func seal(token, id string, plain []byte) []byte {
	g := flashAEAD(token)
	nonce := make([]byte, g.NonceSize())
	_, _ = rand.Read(nonce) // never fails
	return g.Seal(nonce, nonce, plain, []byte(id))
}

func unseal(token, id string, sealed []byte) ([]byte, bool) {
	g := flashAEAD(token)
	if len(sealed) < g.NonceSize() {
		return nil, false
	}
	plain, err := g.Open(nil, sealed[:g.NonceSize()], sealed[g.NonceSize():], []byte(id))
	return plain, err == nil
}
