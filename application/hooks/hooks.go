// Package hooks sends a workspace's events to its own systems: webhook endpoints it
// registers (API.md "Outbound webhooks"). Signed per Standard Webhooks, retried for days,
// replayable by hand, and safe to point anywhere the address policy allows.
//
// Three parts, each in its own transaction and never in a request:
//   - the endpoint use cases (Service): register, change, rotate the secret, test, list
//     deliveries, retry one;
//   - the fan-out (Fanout), a subscriber of the event log: per batch of the log, one
//     statement stores a delivery for every public event and every endpoint subscribed to
//     it (idempotent: the delivery's event id derives from the log's id) and wakes the
//     endpoints' jobs;
//   - the delivery (Deliverer), one job per endpoint: it claims its due deliveries, sends
//     them a few at a time (an endpoint's slots are its own: a slow one never holds
//     another's), records the outcomes in one statement, schedules retries, and disables
//     an endpoint failing for days.
package hooks

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/wabaplatform/waba/application/authz"
	"github.com/wabaplatform/waba/domain"
	"github.com/wabaplatform/waba/domain/access"
)

// Deps are what the use cases need.
type Deps struct {
	Tx      TxRunner
	Store   Store // outside transactions
	Vault   Vault
	Checker Checker
	Authz   authz.Authorizer
	Clock   domain.Clock
	// Random fills b with random bytes (the secrets); nil: crypto/rand.
	Random func(b []byte)
}

// Service is the endpoint use cases.
type Service struct {
	d      Deps
	now    domain.Clock
	random func(b []byte)
}

// NewService returns the endpoint use cases.
func NewService(d Deps) *Service {
	s := &Service{d: d, now: d.Clock, random: d.Random}
	if s.now == nil {
		s.now = time.Now
	}
	if s.random == nil {
		s.random = func(b []byte) { _, _ = rand.Read(b) }
	}
	return s
}

// EndpointInput is an endpoint to create, or the fields of one to change (nil: unchanged).
type EndpointInput struct {
	URL         *string
	Events      []string // nil: unchanged
	Description *string
	Enabled     *bool
}

// MaxEndpoints is how many endpoints a workspace may have.
const MaxEndpoints = 20

// Created is a new endpoint and its secret, shown once.
type Created struct {
	Endpoint domain.HookEndpoint
	Secret   string
}

// Create registers an endpoint after checking its URL (resolved) against the address
// policy, with a new secret.
func (s *Service) Create(ctx context.Context, c domain.Caller, in EndpointInput) (Created, error) {
	if err := authz.Require(s.d.Authz, c, access.WebhooksManage); err != nil {
		return Created{}, err
	}
	if in.URL == nil {
		in.URL = new(string)
	}
	if in.Events == nil {
		in.Events = []string{}
	}
	url, events, desc, err := s.validate(ctx, in)
	if err != nil {
		return Created{}, err
	}
	existing, err := s.d.Store.Endpoints(ctx, c.WorkspaceID)
	if err != nil {
		return Created{}, err
	}
	if len(existing) >= MaxEndpoints {
		return Created{}, domain.Errorf(domain.KindConflict, "a workspace has at most %d webhook endpoints", MaxEndpoints)
	}
	now := s.now().UTC()
	e := domain.HookEndpoint{ID: domain.NewID(), WorkspaceID: c.WorkspaceID, URL: url, Events: events, Description: desc,
		Enabled: true, CreatedAt: now, UpdatedAt: now}
	secret := s.newSecret()
	if e.Secret, err = s.d.Vault.Seal(ctx, []byte(secret), domain.HookSecretBinding(e.WorkspaceID, e.ID)); err != nil {
		return Created{}, err
	}
	err = s.d.Tx.InTx(ctx, func(ctx context.Context, r Repos) error {
		if err := r.Hooks.InsertEndpoint(ctx, e); err != nil {
			return err
		}
		return r.Events.Append(ctx, domain.Occurred(c, now, domain.HookEndpointChanged{EndpointID: e.ID,
			Action: domain.HookEndpointCreate, URL: e.URL, Events: e.Events}))
	})
	if err != nil {
		return Created{}, err
	}
	return Created{Endpoint: e, Secret: secret}, nil
}

func (s *Service) newSecret() string {
	b := make([]byte, 32)
	s.random(b)
	return domain.NewHookSecret(b)
}

// validate checks what in sets (a URL against the address policy, resolved).
func (s *Service) validate(ctx context.Context, in EndpointInput) (url string, events []domain.HookEventType, desc string, err error) {
	var v domain.Validator
	if in.URL != nil {
		url = strings.TrimSpace(*in.URL)
		v.Check(url != "", "url", "is required")
	}
	if in.Events != nil {
		v.Check(len(in.Events) > 0, "events", `must list event types, or ["*"]`)
		v.Check(len(in.Events) <= len(domain.HookEventTypes)+1, "events", "lists too many types")
		for _, raw := range in.Events {
			t, ok := domain.ParseHookEventType(raw)
			if !ok {
				v.Add("events", "has an unknown event type: "+domain.TruncateRunes(raw, 64))
				break
			}
			if !slices.Contains(events, t) {
				events = append(events, t)
			}
		}
	}
	if in.Description != nil {
		desc = strings.TrimSpace(*in.Description)
		v.Check(len([]rune(desc)) <= 500, "description", "must be at most 500 characters")
	}
	if err := v.Err(); err != nil {
		return "", nil, "", err
	}
	if in.URL != nil {
		if err := s.d.Checker.CheckURL(ctx, url); err != nil {
			return "", nil, "", err
		}
	}
	return url, events, desc, nil
}

// List returns the workspace's endpoints (without secrets).
func (s *Service) List(ctx context.Context, c domain.Caller) ([]domain.HookEndpoint, error) {
	if err := authz.Require(s.d.Authz, c, access.WebhooksRead); err != nil {
		return nil, err
	}
	return s.d.Store.Endpoints(ctx, c.WorkspaceID)
}

// Get returns one endpoint (without its secret).
func (s *Service) Get(ctx context.Context, c domain.Caller, id domain.ID) (domain.HookEndpoint, error) {
	if err := authz.Require(s.d.Authz, c, access.WebhooksRead); err != nil {
		return domain.HookEndpoint{}, err
	}
	return s.d.Store.Endpoint(ctx, c.WorkspaceID, id, false)
}

// Update changes an endpoint's URL (checked again), events, description or enabled flag.
// Enabling an endpoint (again) clears its failure record and wakes its deliveries.
func (s *Service) Update(ctx context.Context, c domain.Caller, id domain.ID, in EndpointInput) (domain.HookEndpoint, error) {
	if err := authz.Require(s.d.Authz, c, access.WebhooksManage); err != nil {
		return domain.HookEndpoint{}, err
	}
	url, events, desc, err := s.validate(ctx, in)
	if err != nil {
		return domain.HookEndpoint{}, err
	}
	var out domain.HookEndpoint
	now := s.now().UTC()
	err = s.d.Tx.InTx(ctx, func(ctx context.Context, r Repos) error {
		e, err := r.Hooks.Endpoint(ctx, c.WorkspaceID, id, true)
		if err != nil {
			return err
		}
		var fields []string
		if in.URL != nil && url != e.URL {
			e.URL, fields = url, append(fields, "url")
		}
		if in.Events != nil && !slices.Equal(events, e.Events) {
			e.Events, fields = events, append(fields, "events")
		}
		if in.Description != nil && desc != e.Description {
			e.Description, fields = desc, append(fields, "description")
		}
		wake := false
		if in.Enabled != nil && *in.Enabled != e.Enabled {
			e.Enabled, fields = *in.Enabled, append(fields, "enabled")
			if e.Enabled {
				e.DisabledAt, e.FailingSince, wake = nil, nil, true
			}
		}
		out = e
		if len(fields) == 0 {
			return nil
		}
		e.UpdatedAt = now
		out = e
		if err := r.Hooks.UpdateEndpoint(ctx, e); err != nil {
			return err
		}
		if wake {
			if err := r.Jobs.WakeEndpoints(ctx, []EndpointRef{{WorkspaceID: e.WorkspaceID, EndpointID: e.ID}}); err != nil {
				return err
			}
		}
		return r.Events.Append(ctx, domain.Occurred(c, now, domain.HookEndpointChanged{EndpointID: e.ID,
			Action: domain.HookEndpointUpdate, URL: e.URL, Events: e.Events, Fields: fields}))
	})
	return out, err
}

// Delete removes an endpoint with its deliveries.
func (s *Service) Delete(ctx context.Context, c domain.Caller, id domain.ID) error {
	if err := authz.Require(s.d.Authz, c, access.WebhooksManage); err != nil {
		return err
	}
	now := s.now().UTC()
	return s.d.Tx.InTx(ctx, func(ctx context.Context, r Repos) error {
		e, err := r.Hooks.Endpoint(ctx, c.WorkspaceID, id, true)
		if err != nil {
			return err
		}
		if err := r.Hooks.DeleteEndpoint(ctx, c.WorkspaceID, id); err != nil {
			return err
		}
		return r.Events.Append(ctx, domain.Occurred(c, now, domain.HookEndpointChanged{EndpointID: e.ID,
			Action: domain.HookEndpointDelete, URL: e.URL}))
	})
}

// RotateSecret gives the endpoint a new secret, returned once; the one it replaces still
// signs for domain.HookRotationOverlap (a rotation during an overlap ends the older one).
func (s *Service) RotateSecret(ctx context.Context, c domain.Caller, id domain.ID) (string, error) {
	if err := authz.Require(s.d.Authz, c, access.WebhooksManage); err != nil {
		return "", err
	}
	if _, err := s.d.Store.Endpoint(ctx, c.WorkspaceID, id, false); err != nil {
		return "", err
	}
	secret := s.newSecret()
	sealed, err := s.d.Vault.Seal(ctx, []byte(secret), domain.HookSecretBinding(c.WorkspaceID, id))
	if err != nil {
		return "", err
	}
	now := s.now().UTC()
	err = s.d.Tx.InTx(ctx, func(ctx context.Context, r Repos) error {
		e, err := r.Hooks.Endpoint(ctx, c.WorkspaceID, id, true)
		if err != nil {
			return err
		}
		old, until := e.Secret, now.Add(domain.HookRotationOverlap)
		e.Previous, e.PreviousUntil, e.Secret, e.UpdatedAt = &old, &until, sealed, now
		if err := r.Hooks.UpdateEndpoint(ctx, e); err != nil {
			return err
		}
		return r.Events.Append(ctx, domain.Occurred(c, now, domain.HookEndpointChanged{EndpointID: e.ID,
			Action: domain.HookEndpointRotate, URL: e.URL}))
	})
	if err != nil {
		return "", err
	}
	return secret, nil
}

// Test queues a ping to the endpoint (whatever events it subscribes to) and returns its
// delivery.
func (s *Service) Test(ctx context.Context, c domain.Caller, id domain.ID) (domain.HookDelivery, error) {
	if err := authz.Require(s.d.Authz, c, access.WebhooksManage); err != nil {
		return domain.HookDelivery{}, err
	}
	now := s.now().UTC()
	var d domain.HookDelivery
	err := s.d.Tx.InTx(ctx, func(ctx context.Context, r Repos) error {
		e, err := r.Hooks.Endpoint(ctx, c.WorkspaceID, id, false)
		if err != nil {
			return err
		}
		pingID := domain.NewID()
		eventID := "evt_ping_" + strings.ReplaceAll(pingID.String(), "-", "")
		body, err := publicBody(eventID, domain.HookPing, now, e.WorkspaceID, map[string]any{"endpoint_id": e.ID.String()})
		if err != nil {
			return err
		}
		d = newDelivery(e, eventID, domain.HookPing, body, now)
		if err := r.Hooks.InsertDeliveries(ctx, []domain.HookDelivery{d}); err != nil {
			return err
		}
		return r.Jobs.WakeEndpoints(ctx, []EndpointRef{{WorkspaceID: e.WorkspaceID, EndpointID: e.ID}})
	})
	return d, err
}

// Deliveries lists an endpoint's deliveries, newest first.
func (s *Service) Deliveries(ctx context.Context, c domain.Caller, endpointID domain.ID, f DeliveryFilter, limit int) (domain.Page[domain.HookDelivery], error) {
	if err := authz.Require(s.d.Authz, c, access.WebhooksRead); err != nil {
		return domain.Page[domain.HookDelivery]{}, err
	}
	if _, err := s.d.Store.Endpoint(ctx, c.WorkspaceID, endpointID, false); err != nil {
		return domain.Page[domain.HookDelivery]{}, err
	}
	return domain.ReadPage(limit, func(n int) ([]domain.HookDelivery, error) {
		return s.d.Store.Deliveries(ctx, c.WorkspaceID, endpointID, f, n)
	}, func(d domain.HookDelivery) domain.ID { return d.ID })
}

// Retry makes one delivery due now, whatever its status (a dead one too), and wakes its
// endpoint's job.
func (s *Service) Retry(ctx context.Context, c domain.Caller, id domain.ID) error {
	if err := authz.Require(s.d.Authz, c, access.WebhooksManage); err != nil {
		return err
	}
	now := s.now().UTC()
	return s.d.Tx.InTx(ctx, func(ctx context.Context, r Repos) error {
		d, err := r.Hooks.Delivery(ctx, c.WorkspaceID, id)
		if err != nil {
			return err
		}
		if err := r.Hooks.RetryDelivery(ctx, c.WorkspaceID, id, now); err != nil {
			return err
		}
		return r.Jobs.WakeEndpoints(ctx, []EndpointRef{{WorkspaceID: d.WorkspaceID, EndpointID: d.EndpointID}})
	})
}

// publicBody is the body every attempt of a public event sends (API.md: {id, type,
// created_at, workspace_id, data}), in that order.
func publicBody(id string, t domain.HookEventType, at time.Time, ws domain.ID, data map[string]any) ([]byte, error) {
	return json.Marshal(struct {
		ID          string               `json:"id"`
		Type        domain.HookEventType `json:"type"`
		CreatedAt   string               `json:"created_at"`
		WorkspaceID string               `json:"workspace_id"`
		Data        map[string]any       `json:"data"`
	}{id, t, at.UTC().Format(time.RFC3339Nano), ws.String(), data})
}

func newDelivery(e domain.HookEndpoint, eventID string, t domain.HookEventType, body []byte, now time.Time) domain.HookDelivery {
	return domain.HookDelivery{ID: domain.NewID(), WorkspaceID: e.WorkspaceID, EndpointID: e.ID, EventID: eventID, EventType: t,
		Body: body, Status: domain.HookPending, NextAttemptAt: &now, CreatedAt: now, UpdatedAt: now}
}
