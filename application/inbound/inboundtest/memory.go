// Package inboundtest holds what tests of the inbound ports share: an in-memory
// implementation of every port of application/inbound, and the contract the repository
// ports (the Postgres adapter's too) are held to. Only tests import it.
package inboundtest

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/wabaplatform/waba/application/events/eventstest"
	"github.com/wabaplatform/waba/application/inbound"
	"github.com/wabaplatform/waba/domain"
)

// Scope is a suppression list scope: ScopeAll stops every message, ScopeMarketing only
// marketing templates.
type Scope string

// The suppression scopes.
const (
	ScopeAll       Scope = "all"
	ScopeMarketing Scope = "marketing"
)

// SuppressionKey is an address (phone or BSUID) of a workspace under a scope.
type SuppressionKey struct {
	WorkspaceID domain.ID
	Address     string
	Scope       Scope
}

// Suppression is what the suppression list keeps for a key.
type Suppression struct {
	Source domain.OptOutSource
	At     time.Time
}

// TemplateKey is how templates are known: the WABA, the name and the language.
type TemplateKey struct{ WABAID, Name, Language string }

// Template is a stored template.
type Template struct {
	WorkspaceID    domain.ID
	MetaTemplateID string
	Category       string
	Status         string
	QualityScore   string
	Reason         string
	UpdatedAt      time.Time
}

// Memory is an in-memory implementation of every port of application/inbound.
// Transactions are simulated by snapshotting the state and restoring it when fn fails.
// Its fields are the state, for tests to set up and inspect.
type Memory struct {
	mu            sync.Mutex
	Numbers       []inbound.NumberInfo
	Settings      map[domain.ID]inbound.Settings
	Contacts      map[domain.ID]*domain.Contact
	Messages      map[domain.ID]*domain.Message
	Statuses      map[[2]string]domain.StatusReport
	Templates     map[TemplateKey]Template
	NumberStates  map[domain.ID]inbound.NumberChange   // what UpdateNumber set, merged
	NumberChanges map[domain.ID][]inbound.NumberChange // the UpdateNumber calls, in order
	Accounts      map[domain.ID]inbound.AccountEvent
	Suppressed    map[SuppressionKey]Suppression
	Events        []domain.Occurrence
	Jobs          []domain.ID
	Audit         []domain.AuditEntry
	FailNext      error                   // returned by the next InTx after fn ran (a failed commit)
	FailText      string                  // ReceiveInbound of a message holding this text always fails (a body that cannot be processed)
	Txs           int                     // transactions run
	Lookups       int                     // RouteByPhoneNumberID calls
	Locked        []string                // what FindOrCreate (phone or BSUID) and RecordStatus (wamid) locked, in order
	Holds         map[domain.ID]time.Time // contact -> what HoldMarketing set
	Arrivals      [][]domain.Arrival      // what each call of Conversations.Received was told
	CampaignCalls [][]domain.Message      // what each call of Campaigns.Progressed was told of statuses
	ReplyCalls    [][]domain.Arrival      // ... and of inbound messages
}

// NewMemory returns an empty store.
func NewMemory() *Memory {
	return &Memory{
		Settings: map[domain.ID]inbound.Settings{}, Contacts: map[domain.ID]*domain.Contact{},
		Messages: map[domain.ID]*domain.Message{}, Statuses: map[[2]string]domain.StatusReport{},
		Templates: map[TemplateKey]Template{}, NumberStates: map[domain.ID]inbound.NumberChange{},
		NumberChanges: map[domain.ID][]inbound.NumberChange{}, Accounts: map[domain.ID]inbound.AccountEvent{},
		Suppressed: map[SuppressionKey]Suppression{},
	}
}

// Repos is every port over m, outside any transaction.
func (m *Memory) Repos() inbound.Repos {
	return inbound.Repos{Directory: m, Contacts: m, Messages: m, Accounts: m, Templates: m, Events: m, Outbox: m, Jobs: m,
		Conversations: m, Campaigns: m}
}

// InTx runs fn; the state it changed is restored when fn (or the commit, see FailNext) fails.
func (m *Memory) InTx(ctx context.Context, fn func(ctx context.Context, r inbound.Repos) error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.Txs++
	snap := m.clone()
	err := fn(ctx, m.Repos())
	if err == nil && m.FailNext != nil {
		err, m.FailNext = m.FailNext, nil
	}
	if err != nil {
		m.Numbers, m.Settings, m.Contacts, m.Messages, m.Statuses = snap.Numbers, snap.Settings, snap.Contacts, snap.Messages, snap.Statuses
		m.Templates, m.NumberStates, m.NumberChanges, m.Accounts = snap.Templates, snap.NumberStates, snap.NumberChanges, snap.Accounts
		m.Suppressed, m.Events, m.Jobs, m.Audit = snap.Suppressed, snap.Events, snap.Jobs, snap.Audit
		m.Arrivals, m.CampaignCalls = snap.Arrivals, snap.CampaignCalls
	}
	return err
}

func (m *Memory) clone() *Memory {
	c := NewMemory()
	c.Numbers, c.Settings, c.FailNext = m.Numbers, m.Settings, m.FailNext
	c.Events = append([]domain.Occurrence(nil), m.Events...)
	c.Jobs = append([]domain.ID(nil), m.Jobs...)
	c.Audit = append([]domain.AuditEntry(nil), m.Audit...)
	c.Arrivals = append([][]domain.Arrival(nil), m.Arrivals...)
	c.CampaignCalls = append([][]domain.Message(nil), m.CampaignCalls...)
	for k, v := range m.Contacts {
		cp := *v
		c.Contacts[k] = &cp
	}
	for k, v := range m.Messages {
		cp := *v
		c.Messages[k] = &cp
	}
	for k, v := range m.Statuses {
		c.Statuses[k] = v
	}
	for k, v := range m.Templates {
		c.Templates[k] = v
	}
	for k, v := range m.NumberStates {
		c.NumberStates[k] = v
	}
	for k, v := range m.NumberChanges {
		c.NumberChanges[k] = append([]inbound.NumberChange(nil), v...)
	}
	for k, v := range m.Accounts {
		c.Accounts[k] = v
	}
	for k, v := range m.Suppressed {
		c.Suppressed[k] = v
	}
	return c
}

// Directory.

// RouteByPhoneNumberID implements inbound.Directory.
func (m *Memory) RouteByPhoneNumberID(_ context.Context, id string) (inbound.Route, bool, error) {
	m.Lookups++
	for _, n := range m.Numbers {
		if n.PhoneNumberID == id {
			s := m.Settings[n.WorkspaceID]
			if s.OptOutKeywords == nil {
				s.OptOutKeywords = []string{}
			}
			if s.OptInKeywords == nil {
				s.OptInKeywords = []string{}
			}
			return inbound.Route{Number: n.Number, Settings: s}, true, nil
		}
	}
	return inbound.Route{}, false, nil
}

// NumbersByWABA implements inbound.Directory (Numbers is in the order numbers were made).
func (m *Memory) NumbersByWABA(_ context.Context, waba string) ([]inbound.NumberInfo, error) {
	out := []inbound.NumberInfo{}
	for _, n := range m.Numbers {
		if n.WABAID == waba {
			out = append(out, n)
		}
	}
	return out, nil
}

// ContactStore.

func (m *Memory) contactBy(ws domain.ID, phone, bsuid string) *domain.Contact {
	for _, c := range m.Contacts {
		if c.WorkspaceID == ws && (phone != "" && c.Phone == phone || bsuid != "" && c.BSUID == bsuid) {
			return c
		}
	}
	return nil
}

// FindOrCreate implements inbound.ContactStore as the Postgres adapter does: by phone, then
// by BSUID (unless the BSUID's contact has another phone: then a new contact is made
// without the BSUID); a missing phone, BSUID or name is filled in, never taken from
// another contact, and a contact gaining an address is joined with the suppression list.
func (m *Memory) FindOrCreate(_ context.Context, ws domain.ID, id inbound.Identity, now time.Time) (domain.Contact, bool, error) {
	m.Locked = append(m.Locked, id.Phone+id.BSUID)
	found := m.contactBy(ws, id.Phone, "")
	bsuid := id.BSUID
	if found == nil {
		found = m.contactBy(ws, "", bsuid)
		if found != nil && found.Phone != "" && id.Phone != "" {
			found, bsuid = nil, ""
		}
	}
	if found == nil {
		c := &domain.Contact{ID: domain.NewID(), WorkspaceID: ws, Phone: id.Phone, WaID: id.WaID, BSUID: bsuid,
			Name: id.Name, Tags: []string{}, Attributes: map[string]any{}, CreatedAt: now, UpdatedAt: now}
		m.applySuppressions(c)
		m.Contacts[c.ID] = c
		return *c, true, nil
	}
	gained := false
	if found.Phone == "" && id.Phone != "" && m.contactBy(ws, id.Phone, "") == nil {
		found.Phone, found.WaID, gained = id.Phone, id.WaID, true
	}
	if found.BSUID == "" && id.BSUID != "" && m.contactBy(ws, "", id.BSUID) == nil {
		found.BSUID, gained = id.BSUID, true
	}
	if found.Name == "" {
		found.Name = id.Name
	}
	if gained {
		m.applySuppressions(found)
		m.keepSuppressions(found)
	}
	return *found, false, nil
}

// applySuppressions gives c what the suppression list keeps for its addresses (an opt-out
// c has is kept).
func (m *Memory) applySuppressions(c *domain.Contact) {
	var at *time.Time
	var source domain.OptOutSource
	for _, a := range []string{c.Phone, c.BSUID} {
		if a == "" {
			continue
		}
		if s, ok := m.Suppressed[SuppressionKey{c.WorkspaceID, a, ScopeAll}]; ok {
			if at == nil || s.At.Before(*at) {
				t := s.At
				at = &t
			}
			if source == "" || source == domain.OptOutAPI || s.Source != domain.OptOutAPI && s.Source > source {
				source = s.Source
			}
		}
		if _, ok := m.Suppressed[SuppressionKey{c.WorkspaceID, a, ScopeMarketing}]; ok {
			c.MarketingOptedOut = true
		}
	}
	if !c.OptedOut && at != nil {
		c.OptedOut, c.OptedOutAt, c.OptOutSource = true, at, source
	}
}

// keepSuppressions keeps c's opt-outs under each of its addresses (what is kept stays).
func (m *Memory) keepSuppressions(c *domain.Contact) {
	for _, a := range []string{c.Phone, c.BSUID} {
		if a == "" {
			continue
		}
		if k := (SuppressionKey{c.WorkspaceID, a, ScopeAll}); c.OptedOut && c.OptedOutAt != nil {
			if _, ok := m.Suppressed[k]; !ok {
				m.Suppressed[k] = Suppression{Source: c.OptOutSource, At: *c.OptedOutAt}
			}
		}
		if k := (SuppressionKey{c.WorkspaceID, a, ScopeMarketing}); c.MarketingOptedOut {
			if _, ok := m.Suppressed[k]; !ok {
				m.Suppressed[k] = Suppression{Source: "meta", At: c.UpdatedAt}
			}
		}
	}
}

// SetOptOut implements inbound.ContactStore: the opt-out is kept in the suppression list
// under the contact's phone and BSUID; an opt-in removes it from both.
func (m *Memory) SetOptOut(_ context.Context, ws, id domain.ID, out bool, at time.Time) error {
	c, ok := m.Contacts[id]
	if !ok || c.WorkspaceID != ws {
		return domain.NotFound("contact")
	}
	c.OptedOut, c.OptedOutAt, c.OptOutSource = out, nil, ""
	if out {
		t := at
		c.OptedOutAt, c.OptOutSource = &t, domain.OptOutKeyword
	}
	for _, a := range []string{c.Phone, c.BSUID} {
		if a == "" {
			continue
		}
		k := SuppressionKey{ws, a, ScopeAll}
		if out {
			m.Suppressed[k] = Suppression{Source: domain.OptOutKeyword, At: at}
		} else {
			delete(m.Suppressed, k)
		}
	}
	return nil
}

// SetMarketingOptOut implements inbound.ContactStore, keeping the suppression list as
// SetOptOut does (only when the value changed).
func (m *Memory) SetMarketingOptOut(_ context.Context, ws, id domain.ID, v bool) (bool, error) {
	c, ok := m.Contacts[id]
	if !ok || c.WorkspaceID != ws || c.MarketingOptedOut == v {
		return false, nil
	}
	c.MarketingOptedOut = v
	for _, a := range []string{c.Phone, c.BSUID} {
		if a == "" {
			continue
		}
		k := SuppressionKey{ws, a, ScopeMarketing}
		if _, kept := m.Suppressed[k]; v && !kept {
			m.Suppressed[k] = Suppression{Source: "meta", At: time.Now()}
		} else if !v {
			delete(m.Suppressed, k)
		}
	}
	return true, nil
}

// MessageStore.

// WAMIDExists implements inbound.MessageStore.
func (m *Memory) WAMIDExists(_ context.Context, wamid string) (bool, error) {
	for _, msg := range m.Messages {
		if msg.WAMID == wamid {
			return true, nil
		}
	}
	return false, nil
}

// ReceiveInbound implements inbound.MessageStore.
func (m *Memory) ReceiveInbound(ctx context.Context, msg domain.Message, touch bool, ev domain.Occurrence) (bool, error) {
	if m.FailText != "" && strings.Contains(string(msg.Content), m.FailText) {
		return false, errors.New("cannot store " + msg.WAMID)
	}
	if ok, _ := m.WAMIDExists(ctx, msg.WAMID); ok {
		return false, nil
	}
	msg.Direction, msg.Status = domain.Inbound, domain.StatusReceived
	m.Messages[msg.ID] = &msg
	if c := m.Contacts[msg.ContactID]; touch && c != nil && c.WorkspaceID == msg.WorkspaceID {
		if t := msg.CreatedAt; c.LastInboundAt == nil || t.After(*c.LastInboundAt) {
			c.LastInboundAt = &t
		}
		if exp := msg.CreatedAt.Add(domain.ServiceWindow); c.ServiceWindowExpiresAt == nil || exp.After(*c.ServiceWindowExpiresAt) {
			c.ServiceWindowExpiresAt = &exp
		}
	}
	return true, m.Append(ctx, ev)
}

// RecordStatus implements inbound.MessageStore.
func (m *Memory) RecordStatus(_ context.Context, ws domain.ID, r domain.StatusReport) (bool, domain.Message, bool, error) {
	m.Locked = append(m.Locked, r.WAMID)
	k := [2]string{r.WAMID, r.Status}
	_, seen := m.Statuses[k]
	if !seen {
		m.Statuses[k] = r
	}
	for _, msg := range m.Messages {
		if !ws.IsZero() && msg.WorkspaceID == ws && msg.WAMID == r.WAMID && msg.Direction == domain.Outbound {
			return !seen, *msg, true, nil
		}
	}
	return !seen, domain.Message{}, false, nil
}

// LinkOutbound implements inbound.MessageStore.
func (m *Memory) LinkOutbound(ctx context.Context, ws, id domain.ID, wamid string) (domain.Message, bool, error) {
	msg, ok := m.Messages[id]
	if !ok || msg.WorkspaceID != ws || msg.Direction != domain.Outbound || msg.WAMID != "" {
		return domain.Message{}, false, nil
	}
	if taken, _ := m.WAMIDExists(ctx, wamid); taken {
		return domain.Message{}, false, nil
	}
	msg.WAMID = wamid
	return *msg, true, nil
}

// UpdateDelivery implements inbound.MessageStore: it writes the status, the timestamps,
// the error and the pricing of the stored message (none when there is no such message)
// and appends ev.
func (m *Memory) UpdateDelivery(ctx context.Context, msg domain.Message, ev domain.Occurrence) error {
	if s, ok := m.Messages[msg.ID]; ok && s.WorkspaceID == msg.WorkspaceID {
		s.Status, s.SentAt, s.DeliveredAt, s.ReadAt, s.FailedAt = msg.Status, msg.SentAt, msg.DeliveredAt, msg.ReadAt, msg.FailedAt
		s.Error, s.Pricing = msg.Error, msg.Pricing
	}
	return m.Append(ctx, ev)
}

// HoldMarketing implements inbound.MessageStore: a later hold stays.
func (m *Memory) HoldMarketing(_ context.Context, ws, contactID domain.ID, until time.Time) error {
	if m.Holds == nil {
		m.Holds = map[domain.ID]time.Time{}
	}
	if until.After(m.Holds[contactID]) {
		m.Holds[contactID] = until
	}
	return nil
}

// AccountStore.

// Report implements inbound.Templates, standing in for the templates capability: what
// the report says wins field by field (empty fields keep what is known); a template first
// reported keeps its workspace.
func (m *Memory) Report(_ context.Context, ws domain.ID, wabaID, name, language string, u domain.TemplateReport) error {
	k := TemplateKey{wabaID, name, language}
	old, ok := m.Templates[k]
	if !ok {
		old = Template{WorkspaceID: ws, UpdatedAt: u.At}
	}
	t := struct {
		MetaTemplateID, Category, Status, QualityScore string
		Reason                                         *string
		At                                             time.Time
	}{u.MetaTemplateID, u.Category, u.Status, u.Quality, u.RejectedReason, u.At}
	win := func(old *string, v string) {
		if v != "" {
			*old = v
		}
	}
	win(&old.MetaTemplateID, t.MetaTemplateID)
	win(&old.Category, t.Category)
	win(&old.Status, t.Status)
	win(&old.QualityScore, t.QualityScore)
	if t.Reason != nil {
		old.Reason = *t.Reason
	}
	if t.At.After(old.UpdatedAt) {
		old.UpdatedAt = t.At
	}
	m.Templates[k] = old
	return nil
}

// UpdateNumber implements inbound.AccountStore: non-empty fields win; the failure reason
// is set with the status.
func (m *Memory) UpdateNumber(_ context.Context, ws, id domain.ID, ch inbound.NumberChange) error {
	known := false
	for _, n := range m.Numbers {
		known = known || n.WorkspaceID == ws && n.ID == id
	}
	if !known {
		return nil
	}
	m.NumberChanges[id] = append(m.NumberChanges[id], ch)
	s := m.NumberStates[id]
	win := func(old *string, v string) {
		if v != "" {
			*old = v
		}
	}
	win(&s.MessagingLimitTier, ch.MessagingLimitTier)
	win(&s.QualityRating, ch.QualityRating)
	win(&s.VerifiedName, ch.VerifiedName)
	win(&s.NameStatus, ch.NameStatus)
	if ch.Status != "" {
		s.Status, s.FailureReason = ch.Status, ch.FailureReason
	}
	m.NumberStates[id] = s
	return nil
}

// RecordAccountEvent implements inbound.AccountStore: an event is kept once per id.
func (m *Memory) RecordAccountEvent(_ context.Context, e inbound.AccountEvent) error {
	if _, ok := m.Accounts[e.ID]; !ok {
		m.Accounts[e.ID] = e
	}
	return nil
}

// Events, Outbox, Jobs.

// Append implements events.Log: the occurrences, and the audit entries they make.
func (m *Memory) Append(_ context.Context, os ...domain.Occurrence) error {
	m.Events = append(m.Events, os...)
	m.Audit = append(m.Audit, eventstest.Audit(os)...)
	return nil
}

// CreateOutbound implements inbound.Outbox.
func (m *Memory) CreateOutbound(_ context.Context, msg domain.Message) error {
	m.Messages[msg.ID] = &msg
	return nil
}

// EnqueueSend implements inbound.Jobs.
func (m *Memory) EnqueueSend(_ context.Context, _, id domain.ID) error {
	m.Jobs = append(m.Jobs, id)
	return nil
}

// Received implements inbound.Conversations: it records the call (the slice is the
// caller's, reused after the call: it is copied).
func (m *Memory) Received(_ context.Context, arrivals []domain.Arrival, _ time.Time) error {
	m.Arrivals = append(m.Arrivals, slices.Clone(arrivals))
	return nil
}

// Progressed implements inbound.Campaigns: it records the call.
func (m *Memory) Progressed(_ context.Context, ms []domain.Message, arrivals []domain.Arrival) error {
	m.CampaignCalls = append(m.CampaignCalls, slices.Clone(ms))
	m.ReplyCalls = append(m.ReplyCalls, slices.Clone(arrivals))
	return nil
}
