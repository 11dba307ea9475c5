package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hookd/hookd/webhook"
)

const crashAdminKey = "hk_adm_crash_test_key_0123456789"

// buildBinary compiles hookd once per test binary run.
var buildBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "hookd-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "hookd")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// proc is a hookd process started from the built binary.
type proc struct {
	cmd  *exec.Cmd
	base string
	mu   sync.Mutex
	logs *bytes.Buffer
}

func (p *proc) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

var servingRE = regexp.MustCompile(`hookd serving addr=(\S+)`)

// startProc runs `hookd serve` with args and waits until it listens.
func startProc(t *testing.T, args ...string) *proc {
	t.Helper()
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(os.Environ(), "HOOKD_ADMIN_KEY="+crashAdminKey)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, logs: &bytes.Buffer{}}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.mu.Lock()
			p.logs.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			if m := servingRE.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	select {
	case a := <-addr:
		p.base = "http://" + a
	case <-time.After(30 * time.Second):
		t.Fatalf("hookd did not start:\n%s", p.log())
	}
	return p
}

func (p *proc) post(path, key string, body any, out any) (int, error) {
	j, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", p.base+path, bytes.NewReader(j))
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil {
		_ = json.Unmarshal(raw, out)
	}
	return resp.StatusCode, nil
}

// TestCrashLosesNoAcceptedEvent kills hookd with SIGKILL while events are
// being published and delivered, restarts it on the same database, and
// checks that every event that got a 202 reaches the receiver at least once.
func TestCrashLosesNoAcceptedEvent(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the binary")
	}
	db := filepath.Join(t.TempDir(), "hookd.db")
	args := []string{"--db", db, "--allow-private-networks", "--retry-schedule", "50ms,100ms,200ms,500ms,1s,1s,1s,1s,1s,1s",
		"--timeout", "1s", "--lease", "2s", "--log-level", "warn"}

	var (
		mu       sync.Mutex
		received = map[string]int{}
		secret   string
	)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		s := secret
		mu.Unlock()
		v, err := webhook.NewVerifier([]string{s})
		if err != nil || v.Verify(body, r.Header) != nil {
			w.WriteHeader(400)
			return
		}
		// A little work per request keeps deliveries in flight when the
		// kill lands.
		time.Sleep(3 * time.Millisecond)
		mu.Lock()
		received[r.Header.Get("webhook-id")]++
		mu.Unlock()
	}))
	defer recv.Close()

	p := startProc(t, args...)
	var prj struct{ ID string }
	if code, err := p.post("/v1/projects", crashAdminKey, map[string]any{"name": "crash"}, &prj); code != 201 {
		t.Fatalf("create project: %d %v", code, err)
	}
	var sec struct{ Secret string }
	req, _ := http.NewRequest("GET", p.base+"/v1/projects/"+prj.ID+"/secret", nil)
	req.Header.Set("Authorization", "Bearer "+crashAdminKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = json.NewDecoder(resp.Body).Decode(&sec)
	resp.Body.Close()
	mu.Lock()
	secret = sec.Secret
	mu.Unlock()
	if code, err := p.post("/v1/projects/"+prj.ID+"/endpoints", crashAdminKey, map[string]any{"url": recv.URL}, nil); code != 201 {
		t.Fatalf("create endpoint: %d %v", code, err)
	}

	// Publish from several goroutines until the process dies.
	var (
		accMu    sync.Mutex
		accepted []string
	)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				var ev struct{ ID string }
				code, err := p.post("/v1/projects/"+prj.ID+"/events", crashAdminKey,
					map[string]any{"type": "tester.created", "data": map[string]any{"g": g, "i": i}}, &ev)
				if err != nil {
					return // the process is gone
				}
				if code == 202 {
					accMu.Lock()
					accepted = append(accepted, ev.ID)
					accMu.Unlock()
				}
			}
		}()
	}
	// Kill once a good number of events are accepted and some delivered.
	deadline := time.Now().Add(60 * time.Second)
	for {
		accMu.Lock()
		n := len(accepted)
		accMu.Unlock()
		mu.Lock()
		r := len(received)
		mu.Unlock()
		if n >= 1000 && r >= 100 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d accepted, %d received before the deadline", n, r)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = p.cmd.Wait()
	cancel()
	wg.Wait()
	mu.Lock()
	beforeRestart := len(received)
	mu.Unlock()

	p2 := startProc(t, args...)
	accMu.Lock()
	want := append([]string(nil), accepted...)
	accMu.Unlock()
	deadline = time.Now().Add(90 * time.Second)
	for {
		mu.Lock()
		missing := 0
		for _, id := range want {
			if received[id] == 0 {
				missing++
			}
		}
		mu.Unlock()
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			mu.Lock()
			shown := 0
			for _, id := range want {
				if received[id] == 0 && shown < 5 {
					shown++
					req, _ := http.NewRequest("GET", p2.base+"/v1/projects/"+prj.ID+"/deliveries?event_id="+id, nil)
					req.Header.Set("Authorization", "Bearer "+crashAdminKey)
					if resp, err := http.DefaultClient.Do(req); err == nil {
						raw, _ := io.ReadAll(resp.Body)
						resp.Body.Close()
						t.Logf("missing %s: %s", id, raw)
					}
				}
			}
			mu.Unlock()
			t.Logf("restarted hookd's log:\n%s", p2.log())
			t.Fatalf("%d of %d accepted events never reached the receiver after the restart", missing, len(want))
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	dups := 0
	for _, n := range received {
		if n > 1 {
			dups += n - 1
		}
	}
	t.Logf("crash test: %d events accepted (202), %d delivered before SIGKILL, all %d delivered after restart, %d duplicate deliveries",
		len(want), beforeRestart, len(want), dups)
}
