package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"sync"
	"testing"
	"time"
)

var shared struct {
	once sync.Once
	srv  *Server
	dir  string
	err  error
}

// Shared returns the test binary's shared server, starting it on first use.
// When PostgreSQL is not installed the test is skipped, unless the
// environment variable CI is "true": then a missing PostgreSQL fails it.
// Any other failure to start fails the test.
//
// Call Main from TestMain so the server is stopped when the tests end;
// without it the server still dies with the test binary (parent-death
// signal), but its temporary directory stays behind.
func Shared(tb testing.TB) *Server {
	tb.Helper()
	shared.once.Do(func() {
		shared.dir, shared.err = os.MkdirTemp("", "hookd-pgtest-")
		if shared.err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		shared.srv, shared.err = Start(ctx, shared.dir)
		if shared.err != nil {
			_ = os.RemoveAll(shared.dir)
		}
	})
	if shared.err != nil {
		if errors.Is(shared.err, ErrNotInstalled) && os.Getenv("CI") != "true" {
			tb.Skip(shared.err)
		}
		tb.Fatal(shared.err)
	}
	return shared.srv
}

// NewDatabase creates a fresh, empty database on the shared server and
// returns its URL. The database is dropped when the test ends.
func NewDatabase(tb testing.TB) string {
	tb.Helper()
	srv := Shared(tb)
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "t_" + hex.EncodeToString(b[:])
	url, err := srv.CreateDatabase(context.Background(), name)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		// A test that stopped the shared server would make this fail;
		// only tests with their own server do that, so report it.
		if err := srv.DropDatabase(context.Background(), name); err != nil {
			tb.Errorf("drop test database: %v", err)
		}
	})
	return url
}

// Main runs the tests and then stops the shared server (if one was started)
// and removes its files. Use it as the body of TestMain:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
func Main(m *testing.M) {
	code := m.Run()
	StopShared()
	os.Exit(code)
}

// StopShared stops the shared server and removes its directory. Main calls
// it; a TestMain that needs more of its own can call it directly.
func StopShared() {
	if shared.srv != nil {
		_ = shared.srv.Stop()
	}
	if shared.dir != "" {
		_ = os.RemoveAll(shared.dir)
	}
}
