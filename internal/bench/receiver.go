package bench

import (
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hookd/hookd/webhook"
)

// receiver is the local webhook receiver: it verifies every signature (a
// delivery that does not verify counts as bad, not as delivered), notes
// when each event arrived and by which path (endpoint), and can be told to
// hang on one path to play a dead endpoint.
type receiver struct {
	srv      *http.Server
	ln       net.Listener
	verifier atomic.Pointer[webhook.Verifier]
	hangPath atomic.Pointer[string]
	// slowPath answers after soakSlow; failPath always answers 500.
	slowPath atomic.Pointer[string]
	failPath atomic.Pointer[string]
	// hang is closed to let every request held on hangPath go.
	hang atomic.Pointer[chan struct{}]
	// flakyPrefix: on paths that start with it, the first attempt of
	// every fifth event ("i" divisible by 5) answers 500; on those that
	// end in "/ordered" the events of each ordering key ("k") are
	// checked to arrive in order.
	flakyPrefix atomic.Pointer[string]
	flaky       flakyState

	got  atomic.Int64
	bad  atomic.Int64
	mu   sync.Mutex
	seen map[string]int   // path + webhook-id → count (duplicates)
	lat  []time.Duration  // publish→receipt, when the body carries "t"
	path map[string]int64 // deliveries per path
}

func newReceiver() (*receiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &receiver{ln: ln, seen: map[string]int{}, path: map[string]int64{}}
	hang := make(chan struct{})
	r.hang.Store(&hang)
	r.srv = &http.Server{Handler: r, ReadHeaderTimeout: 10 * time.Second}
	go r.srv.Serve(ln)
	return r, nil
}

// releaseHung answers every request held on the dead path so far (the
// ones that arrive later are held again).
func (r *receiver) releaseHung() {
	next := make(chan struct{})
	close(*r.hang.Swap(&next))
}

func (r *receiver) URL(path string) string { return "http://" + r.ln.Addr().String() + path }

func (r *receiver) close() {
	r.releaseHung()
	r.srv.Close()
}

// reset clears the counts between scenarios.
func (r *receiver) reset(v *webhook.Verifier) {
	r.verifier.Store(v)
	r.got.Store(0)
	r.bad.Store(0)
	r.mu.Lock()
	r.seen = map[string]int{}
	r.lat = r.lat[:0]
	r.path = map[string]int64{}
	r.mu.Unlock()
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	now := time.Now()
	if p := r.hangPath.Load(); p != nil && *p == req.URL.Path {
		select {
		case <-*r.hang.Load():
		case <-req.Context().Done():
		}
		return
	}
	if p := r.failPath.Load(); p != nil && *p == req.URL.Path {
		r.mu.Lock()
		r.path[req.URL.Path]++
		r.mu.Unlock()
		w.WriteHeader(500)
		return
	}
	if p := r.slowPath.Load(); p != nil && *p == req.URL.Path {
		time.Sleep(soakSlow)
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		w.WriteHeader(400)
		return
	}
	if v := r.verifier.Load(); v != nil {
		if err := v.Verify(body, req.Header); err != nil {
			r.bad.Add(1)
			w.WriteHeader(401)
			return
		}
	}
	if p := r.flakyPrefix.Load(); p != nil && strings.HasPrefix(req.URL.Path, *p) {
		if !r.flaky.take(req.URL.Path, req.Header.Get("webhook-id"), body) {
			w.WriteHeader(500)
			return
		}
	}
	sent, hasT := sentAt(body)
	r.mu.Lock()
	// One event goes to several endpoints (paths) with the same id; only
	// a second arrival at the same endpoint is a duplicate.
	r.seen[req.URL.Path+" "+req.Header.Get("webhook-id")]++
	r.path[req.URL.Path]++
	if hasT {
		r.lat = append(r.lat, now.Sub(sent))
	}
	r.mu.Unlock()
	r.got.Add(1)
	w.WriteHeader(204)
}

// sentAt finds "t":<unix nanos> in the body without a full JSON decode, to
// keep the receiver's own cost low and equal for baseline and hookd.
func sentAt(body []byte) (time.Time, bool) {
	s := string(body)
	i := strings.Index(s, `"t":`)
	if i < 0 {
		return time.Time{}, false
	}
	j := i + 4
	k := j
	for k < len(s) && s[k] >= '0' && s[k] <= '9' {
		k++
	}
	n, err := strconv.ParseInt(s[j:k], 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(0, n), true
}

func (r *receiver) duplicates() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	d := 0
	for _, n := range r.seen {
		if n > 1 {
			d += n - 1
		}
	}
	return d
}

func (r *receiver) latencies() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Duration(nil), r.lat...)
}

func (r *receiver) perPath() map[string]int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]int64, len(r.path))
	for k, v := range r.path {
		out[k] = v
	}
	return out
}

// flakyState is the receiver's memory for flakyPrefix paths.
type flakyState struct {
	mu         sync.Mutex
	failed     map[string]bool // path + webhook-id: its one failure is done
	next       map[string]int  // path + ordering key: the "i" expected next
	violations int64           // keyed events that came before an earlier one of their key
}

func (f *flakyState) reset() {
	f.mu.Lock()
	f.failed, f.next, f.violations = map[string]bool{}, map[string]int{}, 0
	f.mu.Unlock()
}

// take reports whether the request is answered 2xx: false for the first
// attempt of every fifth event. A keyed event taken checks its key's order
// (the events of a key are numbered 0, 1, 2, … in "n").
func (f *flakyState) take(path, id string, body []byte) bool {
	i, hasI := intField(body, `"i":`)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failed == nil {
		f.failed, f.next = map[string]bool{}, map[string]int{}
	}
	if hasI && i%5 == 0 && !f.failed[path+" "+id] {
		f.failed[path+" "+id] = true
		return false
	}
	if k, ok := stringField(body, `"k":"`); ok && strings.HasSuffix(path, "/ordered") {
		n, _ := intField(body, `"n":`)
		key := path + " " + k
		if n != f.next[key] {
			f.violations++
		}
		f.next[key] = max(f.next[key], n+1)
	}
	return true
}

func (f *flakyState) outOfOrder() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.violations
}

// intField finds the integer after marker in a JSON body.
func intField(body []byte, marker string) (int, bool) {
	s := string(body)
	i := strings.Index(s, marker)
	if i < 0 {
		return 0, false
	}
	j := i + len(marker)
	k := j
	for k < len(s) && s[k] >= '0' && s[k] <= '9' {
		k++
	}
	n, err := strconv.Atoi(s[j:k])
	return n, err == nil
}

// stringField finds the string after marker (which ends with the opening
// quote) in a JSON body; the bench's keys need no escapes.
func stringField(body []byte, marker string) (string, bool) {
	s := string(body)
	i := strings.Index(s, marker)
	if i < 0 {
		return "", false
	}
	rest := s[i+len(marker):]
	j := strings.IndexByte(rest, '"')
	if j < 0 {
		return "", false
	}
	return rest[:j], true
}
