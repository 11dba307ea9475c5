package depspin
import (
 _ "modernc.org/sqlite"
 _ "github.com/jackc/pgx/v5/pgxpool"
 _ "github.com/prometheus/client_golang/prometheus"
 _ "golang.org/x/time/rate"
 _ "github.com/oklog/ulid/v2"
 _ "go.uber.org/goleak"
)
