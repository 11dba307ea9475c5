package outbound

import (
	"errors"
	"net/url"
	"strconv"
	"strings"
)

// maxURLLength keeps endpoint URLs to what every proxy and log handles.
const maxURLLength = 2048

// CheckURL validates an endpoint URL when it is registered: an absolute
// http or https URL (only https when requireHTTPS) with a host, no user
// credentials and no fragment. The error message is safe to show users and
// never echoes the URL. It does not look at addresses: the guard does that
// when dialing, because DNS answers change.
func CheckURL(raw string, requireHTTPS bool) error {
	if len(raw) > maxURLLength {
		return errors.New("url: must be at most 2048 characters")
	}
	if strings.TrimSpace(raw) != raw {
		return errors.New("url: must not start or end with spaces")
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Opaque != "" {
		if requireHTTPS {
			return errors.New("url: must be an absolute https URL")
		}
		return errors.New("url: must be an absolute https or http URL")
	}
	switch u.Scheme {
	case "https":
	case "http":
		if requireHTTPS {
			return errors.New("url: must use https")
		}
	default:
		if requireHTTPS {
			return errors.New("url: must be an absolute https URL")
		}
		return errors.New("url: must be an absolute https or http URL")
	}
	if u.User != nil {
		return errors.New("url: must not contain credentials (user:password@)")
	}
	if strings.Contains(raw, "#") {
		return errors.New("url: must not contain a fragment (#...)")
	}
	if u.Hostname() == "" {
		return errors.New("url: host is missing")
	}
	if p := u.Port(); p != "" || strings.HasSuffix(u.Host, ":") {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return errors.New("url: port must be between 1 and 65535")
		}
	}
	return nil
}
