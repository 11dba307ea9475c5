package outbound

import (
	"net/url"
	"strings"
	"testing"
)

func TestCheckURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		raw          string
		requireHTTPS bool
		want         string // "" = valid
	}{
		{"https://example.com/hooks", false, ""},
		{"https://example.com/hooks", true, ""},
		{"http://example.com/hooks?x=1", false, ""},
		{"HTTPS://Example.COM:8443/a/b", true, ""},
		{"https://[2001:db8::1]:443/", true, ""},
		{"https://127.0.0.1/", true, ""}, // addresses are the dialer's business
		{"http://example.com/hooks", true, "url: must use https"},
		{"", false, "url: must be an absolute https or http URL"},
		{"", true, "url: must be an absolute https URL"},
		{"example.com/hooks", false, "url: must be an absolute https or http URL"},
		{"/hooks", false, "url: must be an absolute https or http URL"},
		{"ftp://example.com/", false, "url: must be an absolute https or http URL"},
		{"javascript:alert(1)", false, "url: must be an absolute https or http URL"},
		{"https:example.com", false, "url: must be an absolute https or http URL"},
		{"https://", false, "url: host is missing"},
		{"https:///path", false, "url: host is missing"},
		{"https://:443/", false, "url: host is missing"},
		{"https://user:pass@example.com/", false, "url: must not contain credentials (user:password@)"},
		{"https://user@example.com/", false, "url: must not contain credentials (user:password@)"},
		{"https://example.com/#frag", false, "url: must not contain a fragment (#...)"},
		{"https://example.com/#", false, "url: must not contain a fragment (#...)"},
		{"https://example.com:0/", false, "url: port must be between 1 and 65535"},
		{"https://example.com:65536/", false, "url: port must be between 1 and 65535"},
		{"https://example.com:/", false, "url: port must be between 1 and 65535"},
		{"https://example.com:http/", false, "url: must be an absolute https or http URL"},
		{" https://example.com/", false, "url: must not start or end with spaces"},
		{"https://example.com/\n", false, "url: must not start or end with spaces"},
		{"https://exa mple.com/", false, "url: must be an absolute https or http URL"},
		{"https://example.com/" + strings.Repeat("a", 2048), false, "url: must be at most 2048 characters"},
	}
	for _, tt := range tests {
		err := CheckURL(tt.raw, tt.requireHTTPS)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tt.want {
			t.Errorf("CheckURL(%q, %v) = %q, want %q", tt.raw, tt.requireHTTPS, got, tt.want)
		}
	}
}

var checkURLMessages = map[string]bool{
	"url: must be at most 2048 characters":               true,
	"url: must not start or end with spaces":             true,
	"url: must be an absolute https URL":                 true,
	"url: must be an absolute https or http URL":         true,
	"url: must use https":                                true,
	"url: must not contain credentials (user:password@)": true,
	"url: must not contain a fragment (#...)":            true,
	"url: host is missing":                               true,
	"url: port must be between 1 and 65535":              true,
}

func FuzzCheckURL(f *testing.F) {
	for _, s := range []string{"https://example.com/hooks", "http://example.com:8080/a?b=c",
		"https://user:pw@example.com/", "https://example.com/#x", "https://[::1]:443/",
		"ftp://x/", "https://", "https://example.com:99999/", "//example.com", "https://%zz/"} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, raw string, requireHTTPS bool) {
		err := CheckURL(raw, requireHTTPS)
		if err != nil {
			// A fixed message never echoes the URL back to the user.
			if !checkURLMessages[err.Error()] {
				t.Fatalf("CheckURL(%q) error %q is not one of the known messages", raw, err)
			}
			return
		}
		// Everything accepted must be something Send can POST to.
		u, perr := url.Parse(raw)
		if perr != nil {
			t.Fatalf("CheckURL(%q) accepted an unparsable URL: %v", raw, perr)
		}
		if u.Scheme != "https" && (requireHTTPS || u.Scheme != "http") {
			t.Fatalf("CheckURL(%q, %v) accepted scheme %q", raw, requireHTTPS, u.Scheme)
		}
		if u.Hostname() == "" || u.User != nil || strings.Contains(raw, "#") || u.Opaque != "" {
			t.Fatalf("CheckURL(%q) accepted %+v", raw, u)
		}
	})
}
