package webhook_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/hookd/hookd/webhook"
)

// interopDir holds the Node harness; `npm ci` there installs the Standard Webhooks
// JavaScript library it uses.
var interopDir = filepath.Join("..", "interop", "node")

// skipOrFail skips when the interop toolchain is missing on a developer machine,
// but fails in CI, where a silent skip would hide an interop regression.
func skipOrFail(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

// nodeRequest is one line of input for interop/node/verify.js.
type nodeRequest struct {
	Op         string `json:"op"`
	Secret     string `json:"secret,omitempty"`
	PublicKey  string `json:"public_key,omitempty"`
	PrivateKey string `json:"private_key,omitempty"`
	ID         string `json:"id"`
	Timestamp  string `json:"timestamp"`
	Signature  string `json:"signature,omitempty"`
	Body       string `json:"body_b64"`
}

type nodeResult struct {
	OK        bool   `json:"ok"`
	Error     string `json:"error"`
	Signature string `json:"signature"`
}

type interopCase struct {
	name    string
	req     nodeRequest
	ok      bool
	wantSig string // for sign ops: what our Signer produced
}

// runNode sends every request to one Node process and returns its answers in order.
func runNode(t *testing.T, reqs []nodeRequest) []nodeResult {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		skipOrFail(t, "interop: node is not installed (%v); install Node.js to check signatures against the Standard Webhooks JavaScript library", err)
	}
	if _, err := os.Stat(filepath.Join(interopDir, "node_modules", "standardwebhooks")); err != nil {
		skipOrFail(t, "interop: the standardwebhooks npm package is not installed; run `npm ci` in interop/node (%v)", err)
	}

	var in bytes.Buffer
	enc := json.NewEncoder(&in)
	for _, r := range reqs {
		if err := enc.Encode(r); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "verify.js")
	cmd.Dir = interopDir
	cmd.Stdin = &in
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node verify.js: %v\n%s", err, stderr.String())
	}

	var results []nodeResult
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var r nodeResult
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("node output line %q: %v", sc.Text(), err)
		}
		results = append(results, r)
	}
	if len(results) != len(reqs) {
		t.Fatalf("node answered %d lines for %d requests\n%s", len(results), len(reqs), stderr.String())
	}
	return results
}

// TestInteropNode checks hookd's signatures with code that shares nothing with this
// package: v1 with the Standard Webhooks JavaScript library (npm standardwebhooks),
// v1a with Node's crypto (OpenSSL), since the library only implements v1.
func TestInteropNode(t *testing.T) {
	t.Parallel()
	secretNew, secretOld, secretOther := mustSecret(t), mustSecret(t), mustSecret(t)
	priv, pub := mustKeyPair(t)
	_, otherPub := mustKeyPair(t)

	// The JavaScript library reads a Buffer body as UTF-8 text, as receivers in
	// JavaScript do, so the bodies here are text; binary bodies are covered by the
	// Go round-trip tests.
	bodies := []string{
		`{"id":"evt_01JD","type":"tester.created","timestamp":"2026-11-26T12:00:00Z","data":{"name":"Ada"}}`,
		"",
		"{\n  \"name\": \"café 🎉\",\r\n  \"dots\": \"a.b.c\"\n}\n",
	}
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

	var cases []interopCase
	add := func(c interopCase) { cases = append(cases, c) }

	// Signing needs no clock: the same inputs must give the same text as the library.
	katBody64 := b64(katBody)
	add(interopCase{name: "KAT v1", ok: true, wantSig: katSignature,
		req: nodeRequest{Op: "sign", Secret: katSecret, ID: katID, Timestamp: "1614265330", Body: katBody64}})
	add(interopCase{name: "KAT v1a", ok: true, wantSig: katEd25519Sig,
		req: nodeRequest{Op: "sign-ed25519", PrivateKey: katPrivateKey, ID: katID, Timestamp: "1614265330", Body: katBody64}})

	// Verification against the real clock, as the library has no way to inject one.
	now := time.Now()
	single := mustSigner(t, secretNew)
	rotated := mustSigner(t, secretNew, secretOld)
	ed := mustSigner(t, priv)
	mixed := mustSigner(t, priv, secretNew)
	for i, body := range bodies {
		id := "evt_interop_" + string(rune('a'+i))
		tsStr := webhookTimestamp(t, single, id, now, body)
		req := func(op, sig string) nodeRequest {
			return nodeRequest{Op: op, ID: id, Timestamp: tsStr, Signature: sig, Body: b64(body)}
		}
		withSecret := func(r nodeRequest, s string) nodeRequest { r.Secret = s; return r }
		withPub := func(r nodeRequest, k string) nodeRequest { r.PublicKey = k; return r }
		withPriv := func(r nodeRequest, k string) nodeRequest { r.PrivateKey = k; return r }

		add(interopCase{name: "sign matches library", ok: true, wantSig: single.Sign(id, now, []byte(body)),
			req: withSecret(req("sign", ""), secretNew)})
		add(interopCase{name: "sign-ed25519 matches OpenSSL", ok: true, wantSig: ed.Sign(id, now, []byte(body)),
			req: withPriv(req("sign-ed25519", ""), priv)})

		add(interopCase{name: "single secret", ok: true, req: withSecret(req("verify", single.Sign(id, now, []byte(body))), secretNew)})
		add(interopCase{name: "rotated, receiver has new", ok: true, req: withSecret(req("verify", rotated.Sign(id, now, []byte(body))), secretNew)})
		add(interopCase{name: "rotated, receiver has old", ok: true, req: withSecret(req("verify", rotated.Sign(id, now, []byte(body))), secretOld)})
		add(interopCase{name: "mixed v1a and v1, library skips v1a", ok: true, req: withSecret(req("verify", mixed.Sign(id, now, []byte(body))), secretNew)})
		add(interopCase{name: "ed25519", ok: true, req: withPub(req("verify-ed25519", ed.Sign(id, now, []byte(body))), pub)})
		add(interopCase{name: "mixed, ed25519 receiver", ok: true, req: withPub(req("verify-ed25519", mixed.Sign(id, now, []byte(body))), pub)})

		tampered := req("verify", single.Sign(id, now, []byte(body)))
		tampered.Body = b64(body + " ")
		add(interopCase{name: "tampered body", ok: false, req: withSecret(tampered, secretNew)})
		add(interopCase{name: "wrong secret", ok: false, req: withSecret(req("verify", rotated.Sign(id, now, []byte(body))), secretOther)})
		edTampered := req("verify-ed25519", ed.Sign(id, now, []byte(body)))
		edTampered.Body = b64(body + " ")
		add(interopCase{name: "ed25519 tampered body", ok: false, req: withPub(edTampered, pub)})
		add(interopCase{name: "ed25519 wrong key", ok: false, req: withPub(req("verify-ed25519", ed.Sign(id, now, []byte(body))), otherPub)})
	}
	// A stale signature must be refused by the library too.
	stale := now.Add(-10 * time.Minute)
	add(interopCase{name: "stale timestamp", ok: false, req: nodeRequest{Op: "verify", Secret: secretNew, ID: "evt_stale",
		Timestamp: webhookTimestamp(t, single, "evt_stale", stale, "{}"), Signature: single.Sign("evt_stale", stale, []byte("{}")), Body: b64("{}")}})

	reqs := make([]nodeRequest, len(cases))
	for i, c := range cases {
		reqs[i] = c.req
	}
	results := runNode(t, reqs)
	for i, c := range cases {
		r := results[i]
		label := c.req.Op + " " + c.name + " (" + c.req.ID + ")"
		switch {
		case r.OK != c.ok:
			t.Errorf("%s: node ok=%v (error %q), want ok=%v", label, r.OK, r.Error, c.ok)
		case c.wantSig != "" && r.Signature != c.wantSig:
			t.Errorf("%s: node signed %q, we signed %q", label, r.Signature, c.wantSig)
		}
	}
}

// webhookTimestamp is the webhook-timestamp our Signer sends, so the test feeds the
// library the header text rather than re-deriving it.
func webhookTimestamp(t *testing.T, s *webhook.Signer, id string, at time.Time, body string) string {
	t.Helper()
	return s.Headers(id, at, []byte(body)).Get(webhook.HeaderTimestamp)
}
