package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
)

// Driver opens one kind of database. Drivers register themselves in an
// init function (Register), database/sql style, and the binary chooses
// which exist by importing them (internal/store/drivers imports all), so
// nothing above the store names a driver.
type Driver struct {
	// Name identifies the driver in messages ("sqlite", "postgres").
	Name string
	// Accepts reports whether dsn is this driver's: exactly one
	// registered driver may accept a given dsn.
	Accepts func(dsn string) bool
	// Open opens the database at dsn, creating and migrating it as
	// needed.
	Open func(ctx context.Context, dsn string) (Store, error)
}

var (
	driversMu sync.Mutex
	drivers   []Driver
)

// Register makes a driver available to Open. It panics when called twice
// with the same name, like database/sql.Register.
func Register(d Driver) {
	driversMu.Lock()
	defer driversMu.Unlock()
	if d.Name == "" || d.Accepts == nil || d.Open == nil {
		panic("store: Register of an incomplete driver")
	}
	if slices.ContainsFunc(drivers, func(o Driver) bool { return o.Name == d.Name }) {
		panic("store: Register called twice for driver " + d.Name)
	}
	drivers = append(drivers, d)
}

// Open opens dsn with the registered driver that accepts it.
func Open(ctx context.Context, dsn string) (Store, error) {
	driversMu.Lock()
	var found []Driver
	for _, d := range drivers {
		if d.Accepts(dsn) {
			found = append(found, d)
		}
	}
	driversMu.Unlock()
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("store: no driver for %s (is its package imported?)", Redact(dsn))
	case 1:
		s, err := found[0].Open(ctx, dsn)
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", Redact(dsn), err)
		}
		return s, nil
	}
	return nil, fmt.Errorf("store: drivers %s and %s both accept %s", found[0].Name, found[1].Name, Redact(dsn))
}

// Redact hides the password of a connection URL (scheme://user:pass@host/…)
// so the dsn can be logged; anything else is returned as is.
func Redact(dsn string) string {
	i := strings.Index(dsn, "://")
	j := strings.LastIndex(dsn, "@")
	if i < 0 || j < i {
		return dsn
	}
	return dsn[:i+3] + "…@" + dsn[j+1:]
}

// Optional capabilities: a driver's Store implements these interfaces when
// it can; callers discover them by type assertion on the Store.

// Notifier is a store whose nodes tell each other about new due work, so
// an idle node need not wait for its next poll (PostgreSQL's LISTEN).
type Notifier interface {
	// Listen returns a channel that receives a value whenever any node
	// commits new due work, and once when it starts listening. It is
	// closed when ctx ends or the store is closed.
	Listen(ctx context.Context) <-chan struct{}
}

// Elector is a store shared by several nodes, one of which leads the
// cluster-wide maintenance (retention). A store that is not an Elector
// has one node, which always leads.
type Elector interface {
	// TryLeader takes, or confirms it still holds, the leadership and
	// reports whether this node leads.
	TryLeader(ctx context.Context) (bool, error)
}
