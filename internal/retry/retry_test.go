package retry

import (
	"slices"
	"testing"
	"time"
)

func TestScheduleJitterBounds(t *testing.T) {
	t.Parallel()
	for _, r := range []float64{0, 0.5, 0.999999} {
		s := &Schedule{Delays: DefaultSchedule, Jitter: DefaultJitter, Rand: func() float64 { return r }}
		for i, base := range DefaultSchedule {
			d, ok := s.Next(i + 1)
			if !ok {
				t.Fatalf("attempt %d: no delay", i+1)
			}
			lo, hi := time.Duration(float64(base)*0.8), time.Duration(float64(base)*1.2)
			if d < lo || d > hi {
				t.Errorf("attempt %d r=%v: delay %v outside [%v,%v]", i+1, r, d, lo, hi)
			}
		}
		if _, ok := s.Next(len(DefaultSchedule) + 1); ok {
			t.Errorf("attempt past the schedule still retried")
		}
	}
	if _, ok := Default().Next(0); ok {
		t.Error("attempt 0 must not be scheduled")
	}
}

func TestDefaultScheduleIsAboutThreeDays(t *testing.T) {
	t.Parallel()
	var total time.Duration
	for _, d := range DefaultSchedule {
		total += d
	}
	if total < 70*time.Hour || total > 80*time.Hour {
		t.Fatalf("default schedule spans %v, want about 3 days", total)
	}
	if got := Default().Attempts(); got != 10 {
		t.Fatalf("attempts = %d, want 10", got)
	}
}

func TestParseSchedule(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want []time.Duration
		bad  bool
	}{
		{in: "5s,5m,30m", want: []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute}},
		{in: " 10ms , 1h ", want: []time.Duration{10 * time.Millisecond, time.Hour}},
		{in: "", bad: true},
		{in: "5s,,5m", bad: true},
		{in: "5", bad: true},
		{in: "-5s", bad: true},
		{in: "0s", bad: true},
		{in: "soon", bad: true},
	}
	for _, tt := range tests {
		got, err := ParseSchedule(tt.in)
		if tt.bad {
			if err == nil {
				t.Errorf("ParseSchedule(%q) = %v, want error", tt.in, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseSchedule(%q): %v", tt.in, err)
			continue
		}
		if len(got) != len(tt.want) {
			t.Errorf("ParseSchedule(%q) = %v, want %v", tt.in, got, tt.want)
			continue
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Errorf("ParseSchedule(%q)[%d] = %v, want %v", tt.in, i, got[i], tt.want[i])
			}
		}
	}
}

func FuzzParseSchedule(f *testing.F) {
	for _, s := range []string{"5s,5m,30m", "", "1h,", "-1s", "9999999999h"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ds, err := ParseSchedule(s)
		if err != nil {
			return
		}
		if len(ds) == 0 || len(ds) > 100 {
			t.Fatalf("accepted %d delays", len(ds))
		}
		for _, d := range ds {
			if d <= 0 {
				t.Fatalf("accepted non-positive delay %v", d)
			}
		}
	})
}

func TestClassify(t *testing.T) {
	t.Parallel()
	tests := map[int]Verdict{200: Delivered, 204: Delivered, 299: Delivered, 0: Retry, 301: Retry, 302: Retry,
		400: Retry, 404: Retry, 410: Gone, 429: Retry, 500: Retry, 503: Retry}
	for code, want := range tests {
		if got := Classify(code); got != want {
			t.Errorf("Classify(%d) = %v, want %v", code, got, want)
		}
	}
}

func TestDelayHonoursRetryAfter(t *testing.T) {
	t.Parallel()
	s := &Schedule{Delays: []time.Duration{5 * time.Second, time.Minute}}
	tests := []struct {
		name       string
		attempt    int
		code       int
		retryAfter time.Duration
		want       time.Duration
		ok         bool
	}{
		{"schedule", 1, 500, 0, 5 * time.Second, true},
		{"429 longer", 1, 429, 2 * time.Minute, 2 * time.Minute, true},
		{"503 longer", 2, 503, 10 * time.Minute, 10 * time.Minute, true},
		{"429 shorter keeps schedule", 2, 429, time.Second, time.Minute, true},
		{"500 ignores retry-after", 1, 500, time.Hour, 5 * time.Second, true},
		{"capped", 1, 429, 30 * 24 * time.Hour, MaxRetryAfter, true},
		{"exhausted", 3, 429, time.Hour, 0, false},
	}
	for _, tt := range tests {
		got, ok := Delay(s, tt.attempt, tt.code, tt.retryAfter)
		if got != tt.want || ok != tt.ok {
			t.Errorf("%s: Delay = %v,%v want %v,%v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}

func TestFormatSchedule(t *testing.T) {
	t.Parallel()
	if got, want := FormatSchedule(DefaultSchedule), "5s,5m,30m,2h,5h,10h,14h,20h,24h"; got != want {
		t.Fatalf("FormatSchedule(DefaultSchedule) = %q, want %q", got, want)
	}
	odd := []time.Duration{1500 * time.Millisecond, 90 * time.Minute, time.Hour + time.Second, 100 * time.Millisecond}
	got, err := ParseSchedule(FormatSchedule(odd))
	if err != nil || !slices.Equal(got, odd) {
		t.Fatalf("round trip of %v: %v, %v (%q)", odd, got, err, FormatSchedule(odd))
	}
}
