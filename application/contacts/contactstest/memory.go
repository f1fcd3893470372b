// Package contactstest holds what tests of the contacts ports share: an in-memory store and
// transaction runner, and the contract every contacts.Store (the Postgres adapter's too) is
// held to. Only tests import it.
package contactstest

import (
	"bytes"
	"context"
	"maps"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/wabaplatform/waba/application/contacts"
	"github.com/wabaplatform/waba/application/events/eventstest"
	"github.com/wabaplatform/waba/domain"
)

type contactKey struct{ ws, id domain.ID }

// suppressionKey is an address (phone or BSUID) of a workspace, in a scope: "all" or
// "marketing", as the Postgres suppression list keys its rows.
type suppressionKey struct {
	ws      domain.ID
	address string
	scope   string
}

// suppression is one row of the list: how and when the address opted out.
type suppression struct {
	source domain.OptOutSource
	at     time.Time
}

type state struct {
	contacts   map[contactKey]domain.Contact
	events     []domain.Occurrence
	suppressed map[suppressionKey]suppression
}

func (s *state) clone() *state {
	return &state{contacts: maps.Clone(s.contacts), events: slices.Clone(s.events), suppressed: maps.Clone(s.suppressed)}
}

// ListCall is what a List call asked the store for.
type ListCall struct {
	Filter contacts.Filter
	View   contacts.View
	Limit  int
}

// Memory is an in-memory contacts store and transaction runner. It holds the committed
// state; a transaction works on a copy kept only when its function returns nil (so a
// rollback is observable), and transactions run one at a time. It records the List and Get
// calls it serves, for tests of what a use case asks.
type Memory struct {
	mu      sync.Mutex
	state   *state
	members map[contactKey]bool // (workspace, user)
	lists   []ListCall
	gets    []contacts.View
}

// NewMemory returns an empty store.
func NewMemory() *Memory {
	return &Memory{state: &state{contacts: map[contactKey]domain.Contact{}, suppressed: map[suppressionKey]suppression{}},
		members: map[contactKey]bool{}}
}

// InTx runs fn on a copy of the state, committed when fn returns nil.
func (db *Memory) InTx(ctx context.Context, fn func(ctx context.Context, r contacts.Repos) error) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	tx := &memoryStore{db: db, s: db.state.clone()}
	if err := fn(ctx, contacts.Repos{Contacts: tx, Events: tx}); err != nil {
		return err
	}
	db.state = tx.s
	return nil
}

// Store is the store outside transactions.
func (db *Memory) Store() contacts.Store { return &memoryStore{db: db} }

// AddMember makes userID a member of ws (for IsMember).
func (db *Memory) AddMember(ws, userID domain.ID) {
	db.mu.Lock()
	defer db.mu.Unlock()
	db.members[contactKey{ws, userID}] = true
}

// Put stores c as it is, bypassing every rule (to set up a state a test needs).
func (db *Memory) Put(c domain.Contact) {
	db.mu.Lock()
	defer db.mu.Unlock()
	db.state.contacts[contactKey{c.WorkspaceID, c.ID}] = c
}

// Suppress keeps s in ws's suppression list under address (an E.164 phone or a BSUID), as
// an opt-out by keyword at at leaves it when its contact is deleted (to set up a state a test
// needs).
func (db *Memory) Suppress(ws domain.ID, address string, s domain.Suppression, at time.Time) {
	db.mu.Lock()
	defer db.mu.Unlock()
	if s.OptedOut {
		db.state.suppressed[suppressionKey{ws, address, "all"}] = suppression{domain.OptOutKeyword, at}
	}
	if s.MarketingOptedOut {
		db.state.suppressed[suppressionKey{ws, address, "marketing"}] = suppression{"meta", at}
	}
}

// Suppression reads what the committed suppression list keeps for an address of ws (the
// read messaging.Contacts adds to the contacts store).
func (db *Memory) Suppression(_ context.Context, ws domain.ID, address string) (domain.Suppression, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	return suppressionOf(db.state, ws, address).Suppression(), nil
}

// suppressionOf is what the list keeps for addresses of ws, combined as the Postgres
// adapter's suppressionOf does: opted out since the earliest time, by the customer's own
// means when any address says so, and marketing stopped if any address is.
func suppressionOf(s *state, ws domain.ID, addresses ...string) domain.Contact {
	var c domain.Contact
	for _, a := range addresses {
		if a == "" {
			continue
		}
		if all, ok := s.suppressed[suppressionKey{ws, a, "all"}]; ok {
			if c.OptedOutAt == nil || all.at.Before(*c.OptedOutAt) {
				at := all.at
				c.OptedOutAt = &at
			}
			if c.OptOutSource == "" || c.OptOutSource == domain.OptOutAPI || all.source != domain.OptOutAPI && all.source > c.OptOutSource {
				c.OptOutSource = all.source
			}
			c.OptedOut = true
		}
		if _, ok := s.suppressed[suppressionKey{ws, a, "marketing"}]; ok {
			c.MarketingOptedOut = true
		}
	}
	return c
}

// Contact reads a committed contact.
func (db *Memory) Contact(ws, id domain.ID) (domain.Contact, bool) {
	db.mu.Lock()
	defer db.mu.Unlock()
	c, ok := db.state.contacts[contactKey{ws, id}]
	return c, ok
}

// Contacts counts the committed contacts.
func (db *Memory) Contacts() int {
	db.mu.Lock()
	defer db.mu.Unlock()
	return len(db.state.contacts)
}

// Audit returns the committed audit entries, oldest first.
func (db *Memory) Audit() []domain.AuditEntry {
	db.mu.Lock()
	defer db.mu.Unlock()
	return eventstest.Audit(db.state.events)
}

// Events returns the committed events, oldest first.
func (db *Memory) Events() []domain.Occurrence {
	db.mu.Lock()
	defer db.mu.Unlock()
	return slices.Clone(db.state.events)
}

// Lists returns the List calls served so far.
func (db *Memory) Lists() []ListCall {
	db.mu.Lock()
	defer db.mu.Unlock()
	return slices.Clone(db.lists)
}

// LastList is the latest List call.
func (db *Memory) LastList() ListCall {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.lists[len(db.lists)-1]
}

// LastGetView is the view of the latest Get call.
func (db *Memory) LastGetView() contacts.View {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.gets[len(db.gets)-1]
}

// memoryStore works on a transaction's copy (s) or, when s is nil, the committed state.
type memoryStore struct {
	db *Memory
	s  *state
}

func (f *memoryStore) with(fn func(s *state) error) error {
	if f.s != nil {
		return fn(f.s)
	}
	f.db.mu.Lock()
	defer f.db.mu.Unlock()
	return fn(f.db.state)
}

func (f *memoryStore) Append(_ context.Context, os ...domain.Occurrence) error {
	return f.with(func(s *state) error { s.events = append(s.events, os...); return nil })
}

func (f *memoryStore) Create(_ context.Context, c domain.Contact) (domain.Contact, error) {
	err := f.with(func(s *state) error {
		for k, o := range s.contacts {
			if k.ws == c.WorkspaceID && (c.Phone != "" && o.Phone == c.Phone || c.BSUID != "" && o.BSUID == c.BSUID) {
				return domain.Errorf(domain.KindContactExists, "a contact with that phone number already exists")
			}
		}
		sup := suppressionOf(s, c.WorkspaceID, c.Phone, c.BSUID)
		c.OptedOut, c.OptedOutAt, c.OptOutSource, c.MarketingOptedOut = sup.OptedOut, sup.OptedOutAt, sup.OptOutSource, sup.MarketingOptedOut
		s.contacts[contactKey{c.WorkspaceID, c.ID}] = c
		return nil
	})
	return c, err
}

func (f *memoryStore) SetOptOut(_ context.Context, ws, id domain.ID, out bool, source domain.OptOutSource, at time.Time) (c domain.Contact, err error) {
	err = f.with(func(s *state) error {
		var ok bool
		if c, ok = s.contacts[contactKey{ws, id}]; !ok {
			return domain.NotFound("contact")
		}
		c.OptedOut, c.OptedOutAt, c.OptOutSource = out, nil, ""
		if out {
			c.OptedOutAt, c.OptOutSource = &at, source
		}
		s.contacts[contactKey{ws, id}] = c
		for _, a := range []string{c.Phone, c.BSUID} {
			switch k := (suppressionKey{ws, a, "all"}); {
			case a == "":
			case out:
				s.suppressed[k] = suppression{source, at}
			default:
				delete(s.suppressed, k)
			}
		}
		return nil
	})
	return c, err
}

func (f *memoryStore) Get(_ context.Context, ws, id domain.ID, view contacts.View, _ bool) (c domain.Contact, err error) {
	err = f.with(func(s *state) error {
		f.db.gets = append(f.db.gets, view)
		var ok bool
		if c, ok = s.contacts[contactKey{ws, id}]; !ok || !view.Allows(c) {
			return domain.NotFound("contact")
		}
		return nil
	})
	return c, err
}

func (f *memoryStore) GetAll(_ context.Context, ws domain.ID, ids []domain.ID, view contacts.View, _ bool) (out []domain.Contact, err error) {
	err = f.with(func(s *state) error {
		for _, id := range ids {
			if c, ok := s.contacts[contactKey{ws, id}]; ok && view.Allows(c) && !slices.ContainsFunc(out, func(o domain.Contact) bool { return o.ID == id }) {
				out = append(out, c)
			}
		}
		return nil
	})
	return out, err
}

func (f *memoryStore) List(_ context.Context, ws domain.ID, fl contacts.Filter, view contacts.View, limit int) (out []domain.Contact, err error) {
	err = f.with(func(s *state) error {
		f.db.lists = append(f.db.lists, ListCall{Filter: fl, View: view, Limit: limit})
		for k, c := range s.contacts {
			switch {
			case k.ws != ws, !view.Allows(c),
				fl.Phone != "" && c.Phone != fl.Phone,
				fl.Tag != "" && !slices.Contains(c.Tags, fl.Tag),
				fl.OptedOut != nil && c.OptedOut != *fl.OptedOut,
				fl.AssignedTo != nil && (c.AssignedTo == nil || *c.AssignedTo != *fl.AssignedTo),
				fl.Query != "" && !strings.Contains(strings.ToLower(c.Name), strings.ToLower(fl.Query)) && !strings.Contains(c.Phone, fl.Query),
				!fl.Cursor.IsZero() && bytes.Compare(c.ID[:], fl.Cursor[:]) >= 0:
				continue
			}
			out = append(out, c)
		}
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i].ID[:], out[j].ID[:]) > 0 })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, err
}

func (f *memoryStore) Update(_ context.Context, c domain.Contact) error {
	return f.with(func(s *state) error {
		if _, ok := s.contacts[contactKey{c.WorkspaceID, c.ID}]; ok {
			s.contacts[contactKey{c.WorkspaceID, c.ID}] = c
		}
		return nil
	})
}

func (f *memoryStore) UpdateAll(ctx context.Context, cs []domain.Contact) error {
	for _, c := range cs {
		if err := f.Update(ctx, c); err != nil {
			return err
		}
	}
	return nil
}

func (f *memoryStore) Delete(_ context.Context, ws, id domain.ID) error {
	return f.with(func(s *state) error { delete(s.contacts, contactKey{ws, id}); return nil })
}

func (f *memoryStore) IsMember(_ context.Context, ws, userID domain.ID) (bool, error) {
	if f.s == nil {
		f.db.mu.Lock()
		defer f.db.mu.Unlock()
	}
	return f.db.members[contactKey{ws, userID}], nil
}

// Import implements contacts.Store as the Postgres adapter does, with a map of the rows by
// phone (the adapter keeps them in the database, not in memory). Attributes are measured
// as Go encodes them, where Postgres measures its own text form: tests stay clear of the
// limit's edge.
func (f *memoryStore) Import(_ context.Context, ws domain.ID, rows contacts.ImportRows, now time.Time) (n contacts.ImportCounts, err error) {
	last := map[string]contacts.ImportRow{}
	total := 0
	for rows.Next() {
		r := rows.Row()
		last[r.Phone] = r
		total++
	}
	if err := rows.Err(); err != nil {
		return n, err
	}
	n.Duplicates = total - len(last)
	err = f.with(func(s *state) error {
		for _, phone := range slices.Sorted(maps.Keys(last)) {
			r := last[phone]
			var found *domain.Contact
			for _, c := range s.contacts {
				if c.WorkspaceID == ws && c.Phone == phone {
					found = &c
					break
				}
			}
			if found == nil {
				c := domain.Contact{ID: domain.NewID(), WorkspaceID: ws, Phone: phone, WaID: phone[1:], Name: r.Name,
					Tags: r.Tags, Attributes: maps.Clone(r.Attributes), CreatedAt: now, UpdatedAt: now}
				if c.Tags == nil {
					c.Tags = []string{}
				}
				if c.Attributes == nil {
					c.Attributes = map[string]any{}
				}
				sup := suppressionOf(s, ws, phone)
				c.OptedOut, c.OptedOutAt, c.OptOutSource, c.MarketingOptedOut = sup.OptedOut, sup.OptedOutAt, sup.OptOutSource, sup.MarketingOptedOut
				s.contacts[contactKey{ws, c.ID}] = c
				n.Created++
				continue
			}
			c := *found
			attrs := maps.Clone(c.Attributes)
			if attrs == nil {
				attrs = map[string]any{}
			}
			maps.Copy(attrs, r.Attributes)
			if len(c.Attributes) > 0 && domain.CheckAttributes(attrs) != "" {
				n.RefusedCount++
				n.Refused = append(n.Refused, r.Line)
				continue
			}
			name, tags := c.Name, c.Tags
			if r.Name != "" {
				name = r.Name
			}
			if len(r.Tags) > 0 {
				tags = r.Tags
			}
			if name == c.Name && slices.Equal(tags, c.Tags) && maps.EqualFunc(attrs, c.Attributes, func(a, b any) bool { return reflect.DeepEqual(a, b) }) {
				n.Unchanged++
				continue
			}
			c.Name, c.Tags, c.Attributes, c.UpdatedAt = name, tags, attrs, now
			s.contacts[contactKey{ws, c.ID}] = c
			n.Updated++
		}
		return nil
	})
	slices.Sort(n.Refused)
	n.Refused = n.Refused[:min(len(n.Refused), contacts.MaxImportReasons)]
	return n, err
}
