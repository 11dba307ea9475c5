package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// node is one hookd process under test. Running hookd as its own process
// (not in the harness's process) is what lets us read its CPU time and RSS
// apart from the publishers' and the receiver's.
type node struct {
	cmd  *exec.Cmd
	base string
	mu   sync.Mutex
	logs bytes.Buffer
}

var servingRE = regexp.MustCompile(`hookd serving addr=(\S+)`)

func startNode(ctx context.Context, binary, adminKey string, env []string, args ...string) (*node, error) {
	cmd := exec.Command(binary, append([]string{"serve", "--addr", "127.0.0.1:0", "--allow-private-networks", "--log-level", "warn"}, args...)...)
	cmd.Env = append(append(os.Environ(), "HOOKD_ADMIN_KEY="+adminKey), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	n := &node{cmd: cmd}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			n.mu.Lock()
			if n.logs.Len() < 1<<20 {
				n.logs.WriteString(sc.Text() + "\n")
			}
			n.mu.Unlock()
			if m := servingRE.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
	}()
	select {
	case a := <-addr:
		n.base = "http://" + a
		return n, nil
	case <-time.After(60 * time.Second):
	case <-ctx.Done():
	}
	n.stop()
	n.mu.Lock()
	defer n.mu.Unlock()
	return nil, fmt.Errorf("hookd did not start:\n%s", n.logs.String())
}

// stop asks hookd to drain and exit, and kills it if it takes too long.
func (n *node) stop() {
	if n.cmd.Process == nil {
		return
	}
	_ = n.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = n.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = n.cmd.Process.Kill()
		<-done
	}
}

// cpu returns the user+system CPU time the process has used so far.
func (n *node) cpu() time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", n.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// Fields after the command name (which may hold spaces) start after ')'.
	s := string(raw)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	// Linux reports clock ticks of 1/100 s (USER_HZ) to user space.
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// rss returns the resident set size now and its peak, in bytes.
func (n *node) rss() (now, peak int64) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", n.cmd.Process.Pid))
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			now = kb << 10
		case "VmHWM:":
			peak = kb << 10
		}
	}
	return now, peak
}

// apiClient calls the hookd API.
type apiClient struct {
	http *http.Client
	key  string
}

func newAPIClient(key string, conns int) *apiClient {
	return &apiClient{key: key, http: &http.Client{
		Timeout: 60 * time.Second,
		Transport: &http.Transport{
			MaxIdleConns:        conns * 2,
			MaxIdleConnsPerHost: conns * 2,
			IdleConnTimeout:     time.Minute,
		},
	}}
}

func (c *apiClient) do(method, url string, body []byte, out any) (int, error) {
	return c.doKeyed(method, url, "", body, out)
}

// doKeyed is do with an Idempotency-Key header (none when key is empty).
func (c *apiClient) doKeyed(method, url, key string, body []byte, out any) (int, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode >= 300 {
		return resp.StatusCode, fmt.Errorf("%s %s: %d %s", method, url, resp.StatusCode, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return resp.StatusCode, err
		}
	}
	return resp.StatusCode, nil
}

func (c *apiClient) post(url string, body any, out any) error {
	j, err := json.Marshal(body)
	if err != nil {
		return err
	}
	_, err = c.do("POST", url, j, out)
	return err
}
