package messaging_test

import (
	"bytes"
	"context"
	"sync"
	"time"

	"github.com/wabaplatform/waba/application/authz/authztest"
	"github.com/wabaplatform/waba/application/contacts"
	"github.com/wabaplatform/waba/application/messaging"
	"github.com/wabaplatform/waba/application/messaging/messagingtest"
	"github.com/wabaplatform/waba/domain"
	"github.com/wabaplatform/waba/domain/access"
)

var policy = authztest.Grants{
	access.Owner:  {access.MessagesSend, access.MessagesRead},
	access.Agent:  {access.MessagesSend, access.MessagesRead},
	access.Viewer: {access.MessagesRead},
}

// fakeDB is every port of the send use case over maps; a transaction works on the live
// maps and undoes nothing (the use case's checks run before it), except that a failing
// function leaves no message behind.
type fakeDB struct {
	mu          sync.Mutex
	plan        domain.Plan
	contacts    map[domain.ID]domain.Contact
	suppressed  map[string]domain.Suppression // by phone: the opt-outs of deleted contacts
	numbers     []domain.PhoneNumber
	messages    map[domain.ID]domain.Message
	categories  map[string]string
	idem        *messagingtest.Idempotency
	events      []domain.Occurrence
	jobs        map[domain.ID]int // message id -> priority
	quotaCount  int
	quotaCalls  int
	quotaWindow time.Time
}

func newFakeDB() *fakeDB {
	return &fakeDB{plan: domain.PlanFree, contacts: map[domain.ID]domain.Contact{}, suppressed: map[string]domain.Suppression{}, messages: map[domain.ID]domain.Message{},
		categories: map[string]string{}, idem: messagingtest.NewIdempotency(), jobs: map[domain.ID]int{},
		quotaWindow: time.Now().Add(time.Minute)}
}

func (db *fakeDB) Get(_ context.Context, ws, id domain.ID, view contacts.View, _ bool) (domain.Contact, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	c, ok := db.contacts[id]
	if !ok || c.WorkspaceID != ws || !view.Allows(c) {
		return domain.Contact{}, domain.NotFound("contact")
	}
	return c, nil
}

func (db *fakeDB) Suppression(_ context.Context, _ domain.ID, address string) (domain.Suppression, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.suppressed[address], nil
}

func (db *fakeDB) List(_ context.Context, ws domain.ID, f contacts.Filter, _ contacts.View, _ int) ([]domain.Contact, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	var out []domain.Contact
	for _, c := range db.contacts {
		if c.WorkspaceID == ws && c.Phone == f.Phone {
			out = append(out, c)
		}
	}
	return out, nil
}

func (db *fakeDB) Workspace(_ context.Context, id domain.ID) (domain.Workspace, error) {
	return domain.Workspace{ID: id, Plan: db.plan}, nil
}

type numbers struct{ db *fakeDB }

func (n numbers) List(_ context.Context, ws domain.ID) ([]domain.PhoneNumber, error) {
	return n.db.numbers, nil
}

type store struct{ db *fakeDB }

func (s store) GetMessage(_ context.Context, ws, id domain.ID) (domain.Message, error) {
	s.db.mu.Lock()
	defer s.db.mu.Unlock()
	m, ok := s.db.messages[id]
	if !ok {
		return m, domain.NotFound("message")
	}
	return m, nil
}

func (s store) ListByContact(context.Context, domain.ID, domain.ID, domain.ID, int) ([]domain.Message, error) {
	return nil, nil
}

func (s store) TemplateCategory(_ context.Context, _ domain.ID, _, name, _ string) (string, error) {
	return s.db.categories[name], nil
}

type quota struct{ db *fakeDB }

func (q quota) Take(_ context.Context, _ string, perMinute int) (messaging.QuotaState, error) {
	q.db.mu.Lock()
	defer q.db.mu.Unlock()
	q.db.quotaCalls++
	q.db.quotaCount++
	return q.state(perMinute), nil
}

func (q quota) Peek(_ context.Context, _ string, perMinute int) (messaging.QuotaState, error) {
	q.db.mu.Lock()
	defer q.db.mu.Unlock()
	return q.state(perMinute), nil
}

func (q quota) state(limit int) messaging.QuotaState {
	return messaging.QuotaState{Limit: limit, Remaining: max(limit-q.db.quotaCount, 0), Reset: q.db.quotaWindow,
		Reached: q.db.quotaCount > limit}
}

// tx is the transaction-bound side.
type tx struct{ db *fakeDB }

func (t tx) Save(ctx context.Context, r messaging.IdempotencyRecord) error {
	return t.db.idem.Save(ctx, r)
}

func (t tx) Create(_ context.Context, c domain.Contact) (domain.Contact, error) {
	for _, o := range t.db.contacts {
		if o.WorkspaceID == c.WorkspaceID && o.Phone == c.Phone {
			return c, domain.Errorf(domain.KindContactExists, "exists")
		}
	}
	sup := t.db.suppressed[c.Phone]
	c.OptedOut, c.MarketingOptedOut = sup.OptedOut, sup.MarketingOptedOut
	t.db.contacts[c.ID] = c
	return c, nil
}

func (t tx) Queue(_ context.Context, m domain.Message, ev domain.Occurrence) error {
	t.db.messages[m.ID] = m
	t.db.events = append(t.db.events, ev)
	return nil
}

func (t tx) Append(_ context.Context, os ...domain.Occurrence) error {
	t.db.events = append(t.db.events, os...)
	return nil
}

func (t tx) EnqueueSendPriority(_ context.Context, _, id domain.ID, priority int) error {
	t.db.jobs[id] = priority
	return nil
}

func (db *fakeDB) InTx(ctx context.Context, fn func(ctx context.Context, r messaging.Repos) error) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	t := tx{db}
	return fn(ctx, messaging.Repos{Contacts: t, Messages: t, Events: t, Jobs: t, Idempotency: t})
}

func newService(db *fakeDB) *messaging.Service {
	return messaging.NewService(messaging.Deps{Tx: db, Contacts: db, Workspaces: db, Numbers: numbers{db},
		Messages: store{db}, Quota: quota{db}, Idempotency: db.idem, Authz: policy})
}

// fakeGraph, fakeVault and fakePacer back the Dispatcher (with messagingtest.Outbox).
type fakeGraph struct {
	calls int
	err   error
	sent  domain.OutboundMessage
}

func (g *fakeGraph) SendMessage(_ context.Context, _, _ string, m domain.OutboundMessage) (string, error) {
	g.calls++
	g.sent = m
	if g.err != nil {
		return "", g.err
	}
	return "wamid.TEST", nil
}

type fakeVault struct{}

func (fakeVault) Open(_ context.Context, s domain.Sealed, _ domain.SecretBinding) ([]byte, error) {
	return bytes.Clone(s.Ciphertext), nil
}

type fakePacer struct {
	wait    time.Duration
	strikes int
}

func (p *fakePacer) Take(context.Context, string, int) (time.Duration, error) { return p.wait, nil }
func (p *fakePacer) Strike(context.Context, string) (int, error) {
	p.strikes++
	return p.strikes, nil
}
