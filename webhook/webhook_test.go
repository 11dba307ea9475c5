package webhook_test

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/webhook"
)

// Known answer from the Standard Webhooks reference test suites.
const (
	katSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	katID        = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	katTimestamp = 1614265330
	katBody      = `{"test": 2432232314}`
	katSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

// Ed25519 known answer. The key is the RFC 8032 section 7.1 TEST 1 key pair (seed
// 9d61b19d...7f60, public key d75a9801...511a), encoded as whsk_ (seed || public key)
// and whpk_. The signature over the KAT message above was produced with Go's
// crypto/ed25519 and reproduced byte for byte by OpenSSL through Node's
// crypto.sign (interop/node/verify.js, op "sign-ed25519"); TestInteropNode repeats
// that cross-check whenever Node is available.
const (
	katPrivateKey   = "whsk_nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2DXWpgBgrEKt9VL/tPJZAc6DuFy89qmIyWvAhpo9wdRGg=="
	katPublicKey    = "whpk_11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
	katEd25519Sig   = "v1a,fldxM4gAKugP6nnt1hdz3sgGfZ6d99nzrMFnZOELIxbzEHoVmAb2ADpkJK7zgPePmPsle0zV9jSeGlHFG2NVAw=="
	katSeedHex      = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
	katSeedOnlyPriv = "whsk_nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A="
)

var katTime = time.Unix(katTimestamp, 0)

func mustSigner(tb testing.TB, secrets ...string) *webhook.Signer {
	tb.Helper()
	s, err := webhook.NewSigner(secrets...)
	if err != nil {
		tb.Fatalf("NewSigner: %v", err)
	}
	return s
}

func mustVerifier(tb testing.TB, keys []string, opts ...webhook.Option) *webhook.Verifier {
	tb.Helper()
	v, err := webhook.NewVerifier(keys, opts...)
	if err != nil {
		tb.Fatalf("NewVerifier: %v", err)
	}
	return v
}

// at returns a clock option fixed at t.
func at(t time.Time) webhook.Option {
	return webhook.WithNow(func() time.Time { return t })
}

func mustSecret(tb testing.TB) string {
	tb.Helper()
	s, err := webhook.NewSecret()
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func mustKeyPair(tb testing.TB) (private, public string) {
	tb.Helper()
	priv, pub, err := webhook.NewKeyPair()
	if err != nil {
		tb.Fatal(err)
	}
	return priv, pub
}

func TestKnownAnswerHMAC(t *testing.T) {
	t.Parallel()
	// The prefix is optional, as in the reference libraries.
	for _, secret := range []string{katSecret, strings.TrimPrefix(katSecret, "whsec_")} {
		got := mustSigner(t, secret).Sign(katID, katTime, []byte(katBody))
		if got != katSignature {
			t.Errorf("Sign with %q = %q, want %q", secret[:6], got, katSignature)
		}
	}
	v := mustVerifier(t, []string{katSecret}, at(katTime))
	if err := v.VerifyValues(katID, strconv.Itoa(katTimestamp), katSignature, []byte(katBody)); err != nil {
		t.Errorf("VerifyValues(known answer) = %v", err)
	}
}

func TestKnownAnswerEd25519(t *testing.T) {
	t.Parallel()
	for _, priv := range []string{katPrivateKey, katSeedOnlyPriv} {
		if got := mustSigner(t, priv).Sign(katID, katTime, []byte(katBody)); got != katEd25519Sig {
			t.Errorf("Sign = %q, want %q", got, katEd25519Sig)
		}
		pub, err := webhook.PublicKey(priv)
		if err != nil || pub != katPublicKey {
			t.Errorf("PublicKey = %q, %v; want %q", pub, err, katPublicKey)
		}
	}
	v := mustVerifier(t, []string{katPublicKey}, at(katTime))
	if err := v.VerifyValues(katID, strconv.Itoa(katTimestamp), katEd25519Sig, []byte(katBody)); err != nil {
		t.Errorf("VerifyValues(known answer) = %v", err)
	}
	// The whsk_ layout is Go's (and libsodium's) 64-byte private key.
	raw, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(katPrivateKey, "whsk_"))
	if got := fmt.Sprintf("%x", raw[:ed25519.SeedSize]); got != katSeedHex {
		t.Errorf("seed = %s, want %s", got, katSeedHex)
	}
}

func TestHeaders(t *testing.T) {
	t.Parallel()
	h := mustSigner(t, katSecret).Headers(katID, katTime.Add(999*time.Millisecond), []byte(katBody))
	want := map[string]string{
		webhook.HeaderID:        katID,
		webhook.HeaderTimestamp: strconv.Itoa(katTimestamp),
		webhook.HeaderSignature: katSignature,
	}
	for name, value := range want {
		if got := h.Values(name); len(got) != 1 || got[0] != value {
			t.Errorf("%s = %q, want [%q]", name, got, value)
		}
	}
	if len(h) != len(want) {
		t.Errorf("Headers has %d entries, want %d: %v", len(h), len(want), h)
	}
	if err := mustVerifier(t, []string{katSecret}, at(katTime)).Verify([]byte(katBody), h); err != nil {
		t.Errorf("Verify(Headers) = %v", err)
	}
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	secret := mustSecret(t)
	priv, pub := mustKeyPair(t)
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	bodies := map[string][]byte{
		"empty":     {},
		"json":      []byte(`{"id":"evt_1","type":"tester.created","data":{"n":1}}`),
		"binary":    {0, 0xff, 0xfe, '\n', '.', ' '},
		"utf8":      []byte("{\"name\":\"café 🎉\"}\r\n"),
		"large":     []byte(strings.Repeat("x", 1<<20)),
		"dots only": []byte("..."),
	}
	for _, tc := range []struct {
		name    string
		signers []string
		keys    []string
	}{
		{"hmac", []string{secret}, []string{secret}},
		{"ed25519", []string{priv}, []string{pub}},
		{"both schemes, hmac receiver", []string{priv, secret}, []string{secret}},
		{"both schemes, ed25519 receiver", []string{secret, priv}, []string{pub}},
	} {
		s := mustSigner(t, tc.signers...)
		v := mustVerifier(t, tc.keys, at(now))
		for bname, body := range bodies {
			if err := v.Verify(body, s.Headers("evt_01JD", now, body)); err != nil {
				t.Errorf("%s/%s: Verify = %v", tc.name, bname, err)
			}
		}
	}
}

func TestSignOrderAndVersions(t *testing.T) {
	t.Parallel()
	sec1, sec2 := mustSecret(t), mustSecret(t)
	priv, _ := mustKeyPair(t)
	got := strings.Fields(mustSigner(t, sec1, priv, sec2).Sign(katID, katTime, []byte(katBody)))
	if len(got) != 3 {
		t.Fatalf("Sign gave %d entries, want 3: %q", len(got), got)
	}
	for i, want := range []string{
		mustSigner(t, sec1).Sign(katID, katTime, []byte(katBody)),
		mustSigner(t, priv).Sign(katID, katTime, []byte(katBody)),
		mustSigner(t, sec2).Sign(katID, katTime, []byte(katBody)),
	} {
		if got[i] != want {
			t.Errorf("entry %d = %q, want %q", i, got[i], want)
		}
	}
}

func TestRotation(t *testing.T) {
	t.Parallel()
	oldSecret, newSecret, other := mustSecret(t), mustSecret(t), mustSecret(t)
	oldPriv, oldPub := mustKeyPair(t)
	newPriv, newPub := mustKeyPair(t)
	body := []byte(`{"rotating":true}`)
	for _, tc := range []struct {
		name    string
		signers []string
		keys    []string
		ok      bool
	}{
		{"receiver knows new", []string{newSecret, oldSecret}, []string{newSecret}, true},
		{"receiver knows old", []string{newSecret, oldSecret}, []string{oldSecret}, true},
		{"receiver knows both", []string{newSecret, oldSecret}, []string{oldSecret, newSecret}, true},
		{"receiver moved on before sender", []string{oldSecret}, []string{newSecret}, false},
		{"receiver holds both during grace", []string{oldSecret}, []string{newSecret, oldSecret}, true},
		{"receiver knows neither", []string{newSecret, oldSecret}, []string{other}, false},
		{"ed25519 receiver knows new", []string{newPriv, oldPriv}, []string{newPub}, true},
		{"ed25519 receiver knows old", []string{newPriv, oldPriv}, []string{oldPub}, true},
		{"ed25519 receiver knows neither", []string{newPriv}, []string{oldPub}, false},
	} {
		s := mustSigner(t, tc.signers...)
		v := mustVerifier(t, tc.keys, at(katTime))
		err := v.Verify(body, s.Headers("evt_1", katTime, body))
		if tc.ok && err != nil {
			t.Errorf("%s: Verify = %v, want nil", tc.name, err)
		}
		if !tc.ok && !errors.Is(err, webhook.ErrNoMatchingSignature) {
			t.Errorf("%s: Verify = %v, want ErrNoMatchingSignature", tc.name, err)
		}
	}
}

func TestTimestampWindow(t *testing.T) {
	t.Parallel()
	s := mustSigner(t, katSecret)
	body := []byte(katBody)
	for _, tc := range []struct {
		name      string
		now       time.Time
		tolerance time.Duration // 0 = default
		want      error
	}{
		{"same second", katTime, 0, nil},
		{"sub-second later", katTime.Add(999 * time.Millisecond), 0, nil},
		{"exactly 5m old", katTime.Add(5 * time.Minute), 0, nil},
		{"exactly 5m ahead", katTime.Add(-5 * time.Minute), 0, nil},
		{"5m1s old", katTime.Add(5*time.Minute + time.Second), 0, webhook.ErrTimestampTooOld},
		{"5m1s ahead", katTime.Add(-5*time.Minute - time.Second), 0, webhook.ErrTimestampTooNew},
		{"a day old", katTime.Add(24 * time.Hour), 0, webhook.ErrTimestampTooOld},
		{"a year ahead", katTime.Add(-365 * 24 * time.Hour), 0, webhook.ErrTimestampTooNew},
		{"custom tolerance accepts", katTime.Add(time.Hour), time.Hour, nil},
		{"custom tolerance rejects", katTime.Add(31 * time.Second), 30 * time.Second, webhook.ErrTimestampTooOld},
	} {
		opts := []webhook.Option{at(tc.now)}
		if tc.tolerance != 0 {
			opts = append(opts, webhook.WithTolerance(tc.tolerance))
		}
		err := mustVerifier(t, []string{katSecret}, opts...).Verify(body, s.Headers(katID, katTime, body))
		if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
			t.Errorf("%s: Verify = %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestRejections(t *testing.T) {
	t.Parallel()
	ts := strconv.Itoa(katTimestamp)
	body := []byte(katBody)
	good := katSignature
	goodSig := strings.TrimPrefix(good, "v1,")
	v := mustVerifier(t, []string{katSecret}, at(katTime))
	for _, tc := range []struct {
		name          string
		id, ts, sig   string
		body          []byte
		want          error
		msgContains   string
		verifyHeaders bool
	}{
		{name: "missing id", id: "", ts: ts, sig: good, body: body, want: webhook.ErrMissingHeader, msgContains: "webhook-id"},
		{name: "missing timestamp", id: katID, ts: "", sig: good, body: body, want: webhook.ErrMissingHeader, msgContains: "webhook-timestamp"},
		{name: "missing signature", id: katID, ts: ts, sig: "", body: body, want: webhook.ErrMissingHeader, msgContains: "webhook-signature"},
		{name: "timestamp with letters", id: katID, ts: "1614265330abc", sig: good, body: body, want: webhook.ErrMalformedTimestamp},
		{name: "timestamp in milliseconds overflowing", id: katID, ts: "1614265330000000000000", sig: good, body: body, want: webhook.ErrMalformedTimestamp},
		{name: "negative timestamp", id: katID, ts: "-1614265330", sig: good, body: body, want: webhook.ErrMalformedTimestamp},
		{name: "plus sign", id: katID, ts: "+1614265330", sig: good, body: body, want: webhook.ErrMalformedTimestamp},
		{name: "leading zero", id: katID, ts: "01614265330", sig: good, body: body, want: webhook.ErrMalformedTimestamp},
		{name: "fractional timestamp", id: katID, ts: "1614265330.5", sig: good, body: body, want: webhook.ErrMalformedTimestamp},
		{name: "RFC 3339 timestamp", id: katID, ts: "2021-02-25T15:02:10Z", sig: good, body: body, want: webhook.ErrMalformedTimestamp},
		{name: "space in timestamp", id: katID, ts: " 1614265330", sig: good, body: body, want: webhook.ErrMalformedTimestamp},
		{name: "no comma", id: katID, ts: ts, sig: "v1" + goodSig, body: body, want: webhook.ErrMalformedSignature, msgContains: "entry 1"},
		{name: "empty version", id: katID, ts: ts, sig: "," + goodSig, body: body, want: webhook.ErrMalformedSignature},
		{name: "not base64", id: katID, ts: ts, sig: "v1,!!!notbase64!!!", body: body, want: webhook.ErrMalformedSignature, msgContains: "base64"},
		{name: "truncated", id: katID, ts: ts, sig: good[:len(good)-4], body: body, want: webhook.ErrMalformedSignature},
		{name: "hex instead of base64", id: katID, ts: ts, sig: "v1,834" + strings.Repeat("0", 61), body: body, want: webhook.ErrMalformedSignature},
		{name: "empty v1 signature", id: katID, ts: ts, sig: "v1,", body: body, want: webhook.ErrMalformedSignature},
		{name: "whitespace only", id: katID, ts: ts, sig: "   ", body: body, want: webhook.ErrMalformedSignature},
		{name: "unknown version only", id: katID, ts: ts, sig: "v2," + goodSig, body: body, want: webhook.ErrMalformedSignature, msgContains: `"v2"`},
		{name: "known signature under unknown version", id: katID, ts: ts, sig: "v1b," + goodSig + " v0," + goodSig, body: body, want: webhook.ErrMalformedSignature},
		{name: "tampered body", id: katID, ts: ts, sig: good, body: []byte(`{"test": 2432232315}`), want: webhook.ErrNoMatchingSignature},
		{name: "re-encoded body", id: katID, ts: ts, sig: good, body: []byte(`{"test":2432232314}`), want: webhook.ErrNoMatchingSignature},
		{name: "empty body", id: katID, ts: ts, sig: good, body: nil, want: webhook.ErrNoMatchingSignature},
		{name: "other id", id: katID + "x", ts: ts, sig: good, body: body, want: webhook.ErrNoMatchingSignature},
		{name: "other timestamp", id: katID, ts: strconv.Itoa(katTimestamp + 1), sig: good, body: body, want: webhook.ErrNoMatchingSignature},
		{name: "flipped signature bit", id: katID, ts: ts, sig: "v1,h0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", body: body, want: webhook.ErrNoMatchingSignature},
		{name: "ed25519 signature only, hmac verifier", id: katID, ts: ts, sig: katEd25519Sig, body: body, want: webhook.ErrNoMatchingSignature, msgContains: "v1a"},
		{name: "too many signatures", id: katID, ts: ts, sig: strings.Repeat("v1,"+strings.Repeat("A", 43)+"= ", 65) + good, body: body, want: webhook.ErrMalformedSignature, msgContains: "more than"},
	} {
		err := v.VerifyValues(tc.id, tc.ts, tc.sig, tc.body)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: VerifyValues = %v, want %v", tc.name, err, tc.want)
			continue
		}
		if tc.msgContains != "" && !strings.Contains(err.Error(), tc.msgContains) {
			t.Errorf("%s: error %q does not mention %q", tc.name, err, tc.msgContains)
		}
	}
}

func TestWrongSecret(t *testing.T) {
	t.Parallel()
	other := mustSecret(t)
	_, otherPub := mustKeyPair(t)
	for _, keys := range [][]string{{other}, {otherPub, other}} {
		v := mustVerifier(t, keys, at(katTime))
		err := v.VerifyValues(katID, strconv.Itoa(katTimestamp), katSignature+" "+katEd25519Sig, []byte(katBody))
		if !errors.Is(err, webhook.ErrNoMatchingSignature) {
			t.Errorf("keys %d: VerifyValues = %v, want ErrNoMatchingSignature", len(keys), err)
		}
	}
	v := mustVerifier(t, []string{otherPub}, at(katTime))
	if err := v.VerifyValues(katID, strconv.Itoa(katTimestamp), katSignature, []byte(katBody)); !errors.Is(err, webhook.ErrNoMatchingSignature) || !strings.Contains(err.Error(), "whpk_") {
		t.Errorf("v1 header against public key only: %v", err)
	}
}

func TestDecoysAroundValidSignature(t *testing.T) {
	t.Parallel()
	body := []byte(katBody)
	ts := strconv.Itoa(katTimestamp)
	wrong := mustSigner(t, mustSecret(t)).Sign(katID, katTime, body)
	wrongPriv, _ := mustKeyPair(t)
	wrongEd := mustSigner(t, wrongPriv).Sign(katID, katTime, body)
	decoys := []string{
		wrong,
		wrongEd,
		"v2," + strings.TrimPrefix(katSignature, "v1,"),
		"v1a,AAAA",
		"garbage",
		"v1,not-base64",
		",,,",
		"v1," + strings.Repeat("A", 40),
	}
	v := mustVerifier(t, []string{katSecret}, at(katTime))
	vEd := mustVerifier(t, []string{katPublicKey}, at(katTime))
	for _, tc := range []struct {
		name  string
		valid string
		v     *webhook.Verifier
	}{{"v1", katSignature, v}, {"v1a", katEd25519Sig, vEd}} {
		for pos := 0; pos <= len(decoys); pos++ {
			list := append(append(append([]string{}, decoys[:pos]...), tc.valid), decoys[pos:]...)
			for _, sep := range []string{" ", "  ", "\t"} {
				header := strings.Join(list, sep)
				if err := tc.v.VerifyValues(katID, ts, header, body); err != nil {
					t.Errorf("%s at %d with %q: VerifyValues = %v", tc.name, pos, sep, err)
				}
			}
		}
		if err := tc.v.VerifyValues(katID, ts, strings.Join(decoys, " "), body); !errors.Is(err, webhook.ErrNoMatchingSignature) {
			t.Errorf("%s decoys alone: VerifyValues = %v, want ErrNoMatchingSignature", tc.name, err)
		}
	}
}

func TestVerifyHeaderHandling(t *testing.T) {
	t.Parallel()
	body := []byte(katBody)
	v := mustVerifier(t, []string{katSecret}, at(katTime))
	wrong := mustSigner(t, mustSecret(t)).Sign(katID, katTime, body)

	// Header names are case-insensitive; a request parsed by net/http has canonical keys.
	h := http.Header{}
	h.Set("WEBHOOK-ID", katID)
	h.Set("Webhook-Timestamp", strconv.Itoa(katTimestamp))
	h.Set("webhook-signature", katSignature)
	if err := v.Verify(body, h); err != nil {
		t.Errorf("mixed-case names: %v", err)
	}

	// Maps built by hand may carry the lowercase wire names.
	lower := http.Header{
		"webhook-id":        {katID},
		"webhook-timestamp": {strconv.Itoa(katTimestamp)},
		"webhook-signature": {katSignature},
	}
	if err := v.Verify(body, lower); err != nil {
		t.Errorf("lowercase map keys: %v", err)
	}

	// Several signature lines count as one list.
	h.Set(webhook.HeaderSignature, wrong)
	h.Add(webhook.HeaderSignature, katSignature)
	if err := v.Verify(body, h); err != nil {
		t.Errorf("signature split over two lines: %v", err)
	}

	for _, name := range []string{webhook.HeaderID, webhook.HeaderTimestamp, webhook.HeaderSignature} {
		h := mustSigner(t, katSecret).Headers(katID, katTime, body)
		h.Del(name)
		err := v.Verify(body, h)
		if !errors.Is(err, webhook.ErrMissingHeader) || !strings.Contains(err.Error(), name) {
			t.Errorf("without %s: Verify = %v, want ErrMissingHeader naming it", name, err)
		}
	}
}

func TestNewSecret(t *testing.T) {
	t.Parallel()
	a, b := mustSecret(t), mustSecret(t)
	if a == b {
		t.Fatal("two secrets are equal")
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(a, "whsec_"))
	if !strings.HasPrefix(a, "whsec_") || err != nil || len(raw) != 32 {
		t.Fatalf("secret %q: prefix or 32-byte base64 body missing (%v, %d bytes)", a, err, len(raw))
	}
}

func TestNewKeyPair(t *testing.T) {
	t.Parallel()
	priv, pub := mustKeyPair(t)
	if !strings.HasPrefix(priv, "whsk_") || !strings.HasPrefix(pub, "whpk_") {
		t.Fatalf("prefixes: %q %q", priv[:5], pub[:5])
	}
	derived, err := webhook.PublicKey(priv)
	if err != nil || derived != pub {
		t.Fatalf("PublicKey(private) = %q, %v; want %q", derived, err, pub)
	}
	if _, err := webhook.PublicKey(pub); !errors.Is(err, webhook.ErrInvalidSecret) {
		t.Errorf("PublicKey(public) = %v, want ErrInvalidSecret", err)
	}
	if _, err := webhook.PublicKey(katSecret); !errors.Is(err, webhook.ErrInvalidSecret) {
		t.Errorf("PublicKey(whsec) = %v, want ErrInvalidSecret", err)
	}
}

func TestInvalidSecrets(t *testing.T) {
	t.Parallel()
	// The public half of this whsk_ key is the KAT key with one bit flipped.
	mismatched := "whsk_nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2DXWpgBgrEKt9VL/tPJZAc6DuFy89qmIyWvAhpo9wdRGw=="
	short := "whsec_" + base64.StdEncoding.EncodeToString([]byte("sixteen byte key"))
	for _, tc := range []struct {
		name     string
		secret   string
		signer   bool // rejected by NewSigner
		verifier bool // rejected by NewVerifier
	}{
		{"empty", "", true, true},
		{"prefix only", "whsec_", true, true},
		{"not base64", "whsec_this is not base64!", true, true},
		{"unprefixed garbage", "secret-password", true, true},
		{"too short to sign", short, true, false},
		{"public key given to signer", katPublicKey, true, false},
		{"private key given to verifier", katPrivateKey, false, true},
		{"public key of wrong size", "whpk_" + base64.StdEncoding.EncodeToString(make([]byte, 31)), true, true},
		{"private key of wrong size", "whsk_" + base64.StdEncoding.EncodeToString(make([]byte, 48)), true, true},
		{"private key with foreign public half", mismatched, true, true},
		{"private key not base64", "whsk_%%%", true, true},
		{"public key not base64", "whpk_%%%", true, true},
	} {
		_, errS := webhook.NewSigner(mustSecret(t), tc.secret)
		_, errV := webhook.NewVerifier([]string{tc.secret})
		for _, c := range []struct {
			who    string
			err    error
			reject bool
		}{{"NewSigner", errS, tc.signer}, {"NewVerifier", errV, tc.verifier}} {
			if !c.reject {
				if c.err != nil {
					t.Errorf("%s: %s = %v, want nil", tc.name, c.who, c.err)
				}
				continue
			}
			if !errors.Is(c.err, webhook.ErrInvalidSecret) {
				t.Errorf("%s: %s = %v, want ErrInvalidSecret", tc.name, c.who, c.err)
				continue
			}
			body := tc.secret[strings.IndexByte(tc.secret, '_')+1:]
			if len(body) >= 4 && strings.Contains(c.err.Error(), body) {
				t.Errorf("%s: %s error %q leaks the secret", tc.name, c.who, c.err)
			}
		}
	}
	if _, err := webhook.NewSigner(mustSecret(t), "bad"); err == nil || !strings.Contains(err.Error(), "2 of 2") {
		t.Errorf("error does not say which secret is bad: %v", err)
	}
	if _, err := webhook.NewSigner(); !errors.Is(err, webhook.ErrInvalidSecret) {
		t.Errorf("NewSigner() = %v, want ErrInvalidSecret", err)
	}
	if _, err := webhook.NewVerifier(nil); !errors.Is(err, webhook.ErrInvalidSecret) {
		t.Errorf("NewVerifier(nil) = %v, want ErrInvalidSecret", err)
	}
	if _, err := webhook.NewVerifier([]string{katSecret}, webhook.WithTolerance(-time.Second)); err == nil {
		t.Error("NewVerifier accepted a negative tolerance")
	}
}

func TestUnpaddedSecretAccepted(t *testing.T) {
	t.Parallel()
	secret := "whsec_" + base64.RawStdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	padded := "whsec_" + base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	if secret == padded {
		t.Fatal("test secret needs padding to be meaningful")
	}
	if a, b := mustSigner(t, secret).Sign("a", katTime, nil), mustSigner(t, padded).Sign("a", katTime, nil); a != b {
		t.Errorf("unpadded and padded secrets sign differently: %q vs %q", a, b)
	}
}

func TestStringHidesSecrets(t *testing.T) {
	t.Parallel()
	s := mustSigner(t, katSecret, katPrivateKey)
	v := mustVerifier(t, []string{katSecret, katPublicKey})
	raw, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(katSecret, "whsec_"))
	leaks := []string{"MfKQ9r8", "nWGxne", fmt.Sprint(raw[:3]), fmt.Sprintf("%#v", raw[:3])}
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		for _, x := range []any{s, v} {
			out := fmt.Sprintf(format, x)
			for _, leak := range leaks {
				if strings.Contains(out, strings.Trim(leak, "[]{}")) {
					t.Errorf("%s of %T prints key material: %s", format, x, out)
				}
			}
		}
	}
}

// Verification must not depend on wall-clock time when a clock is injected, and the
// default clock must be the real one.
func TestDefaultClock(t *testing.T) {
	t.Parallel()
	s := mustSigner(t, katSecret)
	v := mustVerifier(t, []string{katSecret})
	if err := v.Verify([]byte("x"), s.Headers("evt_1", time.Now(), []byte("x"))); err != nil {
		t.Errorf("fresh webhook with the default clock: %v", err)
	}
	if err := v.Verify([]byte(katBody), s.Headers(katID, katTime, []byte(katBody))); !errors.Is(err, webhook.ErrTimestampTooOld) {
		t.Errorf("2021 webhook with the default clock: %v, want ErrTimestampTooOld", err)
	}
}
