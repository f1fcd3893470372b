package inbound_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/wabaplatform/waba/application/inbound"
	"github.com/wabaplatform/waba/domain"
)

// memory is an in-memory implementation of every port of the package. Transactions are
// simulated by snapshotting the state and restoring it when fn fails.
type memory struct {
	mu        sync.Mutex
	numbers   []inbound.NumberInfo
	settings  map[domain.ID]inbound.Settings
	contacts  map[domain.ID]*domain.Contact
	messages  map[domain.ID]*domain.Message
	statuses  map[[2]string]inbound.StatusReport
	templates map[[3]string]inbound.TemplateChange
	numberCh  map[domain.ID][]inbound.NumberChange
	accounts  map[domain.ID]inbound.AccountEvent
	events    []domain.FeedEvent
	jobs      []domain.ID
	audit     []domain.AuditEntry
	failNext  error    // returned by the next InTx after fn ran (a failed commit)
	failText  string   // ReceiveInbound of a message holding this text always fails (a body that cannot be processed)
	txs       int      // transactions run
	lookups   int      // RouteByPhoneNumberID calls
	locked    []string // what FindOrCreate (phone or BSUID) and RecordStatus (wamid) locked, in order
}

func newMemory() *memory {
	return &memory{
		settings: map[domain.ID]inbound.Settings{}, contacts: map[domain.ID]*domain.Contact{},
		messages: map[domain.ID]*domain.Message{}, statuses: map[[2]string]inbound.StatusReport{},
		templates: map[[3]string]inbound.TemplateChange{}, numberCh: map[domain.ID][]inbound.NumberChange{},
		accounts: map[domain.ID]inbound.AccountEvent{},
	}
}

func (m *memory) InTx(ctx context.Context, fn func(ctx context.Context, r inbound.Repos) error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.txs++
	snap := m.clone()
	r := inbound.Repos{Directory: m, Contacts: m, Messages: m, Accounts: m, Feed: m, Outbox: m, Jobs: m, Audit: m}
	err := fn(ctx, r)
	if err == nil && m.failNext != nil {
		err, m.failNext = m.failNext, nil
	}
	if err != nil {
		m.numbers, m.settings, m.contacts, m.messages, m.statuses = snap.numbers, snap.settings, snap.contacts, snap.messages, snap.statuses
		m.templates, m.numberCh, m.accounts, m.events, m.jobs, m.audit = snap.templates, snap.numberCh, snap.accounts, snap.events, snap.jobs, snap.audit
	}
	return err
}

func (m *memory) clone() *memory {
	c := &memory{numbers: m.numbers, settings: m.settings, failNext: m.failNext,
		contacts: map[domain.ID]*domain.Contact{}, messages: map[domain.ID]*domain.Message{},
		statuses: map[[2]string]inbound.StatusReport{}, templates: map[[3]string]inbound.TemplateChange{},
		numberCh: map[domain.ID][]inbound.NumberChange{}, accounts: map[domain.ID]inbound.AccountEvent{},
		events: append([]domain.FeedEvent(nil), m.events...), jobs: append([]domain.ID(nil), m.jobs...),
		audit: append([]domain.AuditEntry(nil), m.audit...)}
	for k, v := range m.contacts {
		cp := *v
		c.contacts[k] = &cp
	}
	for k, v := range m.messages {
		cp := *v
		c.messages[k] = &cp
	}
	for k, v := range m.statuses {
		c.statuses[k] = v
	}
	for k, v := range m.templates {
		c.templates[k] = v
	}
	for k, v := range m.numberCh {
		c.numberCh[k] = append([]inbound.NumberChange(nil), v...)
	}
	for k, v := range m.accounts {
		c.accounts[k] = v
	}
	return c
}

// Directory.

func (m *memory) RouteByPhoneNumberID(_ context.Context, id string) (inbound.Route, bool, error) {
	m.lookups++
	for _, n := range m.numbers {
		if n.PhoneNumberID == id {
			return inbound.Route{Number: n.Number, Settings: m.settings[n.WorkspaceID]}, true, nil
		}
	}
	return inbound.Route{}, false, nil
}

func (m *memory) NumbersByWABA(_ context.Context, waba string) ([]inbound.NumberInfo, error) {
	var out []inbound.NumberInfo
	for _, n := range m.numbers {
		if n.WABAID == waba {
			out = append(out, n)
		}
	}
	return out, nil
}

// ContactStore.

func (m *memory) FindOrCreate(_ context.Context, ws domain.ID, id inbound.Identity, now time.Time) (domain.Contact, error) {
	m.locked = append(m.locked, id.Phone+id.BSUID)
	var found *domain.Contact
	for _, c := range m.contacts {
		if c.WorkspaceID == ws && id.Phone != "" && c.Phone == id.Phone {
			found = c
		}
	}
	if found == nil {
		for _, c := range m.contacts {
			if c.WorkspaceID == ws && id.BSUID != "" && c.BSUID == id.BSUID {
				found = c
			}
		}
	}
	if found == nil {
		c := &domain.Contact{ID: domain.NewID(), WorkspaceID: ws, Phone: id.Phone, WaID: id.WaID, BSUID: id.BSUID,
			Name: id.Name, CreatedAt: now, UpdatedAt: now}
		m.contacts[c.ID] = c
		return *c, nil
	}
	if found.Phone == "" && id.Phone != "" {
		found.Phone, found.WaID = id.Phone, id.WaID
	}
	if found.BSUID == "" {
		found.BSUID = id.BSUID
	}
	if found.Name == "" {
		found.Name = id.Name
	}
	return *found, nil
}

func (m *memory) SetOptOut(_ context.Context, _, id domain.ID, out bool, at time.Time) error {
	c := m.contacts[id]
	c.OptedOut = out
	if out {
		t := at
		c.OptedOutAt, c.OptOutSource = &t, domain.OptOutKeyword
	} else {
		c.OptedOutAt, c.OptOutSource = nil, ""
	}
	return nil
}

func (m *memory) SetMarketingOptOut(_ context.Context, _, id domain.ID, v bool) (bool, error) {
	c := m.contacts[id]
	changed := c.MarketingOptedOut != v
	c.MarketingOptedOut = v
	return changed, nil
}

// MessageStore.

func (m *memory) WAMIDExists(_ context.Context, wamid string) (bool, error) {
	for _, msg := range m.messages {
		if msg.WAMID == wamid {
			return true, nil
		}
	}
	return false, nil
}

func (m *memory) ReceiveInbound(ctx context.Context, msg domain.Message, touch bool, ev domain.FeedEvent) (bool, error) {
	if m.failText != "" && strings.Contains(string(msg.Content), m.failText) {
		return false, errors.New("cannot store " + msg.WAMID)
	}
	if ok, _ := m.WAMIDExists(ctx, msg.WAMID); ok {
		return false, nil
	}
	m.messages[msg.ID] = &msg
	if c := m.contacts[msg.ContactID]; touch && (c.LastInboundAt == nil || msg.CreatedAt.After(*c.LastInboundAt)) {
		t, exp := msg.CreatedAt, msg.CreatedAt.Add(domain.ServiceWindow)
		c.LastInboundAt, c.ServiceWindowExpiresAt = &t, &exp
	}
	return true, m.Append(ctx, ev)
}

func (m *memory) RecordStatus(_ context.Context, r inbound.StatusReport) (bool, domain.Message, bool, error) {
	m.locked = append(m.locked, r.WAMID)
	k := [2]string{r.WAMID, r.Status}
	_, seen := m.statuses[k]
	if !seen {
		m.statuses[k] = r
	}
	for _, msg := range m.messages {
		if msg.WorkspaceID == r.WorkspaceID && msg.WAMID == r.WAMID && msg.Direction == domain.Outbound {
			return !seen, *msg, true, nil
		}
	}
	return !seen, domain.Message{}, false, nil
}

func (m *memory) LinkOutbound(_ context.Context, ws, id domain.ID, wamid string) (domain.Message, bool, error) {
	msg, ok := m.messages[id]
	if !ok || msg.WorkspaceID != ws || msg.Direction != domain.Outbound || msg.WAMID != "" {
		return domain.Message{}, false, nil
	}
	msg.WAMID = wamid
	return *msg, true, nil
}

func (m *memory) UpdateDelivery(ctx context.Context, msg domain.Message, ev domain.FeedEvent) error {
	if _, ok := m.messages[msg.ID]; !ok {
		return errors.New("no such message")
	}
	m.messages[msg.ID] = &msg
	return m.Append(ctx, ev)
}

// AccountStore.

func (m *memory) UpsertTemplate(_ context.Context, t inbound.TemplateChange) error {
	k := [3]string{t.WABAID, t.Name, t.Language}
	old := m.templates[k]
	if t.Status == "" {
		t.Status = old.Status
	}
	if t.Category == "" {
		t.Category = old.Category
	}
	if t.QualityScore == "" {
		t.QualityScore = old.QualityScore
	}
	m.templates[k] = t
	return nil
}

func (m *memory) UpdateNumber(_ context.Context, _, id domain.ID, ch inbound.NumberChange) error {
	m.numberCh[id] = append(m.numberCh[id], ch)
	return nil
}

func (m *memory) RecordAccountEvent(_ context.Context, e inbound.AccountEvent) error {
	m.accounts[e.ID] = e
	return nil
}

// EventFeed, Outbox, Jobs, AuditWriter.

func (m *memory) Append(_ context.Context, e domain.FeedEvent) error {
	m.events = append(m.events, e)
	return nil
}

func (m *memory) CreateOutbound(_ context.Context, msg domain.Message) error {
	m.messages[msg.ID] = &msg
	return nil
}

func (m *memory) EnqueueSend(_ context.Context, _, id domain.ID) error {
	m.jobs = append(m.jobs, id)
	return nil
}

func (m *memory) Record(_ context.Context, e domain.AuditEntry) error {
	m.audit = append(m.audit, e)
	return nil
}

// counters is an inbound.Metrics that counts.
type counters struct {
	mu       sync.Mutex
	unrouted map[string]int
	unknown  int
	out, in  int
	errs     []int
}

func (c *counters) Unrouted(k string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.unrouted == nil {
		c.unrouted = map[string]int{}
	}
	c.unrouted[k]++
}
func (c *counters) UnknownStatus() { c.mu.Lock(); c.unknown++; c.mu.Unlock() }
func (c *counters) OptedOut()      { c.mu.Lock(); c.out++; c.mu.Unlock() }
func (c *counters) OptedIn()       { c.mu.Lock(); c.in++; c.mu.Unlock() }
func (c *counters) NotificationError(code int) {
	c.mu.Lock()
	c.errs = append(c.errs, code)
	c.mu.Unlock()
}
