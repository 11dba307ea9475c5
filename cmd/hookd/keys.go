package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/hookd/hookd/internal/app"
)

const keysUsage = `usage:
  hookd keys rotate-admin [--db DSN]

rotate-admin issues a new admin API key, prints it once, and revokes the
admin key hookd was started with (--admin-key, or the one it generated at
first start, or the one rotated before). Keys made with the old admin key
keep working: they pass to the new one. Running nodes refuse the old key
within seconds; start them with --admin-key set to the new one.
`

func keysCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "rotate-admin" {
		fmt.Fprint(stderr, keysUsage)
		return 2
	}
	fs := flag.NewFlagSet("keys rotate-admin", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, keysUsage); fs.PrintDefaults() }
	db := fs.String("db", app.DefaultDB, "SQLite file, or postgres://user:pass@host/db for PostgreSQL: the database of the nodes")
	if err := fs.Parse(args[1:]); err != nil {
		return parseExit(err)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "hookd keys rotate-admin: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	key, err := app.RotateAdminKey(context.Background(), *db)
	if err != nil {
		fmt.Fprintf(stderr, "hookd keys rotate-admin: %v\n", err)
		return 1
	}
	fmt.Fprintf(stderr, "hookd: the new admin API key (shown once, store it now); the old one is revoked:\n")
	fmt.Fprintln(stdout, key)
	return 0
}
