package main

import (
	"testing"

	"github.com/hookd/hookd/internal/pgtest"
)

// TestMain stops the shared PostgreSQL server of the cluster tests (if one
// was started) and removes its files when the tests end.
func TestMain(m *testing.M) { pgtest.Main(m) }
