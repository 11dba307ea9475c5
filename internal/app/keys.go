package app

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/hookd/hookd/internal/outbound"
	"github.com/hookd/hookd/internal/service"
	"github.com/hookd/hookd/internal/store"
)

// RotateAdminKey issues a new admin key in the database db and revokes
// the admin keys hookd made itself (the --admin-key's, one generated at
// first start, one rotated before); the keys they created pass to the new
// one. It returns the new key, to be shown once. Running nodes stop
// accepting the old key within service.DefaultKeyCacheTTL.
func RotateAdminKey(ctx context.Context, db string) (string, error) {
	s, err := store.Open(ctx, db)
	if err != nil {
		return "", err
	}
	defer s.Close()
	svc, err := service.New(service.Config{Store: s, Publisher: offline{}, Tester: offline{}})
	if err != nil {
		return "", err
	}
	k, err := svc.Keys.RotateAdmin(ctx)
	if err != nil {
		return "", err
	}
	return k.Key, nil
}

// offline is the publisher and tester of a service that only manages
// keys.
type offline struct{}

var errOffline = errors.New("not available in this command")

func (offline) Publish(context.Context, store.Event) (store.PublishResult, error) {
	return store.PublishResult{}, errOffline
}

func (offline) Test(context.Context, string, string, string, json.RawMessage) (outbound.Result, error) {
	return outbound.Result{}, errOffline
}
