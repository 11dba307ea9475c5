package ui

import (
	"bytes"
	"testing"
)

// TestSeal: a flash opens only with its session's token and its own id,
// and what the database keeps shows nothing of it.
func TestSeal(t *testing.T) {
	token, other := newToken(), newToken()
	plain := []byte(`{"secret":"whsec_very_secret"}`)
	sealed := seal(token, "id1", plain)
	if bytes.Contains(sealed, []byte("whsec_")) {
		t.Fatal("the sealed flash shows the secret")
	}
	if got, ok := unseal(token, "id1", sealed); !ok || !bytes.Equal(got, plain) {
		t.Errorf("unseal = %q, %v", got, ok)
	}
	for name, try := range map[string]func() bool{
		"another session's token": func() bool { _, ok := unseal(other, "id1", sealed); return ok },
		"another id":              func() bool { _, ok := unseal(token, "id2", sealed); return ok },
		"truncated":               func() bool { _, ok := unseal(token, "id1", sealed[:5]); return ok },
		"altered": func() bool {
			b := bytes.Clone(sealed)
			b[len(b)-1] ^= 1
			_, ok := unseal(token, "id1", b)
			return ok
		},
	} {
		if try() {
			t.Errorf("a flash opened with %s", name)
		}
	}
}
