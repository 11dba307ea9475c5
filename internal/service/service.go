package service

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/hookd/hookd/internal/clock"
	"github.com/hookd/hookd/internal/eventfeed"
	"github.com/hookd/hookd/internal/freshread"
	"github.com/hookd/hookd/internal/outbound"
	"github.com/hookd/hookd/internal/store"
)

// Publisher commits events. Implementations batch many events into one
// transaction (group commit) and return only after the commit, so an
// accepted event is a promise it will be delivered.
type Publisher interface {
	// Publish stores e and its deliveries. The idempotency window (24 h)
	// is the Publisher's business; a replay comes back with Existing set.
	Publish(ctx context.Context, e store.Event) (store.PublishResult, error)
}

// BatchPublisher is a Publisher that can take several events as one
// request (publish.Batcher: one place in its queue, one commit), each with
// its own result or error, in the order given.
type BatchPublisher interface {
	PublishBatch(ctx context.Context, events []store.Event) ([]store.PublishResult, []error)
}

// StallReporter is a Publisher that can tell when its commits have
// stalled (publish.Batcher): readiness then fails, so that a load balancer
// sends publishes to a node whose database is keeping up.
type StallReporter interface {
	// Stalled reports how long the oldest commit in flight has been
	// running, and whether that is past the publish timeout.
	Stalled() (time.Duration, bool)
}

// Tester sends one test event to an endpoint now; nothing is stored
// (delivery.Tester).
type Tester interface {
	// Test signs an event of eventType with data (a compact JSON object)
	// with the project's active secrets and POSTs it to url. A failure of
	// the receiver is in the Result; a returned error means the test
	// could not be run at all.
	Test(ctx context.Context, projectID, url, eventType string, data json.RawMessage) (outbound.Result, error)
}

// Config configures the services. Zero values take the defaults given.
type Config struct {
	Store     store.Store // required
	Publisher Publisher   // required
	Tester    Tester      // required
	Clock     clock.Clock // default clock.Real{}
	// RequireHTTPS refuses endpoint URLs that are not https.
	RequireHTTPS bool
	// Wake is called after a manual retry so the delivery engine looks
	// for work now instead of at its next poll. May be nil.
	Wake func()
	// OnRotate is called with the project id after its signing secret was
	// rotated, so signers cached elsewhere pick the new one up. May be nil.
	OnRotate func(projectID string)
	// Seal and Open encrypt and decrypt signing secrets at rest: Seal runs
	// on a value before it is stored, Open on every value read back. Both
	// default to the identity (plain text).
	Seal func(plain string) (string, error)
	Open func(stored string) (string, error)
	// KeyCacheTTL is how long a successful API-key lookup is reused.
	// Default DefaultKeyCacheTTL; negative disables the cache. A key
	// revoked on another node stays usable here for at most this long.
	KeyCacheTTL time.Duration
	// Feed follows projects' events for Events.Follow; nil leaves
	// following unavailable.
	Feed *eventfeed.Hub
	// TestRate is how many Tests (Endpoints.Test) a project may send a
	// second on this node, in bursts of TestBurst; defaults
	// DefaultTestRate and DefaultTestBurst, a negative TestRate: no limit
	// of its own (the endpoint's limits still apply).
	TestRate  float64
	TestBurst int
	// OnRevoke is called with the ids of API keys just revoked (a
	// revocation, the keys it reached, a rotation), so what they hold
	// open elsewhere can end. May be nil.
	OnRevoke func(keyIDs []string)
	// EgressAddresses are the source addresses webhooks leave from (the
	// egress proxy's), shown to customers so they can allow-list them.
	// Empty: not published.
	EgressAddresses []string
	// SigninFailureRate and SigninFailureBurst limit failed sign-ins
	// per source address (see Keys.Authenticate): per second, and at
	// once. Defaults DefaultSigninFailureRate and
	// DefaultSigninFailureBurst; a negative value turns the limit off.
	SigninFailureRate  float64
	SigninFailureBurst int
	// Logger gets what the services log (an audit record not written, failed
	// sign-ins); default slog.Default().
	Logger *slog.Logger
}

// DefaultKeyCacheTTL is Config.KeyCacheTTL's default.
const DefaultKeyCacheTTL = 5 * time.Second

// Service is hookd's domain layer: every rule about projects, keys,
// endpoints, events, deliveries and secrets, for every front end. Each
// call that touches a project's data takes the project id, so a front end
// scopes by the id it authorized and cannot reach another project's data.
type Service struct {
	Projects   *Projects
	Keys       *Keys
	Endpoints  *Endpoints
	Events     *Events
	Deliveries *Deliveries
	Secrets    *Secrets
	Audit      *Audit
	Portal     *Portal

	core *core
}

// core is what every service shares.
type core struct {
	store        store.Store
	publisher    Publisher
	tester       Tester
	clock        clock.Clock
	requireHTTPS bool
	wake         func()
	onRotate     func(projectID string)
	seal         func(string) (string, error)
	open         func(string) (string, error)
	feed         *eventfeed.Hub
	onRevoke     func(keyIDs []string)
	testLimits   *testLimits
	egress       []string
	log          *slog.Logger
	keyReads     freshread.Reads[string, store.APIKey] // the streams' re-reads of their keys, shared
}

// New returns the services over cfg.Store.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Publisher == nil || cfg.Tester == nil {
		return nil, errors.New("service: Config.Store, Publisher and Tester are required")
	}
	c := &core{
		store:        cfg.Store,
		publisher:    cfg.Publisher,
		tester:       cfg.Tester,
		clock:        cfg.Clock,
		requireHTTPS: cfg.RequireHTTPS,
		wake:         cfg.Wake,
		onRotate:     cfg.OnRotate,
		seal:         cfg.Seal,
		open:         cfg.Open,
		feed:         cfg.Feed,
		onRevoke:     cfg.OnRevoke,
		testLimits:   newTestLimits(cmp.Or(cfg.TestRate, DefaultTestRate), cmp.Or(cfg.TestBurst, DefaultTestBurst)),
		egress:       slices.Clone(cfg.EgressAddresses),
		log:          cmp.Or(cfg.Logger, slog.Default()),
	}
	if c.clock == nil {
		c.clock = clock.Real{}
	}
	if c.wake == nil {
		c.wake = func() {}
	}
	if c.onRevoke == nil {
		c.onRevoke = func([]string) {}
	}
	if c.onRotate == nil {
		c.onRotate = func(string) {}
	}
	plain := func(v string) (string, error) { return v, nil }
	if c.seal == nil {
		c.seal = plain
	}
	if c.open == nil {
		c.open = plain
	}
	ttl := cmp.Or(cfg.KeyCacheTTL, DefaultKeyCacheTTL)
	secrets := &Secrets{c: c}
	return &Service{
		Projects: &Projects{c: c, secrets: secrets},
		Keys: &Keys{c: c, cache: newKeyCache(ttl), signin: newSigninLimiter(
			cmp.Or(cfg.SigninFailureRate, DefaultSigninFailureRate),
			cmp.Or(cfg.SigninFailureBurst, DefaultSigninFailureBurst))},
		Endpoints:  &Endpoints{c: c},
		Events:     &Events{c: c},
		Deliveries: &Deliveries{c: c},
		Secrets:    secrets,
		Audit:      &Audit{c: c},
		Portal:     &Portal{c: c},
		core:       c,
	}, nil
}

// Ping reports whether the database answers and, when the Publisher is a
// StallReporter, whether it commits in time (readiness). A stalled commit
// fails it at once, without a round trip that would wait behind the stall.
func (s *Service) Ping(ctx context.Context) error {
	if r, ok := s.core.publisher.(StallReporter); ok {
		if d, stalled := r.Stalled(); stalled {
			return &Error{Code: CodeUnavailable, Message: fmt.Sprintf(
				"the database has not finished a commit for %s; publishes are answered 503 until it does", d.Round(time.Second))}
		}
	}
	return translate(s.core.store.Ping(ctx), "database")
}

// now is the clock's time at the precision every driver keeps, so what a
// call returns equals what is later read back.
func (c *core) now() time.Time {
	return c.clock.Now().UTC().Truncate(time.Microsecond)
}

// EgressAddresses returns the addresses webhooks are sent from, as the operator
// configured them (--egress-addresses), for receivers to allow-list; empty when
// none were given.
func (s *Service) EgressAddresses() []string { return slices.Clone(s.core.egress) }
