package ui_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/hookd/hookd/internal/app"
)

// The Webhooks page tells customers which source addresses to allow when the
// operator published them (--egress-addresses), and says nothing otherwise.
func TestWebhooksShowsEgressAddresses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		addrs []string
		want  bool
	}{
		{[]string{"203.0.113.7", "198.51.100.0/28"}, true},
		{nil, false},
	} {
		e := newEnvWith(t, false, func(c *app.Config) { c.EgressAddresses = tc.addrs })
		p := e.project("Acme")
		c := e.client()
		c.signIn(p.Key)
		a := c.get("/ui/projects/" + p.ID + "/webhooks")
		if a.StatusCode != http.StatusOK {
			t.Fatalf("webhooks page: %d", a.StatusCode)
		}
		shown := strings.Contains(a.body, "allow these addresses")
		if shown != tc.want {
			t.Errorf("addresses %q: note shown %v, want %v", tc.addrs, shown, tc.want)
		}
		for _, addr := range tc.addrs {
			if !strings.Contains(a.body, "<code>"+addr+"</code>") {
				t.Errorf("address %s not on the page", addr)
			}
		}
	}
}
