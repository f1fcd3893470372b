package messaging_test

import (
	"bytes"
	"context"
	"sync"
	"time"

	"github.com/wabaplatform/waba/application/authz/authztest"
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

// quota is the rate limiter: one counter, whatever the key, in one window.
type quota struct {
	mu     sync.Mutex
	count  int // the requests counted
	calls  int // the Take calls
	window time.Time
}

func newQuota() *quota { return &quota{window: time.Now().Add(time.Minute)} }

func (q *quota) Take(_ context.Context, _ string, perMinute int) (messaging.QuotaState, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.calls++
	q.count++
	return q.state(perMinute), nil
}

func (q *quota) Peek(_ context.Context, _ string, perMinute int) (messaging.QuotaState, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.state(perMinute), nil
}

func (q *quota) state(limit int) messaging.QuotaState {
	return messaging.QuotaState{Limit: limit, Remaining: max(limit-q.count, 0), Reset: q.window, Reached: q.count > limit}
}

// set makes the counter hold n requests.
func (q *quota) set(n int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.count = n
}

// taken counts the Take calls.
func (q *quota) taken() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.calls
}

func newService(db *messagingtest.Memory, q *quota) *messaging.Service {
	return newServiceWith(db, db.Contacts(), q)
}

// newServiceWith is newService reading contacts through cs.
func newServiceWith(db *messagingtest.Memory, cs messaging.Contacts, q *quota) *messaging.Service {
	return messaging.NewService(messaging.Deps{Tx: db, Contacts: cs, Workspaces: db, Numbers: db.Numbers(),
		Messages: db, Templates: db, Quota: q, Idempotency: db, Authz: policy})
}

// fakeGraph, fakeVault and fakePacer back the Dispatcher (with messagingtest.Outbox).
type fakeGraph struct {
	calls  int
	err    error
	sent   domain.OutboundMessage
	during func() // runs in each call, before it answers
}

func (g *fakeGraph) SendMessage(_ context.Context, _, _ string, m domain.OutboundMessage) (string, error) {
	g.calls++
	g.sent = m
	if g.during != nil {
		g.during()
	}
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

// campaignResults runs the results' transactions over an outbox and records what the
// campaigns were told in each.
type campaignResults struct {
	o     messaging.Outbox
	txs   int
	calls [][]domain.Message
}

func (c *campaignResults) InTx(ctx context.Context, fn func(ctx context.Context, r messaging.ResultRepos) error) error {
	c.txs++
	return fn(ctx, messaging.ResultRepos{Outbox: c.o, Campaigns: c})
}

func (c *campaignResults) Advanced(_ context.Context, ms []domain.Message) error {
	c.calls = append(c.calls, ms)
	return nil
}
