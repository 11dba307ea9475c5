// Package apptest runs a whole hookd in-process for tests of the packages
// that drive it from outside (the API, the web UI).
package apptest

import (
	"context"
	"testing"

	"github.com/hookd/hookd/internal/app"
)

// Start builds hookd from cfg and runs it until the test ends, then shuts
// it down gracefully and checks that Run returned no error.
func Start(t testing.TB, cfg app.Config) *app.App {
	t.Helper()
	a, err := app.New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("app.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		a.Close()
	})
	return a
}
