package main

import (
	"bytes"
	"strings"
	"testing"
)

// Bad egress flags stop serve before it opens anything, and the message never
// echoes the proxy URL (it may carry a password).
func TestServeRejectsBadEgressFlags(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--egress-proxy", "socks5://user:hunter2@proxy:1080"}, "--egress-proxy"},
		{[]string{"--egress-proxy", "proxy.internal:3128"}, "--egress-proxy"},
		{[]string{"--egress-addresses", "203.0.113.7,not-an-ip"}, `"not-an-ip" is not an IP address or CIDR`},
	} {
		var out, errOut bytes.Buffer
		code := run(append([]string{"serve", "--db", t.TempDir() + "/h.db"}, tc.args...), strings.NewReader(""), &out, &errOut)
		if code != 2 || !strings.Contains(errOut.String(), tc.want) {
			t.Errorf("serve %q: exit %d, %q; want 2 and %q", tc.args, code, errOut.String(), tc.want)
		}
		if strings.Contains(errOut.String(), "hunter2") {
			t.Errorf("the error shows the proxy's password: %q", errOut.String())
		}
	}
}
