package bench

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// uiSession signs in to the web UI at base with key, as a browser does,
// and returns a client that carries the session cookie.
func uiSession(base, key string) (*http.Client, error) {
	jar, err := cookiejar.New(nil)
	if err != nil {
		return nil, err
	}
	c := &http.Client{Jar: jar, Timeout: time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	page, err := uiGet(c, base+"/ui/signin")
	if err != nil {
		return nil, err
	}
	m := csrfField.FindStringSubmatch(page)
	if m == nil {
		return nil, fmt.Errorf("ui: no CSRF field on the sign-in page")
	}
	form := url.Values{"csrf": {m[1]}, "key": {key}}
	req, err := http.NewRequest("POST", base+"/ui/signin", strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		return nil, fmt.Errorf("ui: sign-in answered %d", resp.StatusCode)
	}
	return c, nil
}

// uiGet fetches a page and fails unless it answers 200.
func uiGet(c *http.Client, u string) (string, error) {
	return uiFetch(c, u, http.StatusOK)
}

// uiFetch fetches u (not following a redirect) and fails unless it
// answers want.
func uiFetch(c *http.Client, u string, want int) (string, error) {
	resp, err := c.Get(u)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != want {
		return "", fmt.Errorf("GET %s: %d", u, resp.StatusCode)
	}
	return string(b), nil
}

// medianOf21 calls fn 21 times and returns the median duration in
// milliseconds.
func medianOf21(fn func() error) (float64, error) {
	var times []time.Duration
	for range 21 {
		t0 := time.Now()
		if err := fn(); err != nil {
			return 0, err
		}
		times = append(times, time.Since(t0))
	}
	slices.Sort(times)
	return float64(times[len(times)/2]) / float64(time.Millisecond), nil
}
