package bench

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"
)

func TestParseCommits(t *testing.T) {
	text := `# HELP hookd_publish_batch_events Events per group commit.
# TYPE hookd_publish_batch_events histogram
hookd_publish_batch_events_bucket{le="1"} 3
hookd_publish_batch_events_bucket{le="+Inf"} 40
hookd_publish_batch_events_sum 412
hookd_publish_batch_events_count 40
hookd_publish_commit_seconds_sum 0.5
hookd_publish_commit_seconds_count 40
`
	events, commits := parseCommits(text)
	if events != 412 || commits != 40 {
		t.Fatalf("parseCommits = %v events, %v commits; want 412, 40", events, commits)
	}
	if e, c := parseCommits("garbage\nhookd_publish_batch_events_sum x\n"); e != 0 || c != 0 {
		t.Fatalf("unparsable text: %v, %v; want zeros", e, c)
	}
}

// TestRepeated: the reported run is the one with the median rate, every
// run's rate is kept, and only the first run is profiled.
func TestRepeated(t *testing.T) {
	r := &run{opt: Options{Repeat: 5, ProfileDir: "prof"}, log: io.Discard}
	rates := []float64{300, 100, 500, 200, 400}
	var profiled []string
	i := 0
	res, err := r.repeated(context.Background(), func(context.Context) (Result, error) {
		profiled = append(profiled, r.opt.ProfileDir)
		res := Result{PerSecond: rates[i], Note: "n", Extra: map[string]float64{"x": rates[i]}}
		i++
		return res, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.PerSecond != 300 || res.Extra["x"] != 300 {
		t.Fatalf("reported %v/s (extra %v), want the median run, 300/s", res.PerSecond, res.Extra["x"])
	}
	for j, want := range rates {
		if got := res.Extra[runKey(j)]; got != want {
			t.Fatalf("%s = %v, want %v", runKey(j), got, want)
		}
	}
	if profiled[0] != "prof" || profiled[1] != "" || profiled[4] != "" || r.opt.ProfileDir != "prof" {
		t.Fatalf("profile dirs seen %q, after %q; want only the first run profiled and the option restored", profiled, r.opt.ProfileDir)
	}

	boom := errors.New("boom")
	r.opt.Repeat = 3
	if _, err := r.repeated(context.Background(), func(context.Context) (Result, error) { return Result{}, boom }); !errors.Is(err, boom) {
		t.Fatalf("err = %v, want the scenario's", err)
	}
}

// TestSoakResult: figures are read after warm-up (a tenth of the run), at
// the end and at their highest.
func TestSoakResult(t *testing.T) {
	var samples []soakSample
	for i := range 11 {
		samples = append(samples, soakSample{at: time.Duration(i) * time.Minute, rssMiB: float64(40 + i%3),
			goroutines: 100 + i, openFiles: 20, walMiB: 4, published: int64(i * 100), received: int64(i * 90)})
	}
	res := soakResult(samples, map[string]int64{"/soak/healthy": 900}, 10*time.Minute)
	for k, want := range map[string]float64{
		"rss_mib_after_warmup": 41, "rss_mib_at_end": 41, "rss_mib_max": 42,
		"goroutines_after_warmup": 101, "goroutines_at_end": 110, "received_soak_healthy": 900,
	} {
		if got := res.Extra[k]; got != want {
			t.Errorf("%s = %v, want %v", k, got, want)
		}
	}
	if res.Events != 1000 || res.Deliveries != 900 || res.PerSecond != 1000/600.0 {
		t.Errorf("result %+v", res)
	}
}
