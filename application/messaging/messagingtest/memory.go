package messagingtest

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/wabaplatform/waba/application/contacts"
	"github.com/wabaplatform/waba/application/contacts/contactstest"
	"github.com/wabaplatform/waba/application/messaging"
	"github.com/wabaplatform/waba/domain"
)

type idemKey struct {
	ws  domain.ID
	key string
}

type templateKey struct {
	ws                     domain.ID
	wabaID, name, language string
}

// sendState is what a send transaction writes; each transaction works on a copy.
type sendState struct {
	messages map[key]domain.Message
	events   []domain.Occurrence
	jobs     map[domain.ID]int // message id -> priority
	idem     map[idemKey]messaging.IdempotencyRecord
}

func (s *sendState) clone() *sendState {
	return &sendState{messages: maps.Clone(s.messages), events: slices.Clone(s.events), jobs: maps.Clone(s.jobs),
		idem: maps.Clone(s.idem)}
}

// Memory is an in-memory database of the send and read use cases: every repository port
// they use, their transaction runner, and the send jobs a transaction enqueues. Contacts
// and the suppression list live in a contactstest.Memory, which each transaction joins: a
// transaction works on copies of both, kept only when its function returns nil (so a
// rollback is observable), and transactions run one at a time. Like the Postgres adapter,
// it judges an Idempotency-Key's expiry by the clock (the database's now()), not by a time
// it is given: a record has expired once its ExpiresAt is not after now.
type Memory struct {
	contacts *contactstest.Memory

	mu         sync.Mutex
	state      *sendState
	workspaces map[domain.ID]domain.Workspace
	numbers    map[key]domain.PhoneNumber
	templates  map[templateKey]domain.Template
	caps       map[domain.ID]domain.MessagingSettings // by workspace; the defaults when absent
	holds      map[key]time.Time                      // contact -> marketing hold
}

// NewMemory returns an empty database whose contacts are cs.
func NewMemory(cs *contactstest.Memory) *Memory {
	return &Memory{contacts: cs,
		state: &sendState{messages: map[key]domain.Message{}, jobs: map[domain.ID]int{},
			idem: map[idemKey]messaging.IdempotencyRecord{}},
		workspaces: map[domain.ID]domain.Workspace{}, numbers: map[key]domain.PhoneNumber{}, templates: map[templateKey]domain.Template{},
		caps: map[domain.ID]domain.MessagingSettings{}, holds: map[key]time.Time{}}
}

// InTx runs fn on a copy of the state (the contacts' too), committed when fn returns nil.
// A read outside the transaction from inside fn would wait for it forever.
func (db *Memory) InTx(ctx context.Context, fn func(ctx context.Context, r messaging.Repos) error) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	tx := &memoryTx{s: db.state.clone(), db: db}
	err := db.contacts.InTx(ctx, func(ctx context.Context, cr contacts.Repos) error {
		return fn(ctx, messaging.Repos{Contacts: cr.Contacts, Messages: tx, Events: tx, Jobs: tx, Idempotency: tx, Marketing: tx})
	})
	if err == nil {
		db.state = tx.s
	}
	return err
}

// Contacts reads the contacts and the suppression list outside transactions.
func (db *Memory) Contacts() messaging.Contacts {
	return contactReads{Store: db.contacts.Store(), db: db.contacts}
}

// Numbers lists the workspaces' numbers.
func (db *Memory) Numbers() messaging.Numbers { return numberList{db} }

// PutWorkspace stores w as it is.
func (db *Memory) PutWorkspace(w domain.Workspace) {
	db.mu.Lock()
	defer db.mu.Unlock()
	db.workspaces[w.ID] = w
}

// PutNumber stores n as it is, in place of a number with its id.
func (db *Memory) PutNumber(n domain.PhoneNumber) {
	db.mu.Lock()
	defer db.mu.Unlock()
	db.numbers[key{n.WorkspaceID, n.ID}] = n
}

// PutTemplate puts t in the catalogue (under its workspace, WABA, name and language).
func (db *Memory) PutTemplate(t domain.Template) {
	db.mu.Lock()
	defer db.mu.Unlock()
	db.templates[templateKey{t.WorkspaceID, t.WABAID, t.Name, t.Language}] = t
}

// PutCaps sets the frequency caps of ws.
func (db *Memory) PutCaps(ws domain.ID, perDay, perWeek int) {
	db.mu.Lock()
	defer db.mu.Unlock()
	db.caps[ws] = domain.MessagingSettings{MarketingPerContactPerDay: perDay, MarketingPerContactPerWeek: perWeek}
}

// PutHold sets a contact's marketing hold.
func (db *Memory) PutHold(ws, contactID domain.ID, until time.Time) {
	db.mu.Lock()
	defer db.mu.Unlock()
	db.holds[key{ws, contactID}] = until
}

// PutIdempotency stores r as it is, bypassing every rule.
func (db *Memory) PutIdempotency(r messaging.IdempotencyRecord) {
	db.mu.Lock()
	defer db.mu.Unlock()
	db.state.idem[idemKey{r.WorkspaceID, r.Key}] = r
}

// IdempotencyRecords counts the committed records, expired or not.
func (db *Memory) IdempotencyRecords() int {
	db.mu.Lock()
	defer db.mu.Unlock()
	return len(db.state.idem)
}

// Message reads a committed message; ok is false when there is none.
func (db *Memory) Message(ws, id domain.ID) (m domain.Message, ok bool) {
	db.mu.Lock()
	defer db.mu.Unlock()
	m, ok = db.state.messages[key{ws, id}]
	return m, ok
}

// Messages returns every committed message, oldest first.
func (db *Memory) Messages() []domain.Message {
	db.mu.Lock()
	defer db.mu.Unlock()
	out := slices.Collect(maps.Values(db.state.messages))
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i].ID[:], out[j].ID[:]) < 0 })
	return out
}

// Jobs returns the committed send jobs: message id -> priority.
func (db *Memory) Jobs() map[domain.ID]int {
	db.mu.Lock()
	defer db.mu.Unlock()
	return maps.Clone(db.state.jobs)
}

// Events returns the committed events, oldest first.
func (db *Memory) Events() []domain.Occurrence {
	db.mu.Lock()
	defer db.mu.Unlock()
	return slices.Clone(db.state.events)
}

// Workspace reads a workspace; KindNotFound when there is none.
func (db *Memory) Workspace(_ context.Context, id domain.ID) (domain.Workspace, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	w, ok := db.workspaces[id]
	if !ok {
		return w, domain.NotFound("workspace")
	}
	return w, nil
}

// GetMessage reads a message of ws; KindNotFound when there is none.
func (db *Memory) GetMessage(_ context.Context, ws, id domain.ID) (domain.Message, error) {
	m, ok := db.Message(ws, id)
	if !ok {
		return m, domain.NotFound("message")
	}
	return m, nil
}

// ListByContact returns up to limit messages of a contact, newest first, with ids below
// before (all when it is the zero id).
func (db *Memory) ListByContact(_ context.Context, ws, contactID, before domain.ID, limit int) ([]domain.Message, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	var out []domain.Message
	for k, m := range db.state.messages {
		if k.ws == ws && m.ContactID == contactID && (before.IsZero() || bytes.Compare(m.ID[:], before[:]) < 0) {
			out = append(out, m)
		}
	}
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i].ID[:], out[j].ID[:]) > 0 })
	return out[:min(limit, len(out))], nil
}

// Template is a template of ws's WABA; KindNotFound when it is not in the catalogue.
func (db *Memory) Template(_ context.Context, ws domain.ID, wabaID, name, language string) (domain.Template, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	t, ok := db.templates[templateKey{ws, wabaID, name, language}]
	if !ok {
		return t, domain.NotFound("template")
	}
	return t, nil
}

// Find returns the unexpired record for key.
func (db *Memory) Find(_ context.Context, ws domain.ID, key string) (messaging.IdempotencyRecord, bool, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	r, ok := db.state.idem[idemKey{ws, key}]
	if !ok || !r.ExpiresAt.After(time.Now()) {
		return messaging.IdempotencyRecord{WorkspaceID: ws, Key: key}, false, nil
	}
	return r, true, nil
}

// DeleteExpired deletes up to limit records that expired by now (ExpiresAt not after it).
func (db *Memory) DeleteExpired(_ context.Context, now time.Time, limit int) (int, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	n := 0
	for k, r := range db.state.idem {
		if n < limit && !r.ExpiresAt.After(now) {
			delete(db.state.idem, k)
			n++
		}
	}
	return n, nil
}

// contactReads is messaging.Contacts over the contacts memory.
type contactReads struct {
	contacts.Store
	db *contactstest.Memory
}

func (c contactReads) Suppression(ctx context.Context, ws domain.ID, address string) (domain.Suppression, error) {
	return c.db.Suppression(ctx, ws, address)
}

type numberList struct{ db *Memory }

// List returns the numbers of ws, oldest first (by id).
func (l numberList) List(_ context.Context, ws domain.ID) ([]domain.PhoneNumber, error) {
	l.db.mu.Lock()
	defer l.db.mu.Unlock()
	var out []domain.PhoneNumber
	for k, n := range l.db.numbers {
		if k.ws == ws {
			out = append(out, n)
		}
	}
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i].ID[:], out[j].ID[:]) < 0 })
	return out, nil
}

// memoryTx is a transaction's side: it works on its copy of the state, which InTx holds
// the lock for.
type memoryTx struct {
	s  *sendState
	db *Memory // its mu is held by InTx
}

// LockMarketing returns the contact's marketing messages queued after since that did not
// fail, its hold and its workspace's caps (transactions run one at a time: no lock needed).
func (t *memoryTx) LockMarketing(_ context.Context, ws, contactID domain.ID, since time.Time) (domain.MarketingHistory, domain.MessagingSettings, error) {
	var h domain.MarketingHistory
	for k, m := range t.s.messages {
		if k.ws == ws && m.ContactID == contactID && m.Direction == domain.Outbound && m.Category == domain.CategoryMarketing &&
			m.Status != domain.StatusFailed && m.CreatedAt.After(since) {
			h.Sent = append(h.Sent, m.CreatedAt)
		}
	}
	h.HoldUntil = t.db.holds[key{ws, contactID}]
	caps, ok := t.db.caps[ws]
	if !ok {
		caps = domain.MessagingSettings{MarketingPerContactPerDay: domain.DefaultMarketingPerDay,
			MarketingPerContactPerWeek: domain.DefaultMarketingPerWeek}
	}
	return h, caps, nil
}

func (t *memoryTx) Append(_ context.Context, os ...domain.Occurrence) error {
	t.s.events = append(t.s.events, os...)
	return nil
}

// Queue keeps what the messages table keeps of a queued message: the message queries read
// back neither its purpose nor what a queued message has yet to get (a wamid, times).
func (t *memoryTx) Queue(_ context.Context, m domain.Message, ev domain.Occurrence) error {
	k := key{m.WorkspaceID, m.ID}
	if _, taken := t.s.messages[k]; taken {
		return fmt.Errorf("message %s: the id is taken", m.ID) // the primary key's refusal
	}
	content := slices.Clone(m.Content)
	if len(content) == 0 {
		content = []byte(`{}`)
	}
	t.s.messages[k] = domain.Message{ID: m.ID, WorkspaceID: m.WorkspaceID, ContactID: m.ContactID, PhoneNumberID: m.PhoneNumberID,
		Direction: domain.Outbound, Type: m.Type, Content: content, Status: m.Status, CreatedAt: m.CreatedAt, Category: m.Category}
	t.s.events = append(t.s.events, ev)
	return nil
}

func (t *memoryTx) EnqueueSendPriority(_ context.Context, _, messageID domain.ID, priority int) error {
	t.s.jobs[messageID] = priority
	return nil
}

// Save stores r; an unexpired record under its key is KindConflict, an expired one is
// replaced.
func (t *memoryTx) Save(_ context.Context, r messaging.IdempotencyRecord) error {
	k := idemKey{r.WorkspaceID, r.Key}
	if old, ok := t.s.idem[k]; ok && old.ExpiresAt.After(time.Now()) {
		return domain.Errorf(domain.KindConflict, "the Idempotency-Key is in use")
	}
	t.s.idem[k] = r
	return nil
}
