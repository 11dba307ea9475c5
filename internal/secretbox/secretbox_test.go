package secretbox

import (
	"strings"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	for _, key := range []string{"a passphrase of some length", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="} {
		b, err := New(key)
		if err != nil {
			t.Fatal(err)
		}
		const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
		sealed, err := b.Seal(secret)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(sealed, "MfKQ9r8") || !strings.HasPrefix(sealed, prefix) {
			t.Fatalf("sealed value shows the secret or lacks the prefix: %q", sealed)
		}
		again, _ := b.Seal(secret)
		if again == sealed {
			t.Fatal("two seals of one secret are equal: nonce reused")
		}
		got, err := b.Open(sealed)
		if err != nil || got != secret {
			t.Fatalf("Open = %q, %v", got, err)
		}
	}
}

func TestOpenRejects(t *testing.T) {
	t.Parallel()
	a, _ := New("first passphrase 1234")
	b, _ := New("second passphrase 1234")
	sealed, _ := a.Seal("whsec_x")
	if _, err := b.Open(sealed); err == nil {
		t.Error("opened with the wrong key")
	}
	var none *Box
	if _, err := none.Open(sealed); err == nil {
		t.Error("opened an encrypted value without a key")
	}
	if got, err := none.Open("whsec_plain"); err != nil || got != "whsec_plain" {
		t.Errorf("plain value: %q, %v", got, err)
	}
	if got, err := a.Open("whsec_plain"); err != nil || got != "whsec_plain" {
		t.Errorf("plain value with a key: %q, %v", got, err)
	}
	if _, err := a.Open(prefix + "!!!"); err == nil {
		t.Error("opened garbage")
	}
	if _, err := New("short"); err == nil {
		t.Error("accepted a short key")
	}
}

func FuzzOpen(f *testing.F) {
	b, _ := New("fuzzing passphrase 123")
	s, _ := b.Seal("whsec_abc")
	f.Add(s)
	f.Add("enc:v1:")
	f.Add("whsec_x")
	f.Fuzz(func(t *testing.T, v string) {
		_, _ = b.Open(v)
	})
}
