package outbound

import (
	"math"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in     string
		want   time.Duration
		wantOK bool
	}{
		{"0", 0, true},
		{"120", 2 * time.Minute, true},
		{" 7 ", 7 * time.Second, true},
		{"007", 7 * time.Second, true},
		{"99999999999999999999999", time.Duration(math.MaxInt64), true},
		{"Thu, 26 Nov 2026 12:01:30 GMT", 90 * time.Second, true},    // IMF-fixdate
		{"Thursday, 26-Nov-26 12:00:10 GMT", 10 * time.Second, true}, // RFC 850
		{"Thu Nov 26 12:00:05 2026", 5 * time.Second, true},          // asctime
		{"Thu, 26 Nov 2026 12:00:00 GMT", 0, true},
		{"Thu, 26 Nov 2026 11:59:59 GMT", 0, false}, // in the past
		{"", 0, false},
		{"   ", 0, false},
		{"-1", 0, false},
		{"+5", 0, false},
		{"1.5", 0, false},
		{"5s", 0, false},
		{"1 2", 0, false},
		{"soon", 0, false},
		{"2026-11-26T12:01:00Z", 0, false},
	}
	for _, tt := range tests {
		got, ok := ParseRetryAfter(tt.in, now)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("ParseRetryAfter(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.wantOK)
		}
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"0", "120", "-1", "+5", "1e3", " 3 ", "99999999999999999999",
		"Thu, 26 Nov 2026 12:01:30 GMT", "Thursday, 26-Nov-26 12:00:10 GMT",
		"Thu Nov 26 12:00:05 2026", "Mon, 01 Jan 0001 00:00:00 GMT", "", "\x00"} {
		f.Add(s)
	}
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		d, ok := ParseRetryAfter(v, now)
		if !ok {
			if d != 0 {
				t.Fatalf("ParseRetryAfter(%q) = %v with ok=false", v, d)
			}
			return
		}
		if d < 0 {
			t.Fatalf("ParseRetryAfter(%q) = %v, negative", v, d)
		}
		trimmed := strings.TrimSpace(v)
		if isDigits(trimmed) {
			return
		}
		// Anything else accepted must be an HTTP date at or after now.
		at, err := http.ParseTime(trimmed)
		saturated := d == time.Duration(math.MaxInt64) && at.Sub(now) == d
		if err != nil || !(now.Add(d).Equal(at) || saturated) {
			t.Fatalf("ParseRetryAfter(%q) = %v, which is not an HTTP date (%v)", v, d, err)
		}
	})
}
