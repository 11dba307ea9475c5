// Command publish publishes one event with hookd's Go client (package client):
//
//	go run ./examples/publish -project prj_… -type tester.created -data '{"name":"Ada"}'
//
// The API key comes from -key or $KEY, hookd's address from -url (default
// http://localhost:8080). Network errors, 429 and 503 are retried for up to
// -timeout with one idempotency key, so the event is stored once.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/hookd/hookd/client"
)

func main() {
	base := flag.String("url", "http://localhost:8080", "hookd's address")
	key := flag.String("key", os.Getenv("KEY"), "API key (default $KEY)")
	project := flag.String("project", os.Getenv("PID"), "project id (default $PID)")
	typ := flag.String("type", "tester.created", "event type")
	data := flag.String("data", `{"name":"Ada"}`, "event data, a JSON object")
	idem := flag.String("idempotency-key", "", "idempotency key (default: a new one)")
	timeout := flag.Duration("timeout", 30*time.Second, "give up after this long, retries included")
	flag.Parse()

	c, err := client.New(*base, *key)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if !json.Valid([]byte(*data)) {
		fmt.Fprintln(os.Stderr, "publish: -data is not JSON")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	ev, err := c.Publish(ctx, *project, client.Event{Type: *typ, Data: json.RawMessage(*data), IdempotencyKey: *idem})
	if err != nil {
		fmt.Fprintln(os.Stderr, "publish:", err)
		os.Exit(1)
	}
	out, _ := json.Marshal(ev)
	fmt.Printf("%s (idempotency key %s)\n", out, ev.IdempotencyKey)
}
