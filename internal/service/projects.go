package service

import (
	"context"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/store"
)

// Entities the services return: the store's types, named here so a front
// end needs no other import for them.
type (
	Project  = store.Project
	APIKey   = store.APIKey
	Endpoint = store.Endpoint
	Event    = store.Event
	Delivery = store.Delivery
	Attempt  = store.Attempt
)

// Projects creates and reads projects.
type Projects struct {
	c       *core
	secrets *Secrets
}

// CreateProject is the input of Projects.Create.
type CreateProject struct {
	// Name is shown to users: 1 to MaxNameLen characters after trimming
	// surrounding space.
	Name string
	// SignatureScheme is "hmac" (default when empty) or "ed25519"; the
	// project's first signing secret is made for it.
	SignatureScheme string
}

// Validate checks the input, naming the field at fault.
func (in CreateProject) Validate() error {
	name := strings.TrimSpace(in.Name)
	if name == "" || utf8.RuneCountInString(name) > MaxNameLen {
		return Invalid("name", "must be 1 to "+strconv.Itoa(MaxNameLen)+" characters")
	}
	if err := checkText("name", in.Name, false); err != nil {
		return err
	}
	_, err := parseScheme(in.SignatureScheme, SchemeHMAC)
	return err
}

// Create makes a project and its first signing secret. Creating projects
// is for the admin; the front end checks that.
func (s *Projects) Create(ctx context.Context, in CreateProject) (Project, error) {
	if err := in.Validate(); err != nil {
		return Project{}, err
	}
	_, sealed, err := s.secrets.newSecret(in.SignatureScheme, SchemeHMAC)
	if err != nil {
		return Project{}, err
	}
	now := s.c.now()
	p := Project{ID: ids.New(ids.Project, now), Name: strings.TrimSpace(in.Name), CreatedAt: now}
	if err := s.c.store.CreateProject(ctx, p); err != nil {
		return Project{}, translate(err, "project")
	}
	// Two writes, not one transaction: should the second fail, the
	// project exists without a secret until the first rotation, which is
	// harmless because nothing is delivered for a project that has no
	// endpoints yet.
	sec := store.Secret{ID: ids.New(ids.Secret, now), ProjectID: p.ID, Value: sealed, CreatedAt: now}
	if err := s.c.store.AddSecret(ctx, sec); err != nil {
		return Project{}, translate(err, "project")
	}
	s.c.record(ctx, p.ID, ActionProjectCreated, p.ID, p.Name)
	return p, nil
}

// Get returns project id.
func (s *Projects) Get(ctx context.Context, id string) (Project, error) {
	if !ids.Valid(ids.Project, id) {
		return Project{}, NotFound("project")
	}
	p, err := s.c.store.GetProject(ctx, id)
	return p, translate(err, "project")
}

// List lists projects, oldest first. only scopes the list to one project
// (what a project key may see); "" lists every project (the admin).
func (s *Projects) List(ctx context.Context, only string, p Page) (List[Project], error) {
	return list(p, ids.Project, func(p Project) string { return p.ID }, func(sp store.Page) ([]Project, error) {
		return s.c.store.ListProjects(ctx, only, sp)
	})
}
