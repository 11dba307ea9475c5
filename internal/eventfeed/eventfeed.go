// Package eventfeed follows a project's events as they are published, for
// the streaming API behind `hookd listen`.
//
// A feed reads the store, not this node's memory, so it sees events
// published on any node of a PostgreSQL cluster and can resume from an
// event id after a reconnect. Event ids are time-sortable (ULIDs), but ids
// are made before their transaction commits: an event may become visible
// after one with a later id was already streamed (a slower batch, another
// node, a clock a little behind). So every periodic read (a poll) looks
// Settle back from when the previous one began, and skips what it already
// sent or what is not after Settle before the newest id seen; a resume
// looks Settle back from the client's last id, and the client drops the
// ids it has seen (at-least-once, like every delivery). The feeds of a node
// poll on the same ticks, so the polls of a project's streams share their
// listings.
package eventfeed

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/hookd/hookd/internal/clock"
	"github.com/hookd/hookd/internal/freshread"
	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/store"
)

// Defaults of Config.
const (
	DefaultPoll      = time.Second
	DefaultSettle    = 5 * time.Second
	DefaultHeartbeat = 15 * time.Second
	// DefaultPageBytes is a feed's read-ahead: the bodies of one page
	// read from the store (a page holds at least one event, however
	// large). It is what one stream holds in memory at most, besides
	// the event its client is being sent.
	DefaultPageBytes = 256 << 10
	// DefaultMaxStreams bounds the feeds of a node, and so (with
	// PageBytes) the memory its streams take.
	DefaultMaxStreams = 1000
	// DefaultMaxProjectStreams bounds the feeds of one project on a node:
	// one tenant cannot take every stream.
	DefaultMaxProjectStreams = 50
	readPage                 = 500
)

// Config configures a Hub. Zero values take the defaults.
type Config struct {
	Store store.Store // required
	Clock clock.Clock // default clock.Real; polls and heartbeats wait on it
	// Poll is how often a feed reads the store when nothing woke it: the
	// longest an event published on another node waits. DefaultPoll.
	Poll time.Duration
	// Settle is how far before the newest id seen every periodic read
	// looks again: longer than a publish takes to commit plus the clock
	// difference between nodes. DefaultSettle.
	Settle time.Duration
	// Heartbeat is how often an idle stream gets a comment, so proxies
	// do not close it. DefaultHeartbeat.
	Heartbeat time.Duration
	// PageBytes bounds the bodies of a page read from the store.
	// DefaultPageBytes.
	PageBytes int
	// MaxStreams and MaxProjectStreams bound the feeds Acquire lets
	// open, on this node and per project. DefaultMaxStreams,
	// DefaultMaxProjectStreams.
	MaxStreams, MaxProjectStreams int
	// CacheBytes bounds the recent event bodies the node's feeds share,
	// so a project's streams read each new event once. DefaultCacheBytes.
	CacheBytes int
	// Turns is how many feeds read the store or write to their clients
	// at once; TurnHold is the longest one of them keeps its turn (a
	// write to a client that reads nothing waits without it). Default
	// half the node's CPUs, at least one, and DefaultTurnHold.
	Turns    int
	TurnHold time.Duration
}

// Sink receives what a feed sends.
type Sink interface {
	// Event sends one event; an error ends the feed (the client left, or
	// fell behind). ctx ends when the feed must stop, the Hub's Close
	// included: a sink that waits on its client waits on ctx too.
	Event(ctx context.Context, e store.Event) error
	// Heartbeat sends a keep-alive.
	Heartbeat(ctx context.Context) error
}

// Hub runs the feeds of one node and wakes them when this node commits
// events.
type Hub struct {
	cfg    Config
	mu     sync.Mutex
	wakes  map[chan struct{}]waker
	open   int            // feeds acquired
	opened map[string]int // feeds acquired, by project
	closed chan struct{}
	once   sync.Once
	bodies *bodies // recent event bodies, shared by the feeds
	turns  *turns  // the feeds' reads and writes, a few at a time
	// refs shares the id listings of a project's feeds woken together:
	// each waits for a listing that began after it asked.
	refs freshread.Reads[refsKey, []store.EventRef]
}

// refsKey is what a shared listing lists: a project's events from a
// millisecond on (to a day past the clock).
type refsKey struct {
	projectID string
	from      int64 // Unix milliseconds
}

// ErrClosed ends the feeds of a Hub that was closed (the server is
// shutting down).
var ErrClosed = errors.New("eventfeed: closed")

// New returns a Hub.
func New(cfg Config) (*Hub, error) {
	if cfg.Store == nil {
		return nil, errors.New("eventfeed: Store is required")
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Poll <= 0 {
		cfg.Poll = DefaultPoll
	}
	if cfg.Settle <= 0 {
		cfg.Settle = DefaultSettle
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = DefaultHeartbeat
	}
	cfg.PageBytes = cmp.Or(max(cfg.PageBytes, 0), DefaultPageBytes)
	cfg.MaxStreams = cmp.Or(max(cfg.MaxStreams, 0), DefaultMaxStreams)
	cfg.MaxProjectStreams = cmp.Or(max(cfg.MaxProjectStreams, 0), DefaultMaxProjectStreams)
	cfg.CacheBytes = cmp.Or(max(cfg.CacheBytes, 0), DefaultCacheBytes)
	cfg.Turns = cmp.Or(max(cfg.Turns, 0), defaultTurns())
	cfg.TurnHold = cmp.Or(max(cfg.TurnHold, 0), DefaultTurnHold)
	return &Hub{cfg: cfg, wakes: map[chan struct{}]waker{}, opened: map[string]int{}, bodies: newBodies(cfg.CacheBytes),
		turns: newTurns(cfg.Turns, cfg.TurnHold), closed: make(chan struct{})}, nil
}

// Errors of Acquire: the node or the project has as many feeds open as
// its limit allows.
var (
	ErrTooManyStreams        = errors.New("eventfeed: too many streams on this node")
	ErrTooManyProjectStreams = errors.New("eventfeed: too many streams of this project")
)

// Limits returns MaxStreams and MaxProjectStreams as configured.
func (h *Hub) Limits() (node, project int) { return h.cfg.MaxStreams, h.cfg.MaxProjectStreams }

// Acquire takes one of the node's and the project's stream slots, or
// fails with ErrTooManyStreams or ErrTooManyProjectStreams; release gives
// it back (once; more calls do nothing). A front end acquires before it
// answers, so a stream beyond the limits is refused with a status.
func (h *Hub) Acquire(projectID string) (release func(), err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.opened[projectID] >= h.cfg.MaxProjectStreams:
		return nil, ErrTooManyProjectStreams
	case h.open >= h.cfg.MaxStreams:
		return nil, ErrTooManyStreams
	}
	h.open++
	h.opened[projectID]++
	var once sync.Once
	return func() {
		once.Do(func() {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.open--
			if h.opened[projectID]--; h.opened[projectID] == 0 {
				delete(h.opened, projectID)
			}
		})
	}, nil
}

// Open tells how many feeds are acquired, on the node and of projectID.
func (h *Hub) Open(projectID string) (node, project int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.open, h.opened[projectID]
}

// waker is how the Hub reaches one feed: its wake-up and its end.
type waker struct {
	projectID string
	cancel    context.CancelCauseFunc
}

// Notify wakes the feeds of projectIDs (every feed when none is given)
// to read new events now; call it after a publish on this node committed
// events of those projects. It returns how many feeds it woke. Cheap when
// there are no feeds; a commit wakes only its own projects' streams, so
// a node with many streams does not read once per stream per commit.
func (h *Hub) Notify(projectIDs ...string) int {
	n := 0
	h.mu.Lock()
	for w, k := range h.wakes {
		if len(projectIDs) > 0 && !slices.Contains(projectIDs, k.projectID) {
			continue
		}
		n++
		select {
		case w <- struct{}{}:
		default: // already woken
		}
	}
	h.mu.Unlock()
	return n
}

// Close ends every feed, now and later, with ErrClosed: long-lived
// streams must not hold up a graceful shutdown. The context a feed passes
// its sink ends too, so a sink blocked on a client that reads nothing
// gives up at once.
func (h *Hub) Close() {
	h.once.Do(func() {
		close(h.closed)
		h.mu.Lock()
		defer h.mu.Unlock()
		for _, k := range h.wakes {
			k.cancel(ErrClosed)
		}
	})
}

// Params says what one feed follows.
type Params struct {
	ProjectID string
	// LastID is the last event id the client received ("" for a new
	// client: events published from Since on).
	LastID string
	// Since is when a new client's stream was accepted: it gets the
	// events published from then on. A front end takes it before it
	// answers, since the client may publish as soon as it hears the
	// answer, before Follow runs. Zero: when Follow starts.
	Since time.Time
	// Accept filters by event type; nil accepts every type.
	Accept func(eventType string) bool
	// Check, when set, is asked before every read of the store (every
	// local commit and every Poll) and before each heartbeat; an error
	// ends the feed with it. The stream's key is re-checked this way.
	Check func(ctx context.Context) error
}

// Follow sends the project's events to sink as they commit, until ctx
// ends, the Hub closes, Check fails or sink fails.
func (h *Hub) Follow(ctx context.Context, p Params, sink Sink) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	wake := make(chan struct{}, 1)
	h.mu.Lock()
	h.wakes[wake] = waker{projectID: p.ProjectID, cancel: cancel}
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		delete(h.wakes, wake)
		h.mu.Unlock()
	}()
	select {
	case <-h.closed:
		return ErrClosed
	default:
	}

	f := &feed{h: h, p: p, sink: sink, sent: map[string]time.Time{}}
	if t, ok := ids.Time(ids.Event, p.LastID); ok {
		f.newest = t
		f.floor = ids.Floor(ids.Event, t.Add(-h.cfg.Settle))
		f.sent[p.LastID] = t
		f.last = p.LastID
	} else {
		// A new client gets what is published from when its stream
		// was accepted on.
		f.newest = p.Since
		if f.newest.IsZero() {
			f.newest = h.cfg.Clock.Now()
		}
		f.floor = ids.Floor(ids.Event, f.newest)
		f.last = f.floor
	}
	// Both timers are armed after a read, so a feed whose timers are
	// armed has finished reading; the poll keeps its own timer, so wakes
	// that come faster than Poll do not put off the full reads that find
	// late commits.
	var poll, heartbeat <-chan time.Time
	full, first := true, true // the first read looks back Settle
	for {
		err := f.read(ctx, full, first)
		first = false
		if err != nil {
			if context.Cause(ctx) == ErrClosed {
				return ErrClosed
			}
			return err
		}
		if poll == nil {
			poll = h.cfg.Clock.After(h.untilPoll())
		}
		if heartbeat == nil {
			heartbeat = h.cfg.Clock.After(h.cfg.Heartbeat)
		}
		select {
		case <-ctx.Done():
			// Close cancels with ErrClosed, and h.closed is ready too:
			// either way the feed ends for the shutdown.
			if context.Cause(ctx) == ErrClosed {
				return ErrClosed
			}
			return ctx.Err()
		case <-h.closed:
			return ErrClosed
		case <-wake:
			// A commit on this node: only what is newer than the
			// newest id seen, which is cheap at any rate.
			full = false
		case <-poll:
			poll, full = nil, true
		case <-heartbeat:
			if err := f.check(ctx); err != nil {
				return err
			}
			if err := h.turns.do(ctx, func() error { return sink.Heartbeat(ctx) }); err != nil {
				if context.Cause(ctx) == ErrClosed {
					return ErrClosed
				}
				return err
			}
			heartbeat, full = nil, false
		}
	}
}

type feed struct {
	h      *Hub
	p      Params
	sink   Sink
	fullAt time.Time            // when the last full (or the first) read began
	newest time.Time            // time of the newest id seen
	floor  string               // nothing at or below this id is sent
	sent   map[string]time.Time // ids sent (or skipped) within Settle of newest
	last   string               // the largest id seen
}

func (f *feed) check(ctx context.Context) error {
	if f.p.Check == nil {
		return nil
	}
	// Not in a turn: the checks of a key share their reads, each
	// waiting for one that began after it asked, and checks let in one
	// at a time would each begin their own.
	return f.p.Check(ctx)
}

// send gives the sink one event, in a turn.
func (f *feed) send(ctx context.Context, e store.Event) error {
	return f.h.turns.do(ctx, func() error { return f.sink.Event(ctx, e) })
}

// read sends what committed since the last read: from the newest id seen
// when woken by a local commit, from Settle before it on a full read. The
// first read (a new stream, or a resume from the client's last id) reads
// pages of events with their bodies. Later reads list the ids first and
// take each new body through the node's cache, so the streams of a
// project read an event once among them whether a commit woke them or a
// poll found it (an event of another node, or one that committed late);
// only a backlog of more than refsPage ids is read in pages.
func (f *feed) read(ctx context.Context, full, first bool) error {
	from := f.last
	var listFrom time.Time // where a listing starts; zero: at from
	if full {
		from = max(f.floor, ids.Floor(ids.Event, f.newest.Add(-f.h.cfg.Settle)))
		now := f.h.cfg.Clock.Now()
		if !first {
			// What committed more than Settle before the last full read
			// began was there for it to find: a poll lists from then,
			// on a whole Poll, so that the polls of a project's streams
			// (they poll on the same ticks) list the same ids, once
			// among them. Without it, 1,000 idle streams listed 1,000
			// times a second, a quarter of a core.
			listFrom = f.fullAt.Add(-f.h.cfg.Settle).Truncate(f.h.cfg.Poll)
		}
		f.fullAt = now
	}
	if first {
		var err error
		if from, err = f.skipSent(ctx, from); err != nil {
			return err
		}
	} else if done, err := f.readNew(ctx, from, listFrom); done || err != nil {
		if err == nil {
			f.forget()
		}
		return err
	}
	for {
		if err := f.check(ctx); err != nil {
			return err
		}
		// One page at a time, bounded by bytes: a backlog of large
		// events is never held whole, and an event sent is let go.
		var events []store.Event
		err := f.h.turns.do(ctx, func() (err error) {
			events, err = f.h.cfg.Store.EventsAfter(ctx, f.p.ProjectID, from, readPage, f.h.cfg.PageBytes)
			return err
		})
		if err != nil {
			return err
		}
		n, size := len(events), 0
		for i := range events {
			e := events[i]
			events[i] = store.Event{}
			size += len(e.Body)
			from = e.ID
			if _, ok := f.sent[e.ID]; ok {
				continue
			}
			t, _ := ids.Time(ids.Event, e.ID)
			f.sent[e.ID] = t
			if e.ID > f.last {
				f.last = e.ID
			}
			if t.After(f.newest) {
				f.newest = t
			}
			if f.p.Accept == nil || f.p.Accept(e.Type) {
				if err := f.send(ctx, e); err != nil {
					return err
				}
			}
		}
		if n < readPage && size < f.h.cfg.PageBytes {
			break // short of both limits: the last page there is
		}
	}
	f.forget()
	return nil
}

// forget drops the ids of a millisecond before the next full read's
// start, which are never read again, so the set stays the size of Settle.
func (f *feed) forget() {
	cut := f.newest.Add(-f.h.cfg.Settle).UnixMilli()
	for id, t := range f.sent {
		if t.UnixMilli() < cut {
			delete(f.sent, id)
		}
	}
}

// readNew sends the events after from, listed by id and type and read
// one at a time through the Hub's body cache: every stream of a project
// woken by one commit reads its new events' bodies once among them. It
// reports false, having sent nothing, when more than refsPage ids wait
// (a backlog: the paged body reads take it).
func (f *feed) readNew(ctx context.Context, from string, listFrom time.Time) (bool, error) {
	refs, ok, err := f.refsAfter(ctx, from, listFrom)
	if err != nil || !ok {
		return false, err
	}
	for i := len(refs) - 1; i >= 0; i-- { // oldest first
		r := refs[i]
		if r.ID <= from {
			continue
		}
		if _, sent := f.sent[r.ID]; sent {
			continue
		}
		f.sent[r.ID] = r.CreatedAt
		if r.ID > f.last {
			f.last = r.ID
		}
		if r.CreatedAt.After(f.newest) {
			f.newest = r.CreatedAt
		}
		if f.p.Accept != nil && !f.p.Accept(r.Type) {
			continue
		}
		ev, err := f.h.bodies.get(ctx, r.ID, func() (ev store.Event, err error) {
			err = f.h.turns.do(ctx, func() (err error) {
				ev, err = f.h.cfg.Store.GetEvent(ctx, f.p.ProjectID, r.ID)
				return err
			})
			return ev, err
		})
		if errors.Is(err, store.ErrNotFound) {
			continue // removed by retention meanwhile
		}
		if err != nil {
			return true, err
		}
		if err := f.send(ctx, ev); err != nil {
			return true, err
		}
	}
	return true, nil
}

// listRefs lists k's events to a day past hi, in a turn; a listing may be
// shared: the feeds that use it only read it.
func (h *Hub) listRefs(ctx context.Context, k refsKey, hi time.Time) (refs []store.EventRef, err error) {
	// Ids are made by clocks: allow for one a day ahead.
	err = h.turns.do(ctx, func() (err error) {
		refs, err = h.cfg.Store.ListEventRefs(ctx, k.projectID, time.UnixMilli(k.from).UTC(), hi.Add(24*time.Hour), "", refsPage)
		return err
	})
	return refs, err
}

// untilPoll is how long until the next whole Poll of the clock: the feeds
// of a node poll on the same ticks, so their polls share listings and key
// reads (a tick wakes them together, and each waits for reads that began
// after it asked).
func (h *Hub) untilPoll() time.Duration {
	return h.cfg.Poll - time.Duration(h.cfg.Clock.Now().UnixNano()%int64(h.cfg.Poll))
}

// refsPage bounds the ids a full read lists before it reads bodies.
const refsPage = 1000

// skipSent moves the first read's start past what it would only read
// again (a resuming client's last id): it lists the ids after from (no
// bodies), and returns the id just before the first one not yet sent — or
// the largest id seen, when every one was sent. With more than refsPage
// ids after from, it leaves from as it is (the reads skip what was sent,
// as ever). Later reads need it not: readNew lists the ids and reads only
// the bodies not sent.
func (f *feed) skipSent(ctx context.Context, from string) (string, error) {
	refs, ok, err := f.refsAfter(ctx, from, time.Time{})
	if err != nil {
		return "", err
	}
	if !ok {
		return from, nil
	}
	start := max(f.last, from) // every one sent: only what is newer than the newest seen
	prev := from
	for i := len(refs) - 1; i >= 0; i-- { // oldest first
		id := refs[i].ID
		if id <= from {
			continue
		}
		if _, sent := f.sent[id]; !sent {
			start = prev
			break
		}
		prev = id
	}
	return start, nil
}

// refsAfter lists the ids and types of the project's events from from's
// millisecond on (from listFrom instead, when it is set: a poll's), newest
// first, after the stream's check; ok is false when from is no event id or
// more than refsPage ids came back (a backlog, which the paged body reads
// take). The caller skips what is not after from.
func (f *feed) refsAfter(ctx context.Context, from string, listFrom time.Time) (refs []store.EventRef, ok bool, err error) {
	lo, isID := ids.Time(ids.Event, from)
	if !isID {
		return nil, false, nil
	}
	if !listFrom.IsZero() {
		lo = listFrom
	}
	if err := f.check(ctx); err != nil {
		return nil, false, err
	}
	if now := f.h.cfg.Clock.Now(); f.newest.After(now) {
		// It saw an id from a clock ahead of this node's: a listing of
		// its own, to a day past that.
		refs, err = f.h.listRefs(ctx, refsKey{f.p.ProjectID, lo.UnixMilli()}, f.newest)
	} else {
		// The streams of a project woken by one commit all list from
		// the id they last saw, the same one, and their polls from the
		// same tick: one listing among them (two when they come in
		// while one is under way), where each made its own, a tenth of
		// the node's CPU when 1,000 opened.
		refs, err = f.h.refs.Get(ctx, refsKey{f.p.ProjectID, lo.UnixMilli()}, func(ctx context.Context, k refsKey) ([]store.EventRef, error) {
			return f.h.listRefs(ctx, k, f.h.cfg.Clock.Now())
		})
	}
	if err != nil || len(refs) == refsPage {
		return nil, false, err
	}
	return refs, true, nil
}
