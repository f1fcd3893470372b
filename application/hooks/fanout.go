package hooks

import (
	"context"
	"encoding/json"
	"time"

	"github.com/wabaplatform/waba/application/events"
	"github.com/wabaplatform/waba/domain"
)

// Fanout turns the event log into deliveries: for each batch, every public event to every
// enabled endpoint of its workspace subscribed to its type, stored in one statement in a
// transaction of its own that also wakes the endpoints' jobs. The log hands a batch over
// at least once; the deliveries' unique (endpoint, event id) makes a second hand-over add
// nothing.
type Fanout struct {
	tx    TxRunner
	store Store
	now   domain.Clock
}

// Fanout returns the subscriber that fans the log out to the endpoints.
func (s *Service) Fanout() *Fanout { return &Fanout{tx: s.d.Tx, store: s.d.Store, now: s.now} }

// Name implements events.Subscriber.
func (*Fanout) Name() string { return "hooks" }

type publicEvent struct {
	logID int64
	ws    domain.ID
	typ   domain.HookEventType
	at    time.Time
	data  map[string]any
}

// Handle implements events.Subscriber.
func (f *Fanout) Handle(ctx context.Context, batch []events.Logged) error {
	var pub []publicEvent
	var workspaces []domain.ID
	seen := map[domain.ID]bool{}
	for _, e := range batch {
		if e.WorkspaceID.IsZero() {
			continue
		}
		var details map[string]any
		if len(e.Payload) > 0 && json.Unmarshal(e.Payload, &details) != nil {
			continue // not a payload the mapping reads
		}
		t, data, ok := domain.PublicHookEvent(domain.HookSource{Kind: e.Kind, ResourceID: e.ResourceID,
			ContactID: e.ContactID, MessageID: e.MessageID, Details: details})
		if !ok {
			continue
		}
		pub = append(pub, publicEvent{logID: e.ID, ws: e.WorkspaceID, typ: t, at: e.At, data: data})
		if !seen[e.WorkspaceID] {
			seen[e.WorkspaceID] = true
			workspaces = append(workspaces, e.WorkspaceID)
		}
	}
	if len(pub) == 0 {
		return nil
	}
	endpoints, err := f.store.Subscribers(ctx, workspaces)
	if err != nil || len(endpoints) == 0 {
		return err
	}
	byWS := map[domain.ID][]domain.HookEndpoint{}
	for _, e := range endpoints {
		byWS[e.WorkspaceID] = append(byWS[e.WorkspaceID], e)
	}
	now := f.now().UTC()
	var ds []domain.HookDelivery
	var refs []EndpointRef
	woken := map[domain.ID]bool{}
	for _, p := range pub {
		var body []byte
		for _, e := range byWS[p.ws] {
			if !domain.HookSubscribed(e.Events, p.typ) {
				continue
			}
			id := domain.HookEventID(p.logID)
			if body == nil {
				if body, err = publicBody(id, p.typ, p.at, p.ws, p.data); err != nil {
					return err
				}
			}
			ds = append(ds, newDelivery(e, id, p.typ, body, now))
			if !woken[e.ID] {
				woken[e.ID] = true
				refs = append(refs, EndpointRef{WorkspaceID: e.WorkspaceID, EndpointID: e.ID})
			}
		}
	}
	if len(ds) == 0 {
		return nil
	}
	return f.tx.InTx(ctx, func(ctx context.Context, r Repos) error {
		if err := r.Hooks.InsertDeliveries(ctx, ds); err != nil {
			return err
		}
		return r.Jobs.WakeEndpoints(ctx, refs)
	})
}
