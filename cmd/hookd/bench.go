package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/hookd/hookd/internal/bench"
)

func benchCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		opt       bench.Options
		scenarios string
		jsonPath  string
		extra     string
	)
	fs.StringVar(&opt.DB, "db", "", "database: empty for a fresh temporary SQLite file, or a postgres:// URL of an empty database")
	fs.IntVar(&opt.Nodes, "nodes", 1, "hookd processes sharing the database (PostgreSQL only)")
	fs.StringVar(&scenarios, "scenarios", "steady,latency,fanout,isolation", "comma-separated: steady, latency, fanout, isolation, breaker, batch, streams, idlestreams, ordered, backlog, logquery, soak")
	fs.IntVar(&opt.Events, "events", 20000, "events per throughput scenario")
	fs.IntVar(&opt.Concurrency, "concurrency", 32, "concurrent publishers (and baseline senders)")
	fs.IntVar(&opt.Rate, "rate", 500, "events per second in the latency scenario")
	fs.DurationVar(&opt.Duration, "duration", 10*time.Second, "length of the latency scenario")
	fs.DurationVar(&opt.Soak, "soak", 30*time.Minute, "length of the soak scenario")
	fs.IntVar(&opt.SoakRate, "soak-rate", 200, "events per second in the soak scenario")
	fs.IntVar(&opt.Backlog, "backlog", 1_000_000, "pending deliveries in the backlog scenario")
	fs.IntVar(&opt.LogAttempts, "log-attempts", 10_000_000, "attempts stored for the logquery scenario")
	fs.DurationVar(&opt.Timeout, "timeout", 15*time.Second, "hookd's request timeout (how long the isolation scenario's dead endpoint holds a request)")
	fs.StringVar(&opt.ProfileDir, "profile-dir", "", "write a CPU profile and an execution trace of the steady scenario here")
	fs.IntVar(&opt.Repeat, "repeat", 1, "run steady and fan-out this many times each and report the run with the median rate")
	fs.StringVar(&jsonPath, "json", "", "also write the results as JSON to this file")
	fs.StringVar(&extra, "hookd-args", "", "extra flags for every hookd node, space-separated")
	fs.IntVar(&opt.NodeGOMAXPROCS, "node-gomaxprocs", 0, "GOMAXPROCS of every hookd node (default: Go's, the machine's cores): the cores a node is told it has when nodes share a machine")
	fs.BoolVar(&opt.IdempotencyKeys, "idempotency-keys", false, "give every event of the steady and latency scenarios its own Idempotency-Key")
	fs.StringVar(&opt.Binary, "binary", "", "hookd binary to benchmark (default: this one)")
	if err := fs.Parse(args); err != nil {
		return parseExit(err)
	}
	if opt.Repeat < 1 {
		fmt.Fprintln(stderr, "hookd bench: --repeat must be at least 1")
		return 2
	}
	opt.Scenarios = strings.Split(scenarios, ",")
	opt.ExtraArgs = strings.Fields(extra)
	opt.Out, opt.Log = stdout, stderr
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	rep, err := bench.Run(ctx, opt)
	if err != nil {
		fmt.Fprintf(stderr, "hookd bench: %v\n", err)
		return 1
	}
	if jsonPath != "" {
		if err := bench.WriteJSON(jsonPath, rep); err != nil {
			fmt.Fprintf(stderr, "hookd bench: %v\n", err)
			return 1
		}
	}
	return 0
}
