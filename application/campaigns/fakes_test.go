package campaigns_test

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/wabaplatform/waba/application/campaigns"
	"github.com/wabaplatform/waba/application/contacts"
	"github.com/wabaplatform/waba/domain"
)

// memory is an in-memory store of every port the campaign use cases write through, with
// transactions that keep nothing of a function that fails. Stats are counted from the
// recipients (the Postgres adapter keeps counters; its tests compare them to a count).
type memory struct {
	mu         sync.Mutex
	wallet     *prepaid // nil: no billing
	campaigns  map[domain.ID]domain.Campaign
	recipients map[domain.ID]map[domain.ID]domain.Recipient // campaign -> contact -> recipient
	contacts   map[domain.ID]domain.Contact
	history    map[domain.ID][]time.Time // contact -> marketing templates queued
	caps       domain.MessagingSettings
	messages   []domain.Message
	events     []domain.Occurrence
	sendJobs   []campaignJob     // EnqueueCampaignSend calls that inserted a job
	msgJobs    map[domain.ID]int // message -> priority of its send job
	locked     []domain.ID       // contacts Next locked (marketing batches)
	// failQueue, when set, fails QueueAll (a crash in the middle of a batch).
	failQueue error
	optedOut  map[[2]domain.ID]bool // campaign, contact: marked by OptedOut
	optOuts   map[domain.ID]int     // campaign -> opt-outs counted
	reached   int                   // Reached calls
	txs       int
	slots     int // ReserveImport's free slots (taken ones are given back)
	// What recipients keep besides domain.Recipient, by campaign and contact: when their
	// first message was queued, and when Meta delivered one.
	firstAttempt map[[2]domain.ID]time.Time
	deliveredAt  map[[2]domain.ID]time.Time
	retryDays    int // every workspace's campaign_retry_days
}

type campaignJob struct{ ws, id domain.ID }

func newMemory() *memory {
	return &memory{campaigns: map[domain.ID]domain.Campaign{}, recipients: map[domain.ID]map[domain.ID]domain.Recipient{},
		contacts: map[domain.ID]domain.Contact{}, history: map[domain.ID][]time.Time{}, msgJobs: map[domain.ID]int{},
		optedOut: map[[2]domain.ID]bool{}, optOuts: map[domain.ID]int{},
		caps: domain.MessagingSettings{MarketingPerContactPerDay: 1, MarketingPerContactPerWeek: 2}, slots: 2,
		firstAttempt: map[[2]domain.ID]time.Time{}, deliveredAt: map[[2]domain.ID]time.Time{},
		retryDays: domain.DefaultCampaignRetryDays}
}

// clone copies what a transaction may change.
func (m *memory) clone() *memory {
	c := &memory{}
	c.campaigns, c.contacts = maps.Clone(m.campaigns), maps.Clone(m.contacts)
	c.recipients = map[domain.ID]map[domain.ID]domain.Recipient{}
	for k, v := range m.recipients {
		c.recipients[k] = maps.Clone(v)
	}
	c.messages, c.events, c.sendJobs = slices.Clone(m.messages), slices.Clone(m.events), slices.Clone(m.sendJobs)
	c.msgJobs = maps.Clone(m.msgJobs)
	c.firstAttempt, c.deliveredAt = maps.Clone(m.firstAttempt), maps.Clone(m.deliveredAt)
	return c
}

// InTx implements campaigns.TxRunner.
func (m *memory) InTx(ctx context.Context, fn func(ctx context.Context, r campaigns.Repos) error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.txs++
	snap := m.clone()
	r := campaigns.Repos{Campaigns: m, Contacts: m, Batches: m, Progress: m, Outbox: m, Jobs: m, Events: m, Reach: m}
	if m.wallet != nil {
		r.Wallet, r.Costs = m.wallet, m.wallet
	}
	err := fn(ctx, r)
	if err != nil {
		m.campaigns, m.contacts, m.recipients, m.messages, m.events, m.sendJobs, m.msgJobs =
			snap.campaigns, snap.contacts, snap.recipients, snap.messages, snap.events, snap.sendJobs, snap.msgJobs
		m.firstAttempt, m.deliveredAt = snap.firstAttempt, snap.deliveredAt
	}
	return err
}

// reading runs a read outside transactions under the lock.
func (m *memory) reading() func() { m.mu.Lock(); return m.mu.Unlock }

func (m *memory) withStats(c domain.Campaign) domain.Campaign {
	by := map[domain.RecipientStatus]int{}
	for _, r := range m.recipients[c.ID] {
		by[r.Status]++
	}
	c.Stats = domain.StatsOf(by)
	return c
}

func (m *memory) get(ws, id domain.ID) (domain.Campaign, error) {
	c, ok := m.campaigns[id]
	if !ok || c.WorkspaceID != ws {
		return domain.Campaign{}, domain.NotFound("campaign")
	}
	return m.withStats(c), nil
}

// Store.

func (m *memory) Get(_ context.Context, ws, id domain.ID) (domain.Campaign, error) {
	defer m.reading()()
	return m.get(ws, id)
}

func (m *memory) List(_ context.Context, ws domain.ID, f campaigns.Filter, n int) ([]domain.Campaign, error) {
	defer m.reading()()
	var out []domain.Campaign
	for _, c := range m.campaigns {
		if c.WorkspaceID == ws && (f.Status == "" || c.Status == f.Status) && (f.Cursor.IsZero() || c.ID.String() < f.Cursor.String()) {
			out = append(out, m.withStats(c))
		}
	}
	slices.SortFunc(out, func(a, b domain.Campaign) int { return -compareIDs(a.ID, b.ID) })
	return out[:min(n, len(out))], nil
}

func compareIDs(a, b domain.ID) int {
	switch {
	case a.String() < b.String():
		return -1
	case a.String() > b.String():
		return 1
	}
	return 0
}

func (m *memory) Recipients(_ context.Context, ws, id domain.ID, f campaigns.RecipientFilter, n int) ([]domain.Recipient, error) {
	defer m.reading()()
	var out []domain.Recipient
	for _, r := range m.recipients[id] {
		if r.WorkspaceID == ws && (f.Status == "" || r.Status == f.Status) && (f.Cursor.IsZero() || compareIDs(r.ContactID, f.Cursor) < 0) {
			r.Phone = m.contacts[r.ContactID].Phone
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b domain.Recipient) int { return -compareIDs(a.ContactID, b.ContactID) })
	return out[:min(n, len(out))], nil
}

func (m *memory) Due(_ context.Context, now time.Time, n int) ([]campaigns.Ref, error) {
	defer m.reading()()
	var out []campaigns.Ref
	for _, c := range m.campaigns {
		if c.Status == domain.CampaignScheduled && c.ScheduledAt != nil && !c.ScheduledAt.After(now) {
			out = append(out, campaigns.Ref{WorkspaceID: c.WorkspaceID, ID: c.ID})
		}
	}
	return out[:min(n, len(out))], nil
}

func (m *memory) Running(_ context.Context, n int) ([]campaigns.Ref, error) {
	defer m.reading()()
	var out []campaigns.Ref
	for _, c := range m.campaigns {
		if c.Status == domain.CampaignRunning {
			out = append(out, campaigns.Ref{WorkspaceID: c.WorkspaceID, ID: c.ID})
		}
	}
	return out[:min(n, len(out))], nil
}

func (m *memory) Sending(_ context.Context, ws domain.ID, name, language string) ([]campaigns.Ref, error) {
	defer m.reading()()
	var out []campaigns.Ref
	for _, c := range m.campaigns {
		if c.WorkspaceID == ws && (c.Status == domain.CampaignScheduled || c.Status == domain.CampaignRunning) &&
			c.Template.Name == name && c.Template.Language == language {
			out = append(out, campaigns.Ref{WorkspaceID: c.WorkspaceID, ID: c.ID})
		}
	}
	return out, nil
}

func (m *memory) OptedOut(_ context.Context, ws, contact domain.ID, _ time.Time) ([]campaigns.OptOuts, error) {
	defer m.reading()()
	var out []campaigns.OptOuts
	for id, c := range m.campaigns {
		r, ok := m.recipients[id][contact]
		reached := r.Status == domain.RecipientSent || r.Status == domain.RecipientDelivered || r.Status == domain.RecipientRead ||
			r.Status == domain.RecipientReplied
		if c.WorkspaceID != ws || c.Status != domain.CampaignRunning || !ok || !reached || m.optedOut[[2]domain.ID{id, contact}] {
			continue
		}
		m.optedOut[[2]domain.ID{id, contact}] = true
		m.optOuts[id]++
		out = append(out, campaigns.OptOuts{Ref: campaigns.Ref{WorkspaceID: ws, ID: id}, OptOuts: m.optOuts[id]})
	}
	return out, nil
}

// Writer (inside InTx: the lock is held).

func (m *memory) Insert(_ context.Context, c domain.Campaign) error {
	m.campaigns[c.ID] = c
	return nil
}

func (m *memory) Lock(_ context.Context, ws, id domain.ID) (domain.Campaign, error) {
	return m.get(ws, id)
}

func (m *memory) Update(_ context.Context, c domain.Campaign) error {
	if _, ok := m.campaigns[c.ID]; !ok {
		return domain.NotFound("campaign")
	}
	c.Stats = domain.CampaignStats{}
	m.campaigns[c.ID] = c
	return nil
}

func (m *memory) Snapshot(_ context.Context, c domain.Campaign, at time.Time) (int, error) {
	rs := m.recipients[c.ID]
	if rs == nil {
		rs = map[domain.ID]domain.Recipient{}
		m.recipients[c.ID] = rs
	}
	n := 0
	for _, ct := range m.contacts {
		if ct.WorkspaceID != c.WorkspaceID || !names(c.Audience, ct) {
			continue
		}
		if _, ok := rs[ct.ID]; ok {
			continue
		}
		rs[ct.ID] = domain.Recipient{WorkspaceID: c.WorkspaceID, CampaignID: c.ID, ContactID: ct.ID, Status: domain.RecipientPending, UpdatedAt: at}
		n++
	}
	return n, nil
}

// names reports whether the audience names the contact.
func names(a domain.Audience, ct domain.Contact) bool {
	if a.All || slices.Contains(a.ContactIDs, ct.ID) {
		return true
	}
	for _, t := range a.Tags {
		if slices.Contains(ct.Tags, t) {
			return true
		}
	}
	return false
}

// Importer and ImportSlots.

// ImportRecipients reads every row, then locks, then writes: a phone's last row wins, a
// new phone creates a contact, a known one gets the row's name and attributes.
func (m *memory) ImportRecipients(ctx context.Context, ws, id domain.ID, rows contacts.ImportRows, now time.Time,
	lock func(context.Context) error) (n contacts.ImportCounts, added int, err error) {
	last := map[string]contacts.ImportRow{}
	var phones []string
	copied := 0
	for rows.Next() {
		r := rows.Row()
		if _, ok := last[r.Phone]; !ok {
			phones = append(phones, r.Phone)
		}
		last[r.Phone] = r
		copied++
	}
	if err := rows.Err(); err != nil {
		return n, 0, err
	}
	if err := lock(ctx); err != nil {
		return n, 0, err
	}
	n.Duplicates = copied - len(phones)
	if m.recipients[id] == nil {
		m.recipients[id] = map[domain.ID]domain.Recipient{}
	}
	for _, phone := range phones {
		r := last[phone]
		ct, found := domain.Contact{}, false
		for _, c := range m.contacts {
			if c.WorkspaceID == ws && c.Phone == phone {
				ct, found = c, true
			}
		}
		switch {
		case !found:
			ct = domain.Contact{ID: domain.NewID(), WorkspaceID: ws, Phone: phone, WaID: phone[1:], Name: r.Name,
				Attributes: r.Attributes, CreatedAt: now, UpdatedAt: now}
			n.Created++
		case r.Name != "" && r.Name != ct.Name:
			ct.Name, ct.UpdatedAt = r.Name, now
			n.Updated++
		default:
			n.Unchanged++
		}
		m.contacts[ct.ID] = ct
		if _, ok := m.recipients[id][ct.ID]; !ok {
			m.recipients[id][ct.ID] = domain.Recipient{WorkspaceID: ws, CampaignID: id, ContactID: ct.ID,
				Status: domain.RecipientPending, UpdatedAt: now}
			added++
		}
	}
	return n, added, nil
}

func (m *memory) ReserveImport() (func(), error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.slots == 0 {
		return nil, domain.Errorf(domain.KindRateLimited, "other imports are running")
	}
	m.slots--
	return func() { m.mu.Lock(); m.slots++; m.mu.Unlock() }, nil
}

// Batches.

func (m *memory) Next(_ context.Context, ws, id domain.ID, n int, now time.Time, since *time.Time) (campaigns.Batch, error) {
	var due, pending []domain.ID
	for cid, r := range m.recipients[id] {
		switch {
		case r.Status == domain.RecipientRetryScheduled && !r.NextAttemptAt.After(now):
			due = append(due, cid)
		case r.Status == domain.RecipientPending && r.MessageID == nil:
			pending = append(pending, cid)
		}
	}
	slices.SortFunc(due, func(a, b domain.ID) int {
		return m.recipients[id][a].NextAttemptAt.Compare(*m.recipients[id][b].NextAttemptAt)
	})
	slices.SortFunc(pending, compareIDs)
	ids := append(due, pending...)
	ids = ids[:min(n, len(ids))]
	var b campaigns.Batch
	for _, cid := range ids {
		cand := campaigns.Candidate{ContactID: cid}
		if ct, ok := m.contacts[cid]; ok {
			cand.Contact = &ct
		}
		if since != nil {
			m.locked = append(m.locked, cid)
			for _, at := range m.history[cid] {
				if at.After(*since) {
					cand.Marketing.Sent = append(cand.Marketing.Sent, at)
				}
			}
		}
		b.Candidates = append(b.Candidates, cand)
	}
	if since != nil {
		b.Caps = m.caps
	}
	return b, nil
}

// batchable: a batch may take a recipient pending without a message or waiting for a retry.
func batchable(r domain.Recipient) bool {
	return r.Status == domain.RecipientPending && r.MessageID == nil || r.Status == domain.RecipientRetryScheduled
}

func (m *memory) Record(_ context.Context, ws, id domain.ID, queued []campaigns.Queued, skipped []campaigns.Skipped, at time.Time) error {
	rs := m.recipients[id]
	for _, q := range queued {
		r := rs[q.ContactID]
		if !batchable(r) {
			return errors.New("queued a recipient that was not pending without a message")
		}
		mid := q.MessageID
		r.Status, r.MessageID, r.Attempts, r.NextAttemptAt, r.UpdatedAt = domain.RecipientPending, &mid, r.Attempts+1, nil, at
		rs[q.ContactID] = r
		if _, ok := m.firstAttempt[[2]domain.ID{id, q.ContactID}]; !ok {
			m.firstAttempt[[2]domain.ID{id, q.ContactID}] = at
		}
	}
	for _, s := range skipped {
		r := rs[s.ContactID]
		if !batchable(r) {
			return errors.New("skipped a recipient that was not pending without a message")
		}
		r.Status, r.Reason, r.NextAttemptAt, r.UpdatedAt = domain.RecipientSkipped, s.Reason, nil, at
		rs[s.ContactID] = r
	}
	return nil
}

func (m *memory) SkipPending(_ context.Context, ws, id domain.ID, reason string, at time.Time) (int, error) {
	n := 0
	for cid, r := range m.recipients[id] {
		if batchable(r) {
			r.Status, r.Reason, r.NextAttemptAt, r.UpdatedAt = domain.RecipientSkipped, reason, nil, at
			m.recipients[id][cid] = r
			n++
		}
	}
	return n, nil
}

func (m *memory) Counts(_ context.Context, ws, id domain.ID) (map[domain.RecipientStatus]int, error) {
	by := map[domain.RecipientStatus]int{}
	for _, r := range m.recipients[id] {
		by[r.Status]++
	}
	return by, nil
}

// Progress.

func (m *memory) Track(_ context.Context, ms []domain.Message) ([]campaigns.Tracked, error) {
	var out []campaigns.Tracked
	for _, msg := range ms {
		if msg.CampaignID == nil {
			continue
		}
		r, ok := m.recipients[*msg.CampaignID][msg.ContactID]
		if !ok || r.MessageID == nil || *r.MessageID != msg.ID {
			continue
		}
		out = append(out, campaigns.Tracked{WorkspaceID: r.WorkspaceID, CampaignID: r.CampaignID, ContactID: r.ContactID,
			MessageID: msg.ID, Status: r.Status, Attempts: r.Attempts, FirstAttemptAt: m.firstAttempt[[2]domain.ID{r.CampaignID, r.ContactID}],
			RetryDays: m.retryDays})
	}
	return out, nil
}

func (m *memory) Replied(_ context.Context, replies []campaigns.Reply, window time.Duration) ([]campaigns.Tracked, error) {
	var out []campaigns.Tracked
	for cid, rs := range m.recipients {
		for _, r := range rs {
			if r.Status != domain.RecipientDelivered && r.Status != domain.RecipientRead {
				continue
			}
			at := m.deliveredAt[[2]domain.ID{cid, r.ContactID}]
			if slices.ContainsFunc(replies, func(rp campaigns.Reply) bool {
				return rp.WorkspaceID == r.WorkspaceID && rp.ContactID == r.ContactID && !rp.At.Before(at) && !rp.At.After(at.Add(window))
			}) {
				out = append(out, campaigns.Tracked{WorkspaceID: r.WorkspaceID, CampaignID: cid, ContactID: r.ContactID, Status: r.Status})
			}
		}
	}
	return out, nil
}

func (m *memory) Advance(_ context.Context, changes []campaigns.Change, at time.Time) error {
	for _, ch := range changes {
		r := m.recipients[ch.CampaignID][ch.ContactID]
		if r.Status != ch.From {
			continue
		}
		r.Status, r.NextAttemptAt, r.UpdatedAt = ch.To, ch.NextAttemptAt, at
		switch {
		case ch.To == domain.RecipientFailed || ch.To == domain.RecipientRetryScheduled:
			r.Error = ch.Error
		case ch.From == domain.RecipientPending:
			r.Error = nil
		}
		if ch.To == domain.RecipientRetryScheduled {
			r.MessageID = nil
		}
		k := [2]domain.ID{ch.CampaignID, ch.ContactID}
		if _, ok := m.deliveredAt[k]; !ok && ch.DeliveredAt != nil {
			m.deliveredAt[k] = *ch.DeliveredAt
		}
		m.recipients[ch.CampaignID][ch.ContactID] = r
	}
	return nil
}

// Outbox, Jobs and the event log.

func (m *memory) QueueAll(_ context.Context, ms []domain.Message, evs []domain.Occurrence) error {
	if m.failQueue != nil {
		return m.failQueue
	}
	m.messages = append(m.messages, ms...)
	m.events = append(m.events, evs...)
	return nil
}

func (m *memory) EnqueueCampaignSend(_ context.Context, ws, id domain.ID) error {
	if !slices.Contains(m.sendJobs, campaignJob{ws, id}) {
		m.sendJobs = append(m.sendJobs, campaignJob{ws, id})
	}
	return nil
}

func (m *memory) EnqueueSends(_ context.Context, ws domain.ID, ids []domain.ID, priority int) error {
	for _, id := range ids {
		m.msgJobs[id] = priority
	}
	return nil
}

func (m *memory) Append(_ context.Context, os ...domain.Occurrence) error {
	m.events = append(m.events, os...)
	return nil
}

// world is what the use cases read outside their store: numbers, templates, plans, quota.
type world struct {
	mu        sync.Mutex
	numbers   []domain.PhoneNumber
	templates map[[2]string]domain.Template
	plan      domain.Plan
	// quota: granted per TakeUpTo call (-1: everything asked), and the window's end.
	grant    int
	reset    time.Time
	asked    []int // the n of each TakeUpTo
	keepSeen int
}

func (w *world) List(_ context.Context, ws domain.ID) ([]domain.PhoneNumber, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []domain.PhoneNumber
	for _, n := range w.numbers {
		if n.WorkspaceID == ws {
			out = append(out, n)
		}
	}
	return out, nil
}

func (w *world) Template(_ context.Context, ws domain.ID, wabaID, name, language string) (domain.Template, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	t, ok := w.templates[[2]string{name, language}]
	if !ok || t.WABAID != wabaID {
		return domain.Template{}, domain.NotFound("template")
	}
	return t, nil
}

func (w *world) Workspace(_ context.Context, id domain.ID) (domain.Workspace, error) {
	return domain.Workspace{ID: id, Plan: w.plan}, nil
}

func (w *world) TakeUpTo(_ context.Context, key string, perMinute, keep, n int) (int, time.Time, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.asked, w.keepSeen = append(w.asked, n), keep
	if w.grant < 0 {
		return n, w.reset, nil
	}
	return min(n, w.grant), w.reset, nil
}

// prepaid is a prepaid wallet in which every message costs price: campaigns.Wallet and
// campaigns.Costs (called inside memory's transactions, under its lock).
type prepaid struct {
	m         *memory
	available int64
	price     int64
}

func (w *prepaid) Reserve(_ context.Context, _ domain.ID, holds []domain.Hold, _ time.Time) error {
	total := int64(len(holds)) * w.price
	if total > w.available {
		return domain.Errorf(domain.KindInsufficientBalance, "cannot cover %d", total)
	}
	w.available -= total
	return nil
}

func (w *prepaid) CampaignCost(_ context.Context, _, campaignID domain.ID, _ string, _ time.Time) (domain.Money, domain.Wallet, error) {
	n := int64(0)
	for _, r := range w.m.recipients[campaignID] {
		if (r.Status == domain.RecipientPending && r.MessageID == nil) || r.Status == domain.RecipientRetryScheduled {
			n++
		}
	}
	return domain.Money{Currency: "USD", Micros: n * w.price},
		domain.Wallet{Mode: domain.BillingPrepaid, Currency: "USD", Balance: w.available}, nil
}
