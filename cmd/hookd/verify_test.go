package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestVerifyCommand checks `hookd verify` with the Standard Webhooks
// reference vector, at the vector's own moment and at a moment far from it.
func TestVerifyCommand(t *testing.T) {
	t.Parallel()
	const (
		secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
		id     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
		ts     = "1614265330"
		sig    = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
		body   = `{"test": 2432232314}`
	)
	tests := []struct {
		name   string
		args   []string
		body   string
		code   int
		output string
	}{
		{"valid at the signing moment", []string{"--secret", secret, "--id", id, "--timestamp", ts, "--signature", sig, "--at", ts}, body, 0, "valid"},
		{"valid among decoys", []string{"--secret", secret, "--id", id, "--timestamp", ts, "--signature", "v1,bm9wZQ== v2,xyz " + sig, "--at", ts}, body, 0, "valid"},
		{"tampered body", []string{"--secret", secret, "--id", id, "--timestamp", ts, "--signature", sig, "--at", ts}, body + " ", 1, "invalid:"},
		{"stale against now", []string{"--secret", secret, "--id", id, "--timestamp", ts, "--signature", sig}, body, 1, "too old"},
		{"wrong secret", []string{"--secret", "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "--id", id, "--timestamp", ts, "--signature", sig, "--at", ts}, body, 1, "invalid:"},
		{"missing flags", []string{"--secret", secret}, body, 2, "required"},
		{"bad secret", []string{"--secret", "whsec_!!!", "--id", id, "--timestamp", ts, "--signature", sig}, body, 2, "hookd verify:"},
	}
	for _, tt := range tests {
		var out, errOut bytes.Buffer
		code := run(append([]string{"verify"}, tt.args...), strings.NewReader(tt.body), &out, &errOut)
		if code != tt.code {
			t.Errorf("%s: exit %d, want %d (stdout %q, stderr %q)", tt.name, code, tt.code, out.String(), errOut.String())
			continue
		}
		if got := out.String() + errOut.String(); !strings.Contains(got, tt.output) {
			t.Errorf("%s: output %q does not mention %q", tt.name, got, tt.output)
		}
	}
}

func TestUnknownCommand(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	if code := run([]string{"frobnicate"}, strings.NewReader(""), &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "unknown command") {
		t.Fatalf("exit %d, stderr %q", code, errOut.String())
	}
}
