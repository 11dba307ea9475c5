package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/hookd/hookd/internal/app"
	"github.com/hookd/hookd/internal/listen"
)

func listenCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("listen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := listen.Config{Out: stdout, Log: stderr, UserAgent: "hookd-listen/" + app.Version}
	var events string
	fs.StringVar(&cfg.Server, "server", "http://127.0.0.1:8080", "hookd's base URL")
	fs.StringVar(&cfg.Key, "key", os.Getenv("HOOKD_KEY"), "API key of the project (env HOOKD_KEY)")
	fs.StringVar(&cfg.ProjectID, "project", "", "project id (default: the one project the key sees)")
	fs.StringVar(&cfg.ForwardTo, "forward-to", "", "local URL each event is POSTed to, e.g. http://localhost:3000/webhooks")
	fs.StringVar(&events, "events", "", "comma-separated event types to forward, e.g. invoice.*,customer.created (default all)")
	fs.DurationVar(&cfg.Timeout, "timeout", listen.DefaultTimeout, "timeout of one forwarded request")
	if err := fs.Parse(args); err != nil {
		return parseExit(err)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "hookd listen: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if cfg.Key == "" || cfg.ForwardTo == "" {
		fmt.Fprintln(stderr, "hookd listen: --key and --forward-to are required")
		return 2
	}
	for _, e := range strings.Split(events, ",") {
		if e = strings.TrimSpace(e); e != "" {
			cfg.Events = append(cfg.Events, e)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := listen.Run(ctx, cfg); err != nil {
		fmt.Fprintf(stderr, "hookd listen: %v\n", strings.TrimPrefix(err.Error(), "listen: "))
		return 1
	}
	return 0
}
