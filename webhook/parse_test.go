package webhook

import (
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestParseSignatureHeader(t *testing.T) {
	t.Parallel()
	v1 := "v1," + base64.StdEncoding.EncodeToString(make([]byte, 32))
	v1a := "v1a," + base64.StdEncoding.EncodeToString(make([]byte, 64))
	for _, tc := range []struct {
		header    string
		versions  []string
		malformed int
		unknown   []string
		err       error
	}{
		{header: v1, versions: []string{"v1"}},
		{header: v1 + " " + v1a, versions: []string{"v1", "v1a"}},
		{header: " \t" + v1a + "  \n", versions: []string{"v1a"}},
		{header: "v2,abc " + v1, versions: []string{"v1"}, unknown: []string{"v2"}},
		{header: "junk " + v1 + " v1,@@", versions: []string{"v1"}, malformed: 2},
		{header: v1 + ",extra", malformed: 1, err: ErrMalformedSignature},                                     // comma inside base64 part
		{header: "v1a," + v1[3:], malformed: 1, err: ErrMalformedSignature},                                   // v1-sized under v1a
		{header: "v1," + v1a[4:], malformed: 1, err: ErrMalformedSignature},                                   // v1a-sized under v1
		{header: "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB=", malformed: 1, err: ErrMalformedSignature}, // stray padding bits
		{header: "v3,x v3,y v4,z", unknown: []string{"v3", "v4"}, err: ErrMalformedSignature},
		{header: "", err: ErrMalformedSignature},
	} {
		l := parseSignatureHeader(tc.header)
		var versions []string
		for _, e := range l.entries {
			versions = append(versions, e.version)
		}
		if !slices.Equal(versions, tc.versions) || l.malformed != tc.malformed || !slices.Equal(l.unknown, tc.unknown) {
			t.Errorf("%q: versions %v malformed %d unknown %v; want %v %d %v", tc.header, versions, l.malformed, l.unknown, tc.versions, tc.malformed, tc.unknown)
		}
		if err := l.err(); (tc.err == nil) != (err == nil) || !errors.Is(err, tc.err) {
			t.Errorf("%q: err() = %v, want %v", tc.header, err, tc.err)
		}
	}
}

func FuzzParseSignatureHeader(f *testing.F) {
	for _, seed := range []string{
		"",
		"v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
		"v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE= v1a,fldxM4gAKugP6nnt1hdz3sgGfZ6d99nzrMFnZOELIxbzEHoVmAb2ADpkJK7zgPePmPsle0zV9jSeGlHFG2NVAw==",
		"v2,abc v1,@@@ ,,, v1 v1a,",
		"v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=\tv1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=\r\n",
		"v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE",
		"\x00,\xff v1,\u00e9",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, header string) {
		l := parseSignatureHeader(header)
		fields := strings.Fields(header)
		if l.total != len(fields) {
			t.Fatalf("total %d, want %d fields", l.total, len(fields))
		}
		if len(l.entries)+l.malformed > l.total || len(l.entries) > maxSignatures {
			t.Fatalf("entries %d + malformed %d of %d", len(l.entries), l.malformed, l.total)
		}
		for _, e := range l.entries {
			want := map[string]int{VersionHMAC: 32, VersionEd25519: 64}[e.version]
			if len(e.sig) != want {
				t.Fatalf("entry %s has %d bytes", e.version, len(e.sig))
			}
			// Strict decoding means every accepted entry is the canonical text of its
			// bytes, as other libraries (which compare text) would see it.
			if text := e.version + "," + base64.StdEncoding.EncodeToString(e.sig); !slices.Contains(fields, text) {
				t.Fatalf("entry %q is not a field of the header", text)
			}
		}
		if (l.err() == nil) != (len(l.entries) > 0 && !l.tooMany) {
			t.Fatalf("err() = %v with %d entries, tooMany %v", l.err(), len(l.entries), l.tooMany)
		}
	})
}
