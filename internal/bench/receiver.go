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
