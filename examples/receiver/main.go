// Command receiver is a webhook receiver built on hookd's webhook.Middleware: it
// verifies each request's signature with your project's secret, refuses replays and
// bodies over 1 MiB, skips duplicates, and prints every verified event.
//
//	go run ./examples/receiver -secret whsec_…        (or WEBHOOK_SECRET=whsec_…)
//
// It listens on :3000 (-addr) and accepts webhooks at any path. Pass -secret
// several times (or WEBHOOK_SECRET="new old") while a secret is being rotated;
// a whpk_ public key verifies Ed25519 (v1a) projects.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/hookd/hookd/webhook"
)

type secrets []string

func (s *secrets) String() string     { return fmt.Sprintf("%d secret(s)", len(*s)) }
func (s *secrets) Set(v string) error { *s = append(*s, v); return nil }

func main() {
	var keys secrets
	flag.Var(&keys, "secret", "whsec_ secret or whpk_ public key of the project (repeatable; default $WEBHOOK_SECRET, space-separated)")
	addr := flag.String("addr", ":3000", "address to listen on")
	flag.Parse()
	if len(keys) == 0 {
		keys = strings.Fields(os.Getenv("WEBHOOK_SECRET"))
	}
	if len(keys) == 0 {
		fmt.Fprintln(os.Stderr, "receiver: give the project's secret with -secret whsec_… or WEBHOOK_SECRET")
		os.Exit(2)
	}
	verifier, err := webhook.NewVerifier(keys)
	if err != nil {
		fmt.Fprintln(os.Stderr, "receiver:", err) // never contains the secret
		os.Exit(2)
	}

	verify := webhook.Middleware(verifier,
		webhook.WithDeduplicator(webhook.NewMemoryDeduplicator(100_000, 72*time.Hour)),
		webhook.WithErrorHandler(func(w http.ResponseWriter, r *http.Request, status int, err error) {
			log.Printf("refused %s %s: %d %v", r.Method, r.URL.Path, status, err)
			http.Error(w, err.Error(), status)
		}))
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ev, _ := webhook.EventFromContext(r.Context())
		log.Printf("verified %s %s (signed %s): %s", ev.ID, ev.Type, ev.Timestamp.Format(time.TimeOnly), ev.Data)
		w.WriteHeader(http.StatusOK)
	})

	srv := &http.Server{Addr: *addr, Handler: verify(handler), ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shutdown)
	}()
	log.Printf("receiver: listening on %s; verifying with %s", *addr, &keys)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}
