package app_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/app"
)

// smallDisk mounts a tmpfs of size bytes and returns its path; it skips the
// test where mounting is not permitted (not root, no CAP_SYS_ADMIN), except
// in CI, which runs as root on machines that can.
func smallDisk(t *testing.T, size int64) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "disk")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d", size)); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("mount a tmpfs for the disk-full test: %v", err)
		}
		t.Skipf("cannot mount a tmpfs to fill up (%v); needs root", err)
	}
	// Registered after TempDir's cleanup, so it runs before it.
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// TestDiskFull: on SQLite, when the disk fills up, publishes answer 503
// (never a 202 for an event that was not stored) and nothing else fails;
// deliveries already stored go on; once space is freed publishing resumes,
// and every event ever accepted is delivered.
func TestDiskFull(t *testing.T) {
	if testing.Short() {
		t.Skip("fills a disk")
	}
	disk := smallDisk(t, 24<<20)
	// What the operator frees later: most of the disk.
	ballast := filepath.Join(disk, "ballast")
	if err := os.WriteFile(ballast, make([]byte, 8<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	// Every event's first attempt fails, so that retries (claims and
	// outcomes, writes of their own) have to go on while the disk is full.
	recv := newFirstFails(t)
	s := start(t, func(c *app.Config) {
		c.DB = filepath.Join(disk, "hookd.db")
		c.RetrySchedule = []time.Duration{20 * time.Millisecond, 100 * time.Millisecond, time.Second}
		// Thousands of first attempts fail in a row: the breaker must not
		// hold the endpoint, this test is about the retries' writes.
		c.BreakerAfter = 1 << 30
	})
	p := s.newProject("full")
	s.newEndpoint(p, recv.srv.URL)

	var (
		mu       sync.Mutex
		accepted []string
		codes    = map[int]int{}
	)
	data := strings.Repeat("x", 8<<10)
	publish := func(stop <-chan struct{}, until func() bool) {
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					if until() {
						return
					}
					var ev published
					body, _ := json.Marshal(map[string]any{"type": "disk.filled", "data": map[string]any{"g": g, "i": i, "pad": data}})
					code, raw, err := s.send("POST", "/v1/projects/"+p.ID+"/events", p.Key, body)
					if err != nil {
						code = -1 // counted, and fails the test below
					}
					mu.Lock()
					codes[code]++
					if code == 202 {
						if err := json.Unmarshal(raw, &ev); err == nil {
							accepted = append(accepted, ev.ID)
						}
					}
					mu.Unlock()
					if code != 202 {
						time.Sleep(2 * time.Millisecond)
					}
				}
			})
		}
		wg.Wait()
	}
	count := func(code int) int {
		mu.Lock()
		defer mu.Unlock()
		return codes[code]
	}
	// Fill the disk: publish until publishes have been refused for a while.
	stop := make(chan struct{})
	deadline := time.Now().Add(2 * time.Minute)
	publish(stop, func() bool {
		if time.Now().After(deadline) {
			return true
		}
		return count(503) >= 200
	})
	if count(503) < 200 {
		t.Fatalf("the disk never filled up: answers %v", codes)
	}
	for code, n := range codes {
		if code != 202 && code != 503 {
			t.Errorf("%d publishes answered %d while the disk filled; want only 202 and 503", n, code)
		}
	}
	mu.Lock()
	atFull := len(accepted)
	mu.Unlock()
	t.Logf("disk full after %d accepted events; answers %v", atFull, codes)

	// Stored deliveries go on while the disk is full: retries are claimed
	// and their outcomes recorded, until every one has succeeded.
	waitReceived(t, recv, accepted[:atFull], 60*time.Second, "while the disk is full")
	settled(t, s, p, 60*time.Second, "while the disk is full")

	// Free space: publishing resumes, and nothing accepted is lost.
	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	before := count(202)
	resumed := time.Now().Add(30 * time.Second)
	publish(stop, func() bool { return count(202) >= before+200 || time.Now().After(resumed) })
	if count(202) < before+200 {
		t.Fatalf("publishing did not resume after space was freed: answers %v", codes)
	}
	mu.Lock()
	all := append([]string(nil), accepted...)
	mu.Unlock()
	waitReceived(t, recv, all, 60*time.Second, "after space was freed")
	settled(t, s, p, 60*time.Second, "after space was freed")
	for _, id := range all {
		s.must(200, "GET", "/v1/projects/"+p.ID+"/events/"+id, p.Key, nil, nil)
	}
	t.Logf("%d events accepted in all, every one stored and delivered; answers %v", len(all), codes)
}

// firstFails is a receiver that answers 500 to the first request of every
// event and 200 to the ones after.
type firstFails struct {
	srv  *httptest.Server
	mu   sync.Mutex
	seen map[string]int // requests by webhook-id
}

func newFirstFails(t *testing.T) *firstFails {
	r := &firstFails{seen: map[string]int{}}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		id := req.Header.Get("webhook-id")
		r.seen[id]++
		n := r.seen[id]
		r.mu.Unlock()
		if n == 1 {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// waitReceived waits until the receiver has had every event of ids at
// least twice (the first attempt fails).
func waitReceived(t *testing.T, r *firstFails, ids []string, d time.Duration, when string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		missing := 0
		r.mu.Lock()
		for _, id := range ids {
			if r.seen[id] < 2 {
				missing++
			}
		}
		r.mu.Unlock()
		if missing == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d of %d accepted events never reached the receiver after their failed first attempt", when, missing, len(ids))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// settled waits until every delivery of p has succeeded: none unfinished,
// none failed.
func settled(t *testing.T, s *server, p project, d time.Duration, when string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		left := ""
		for _, status := range []string{"pending", "delivering", "retrying", "failed"} {
			var list struct{ Items []json.RawMessage }
			s.must(200, "GET", "/v1/projects/"+p.ID+"/deliveries?limit=1&status="+status, p.Key, nil, &list)
			if len(list.Items) > 0 {
				left = status + ": " + string(list.Items[0])
				break
			}
		}
		if left == "" {
			return
		}
		if strings.HasPrefix(left, "failed") || time.Now().After(deadline) {
			t.Fatalf("%s: not every delivery succeeded, e.g. %s", when, left)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
