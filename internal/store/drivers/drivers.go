// Package drivers registers every store driver hookd ships: importing it
// (for its side effects) lets store.Open open SQLite files and PostgreSQL
// URLs. It is the one place that names the drivers.
package drivers

import (
	_ "github.com/hookd/hookd/internal/store/postgres" // postgres:// and postgresql:// URLs
	_ "github.com/hookd/hookd/internal/store/sqlite"   // file paths
)
