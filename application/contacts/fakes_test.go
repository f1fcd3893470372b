package contacts_test

import (
	"bytes"
	"context"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/wabaplatform/waba/application/authz/authztest"
	"github.com/wabaplatform/waba/application/contacts"
	"github.com/wabaplatform/waba/domain"
	"github.com/wabaplatform/waba/domain/access"
)

// policy mirrors the contact rows of adapters/casbin/policy.csv.
var policy = func() authztest.Grants {
	all := []access.Permission{
		access.ContactsRead, access.ContactsCreate, access.ContactsUpdate, access.ContactsDelete,
		access.ContactsOptOut, access.ContactsImport, access.ContactsAssign,
	}
	return authztest.Grants{
		access.Owner:   all,
		access.Manager: all,
		access.Agent: {
			access.ContactsRead, access.ContactsCreate, access.ContactsUpdate, access.ContactsDelete, access.ContactsOptOut,
		},
		access.Viewer: {access.ContactsRead},
	}
}()

type contactKey struct{ ws, id domain.ID }

// suppressionKey is an address (phone or BSUID) of a workspace.
type suppressionKey struct {
	ws      domain.ID
	address string
}

type fakeState struct {
	contacts map[contactKey]domain.Contact
	audit    []domain.AuditEntry
	// suppressed keeps the opt-out of an address, as the Postgres suppression list does.
	suppressed map[suppressionKey]domain.Contact
}

func (s *fakeState) clone() *fakeState {
	return &fakeState{contacts: maps.Clone(s.contacts), audit: slices.Clone(s.audit), suppressed: maps.Clone(s.suppressed)}
}

// listCall is what the use case asked the store for.
type listCall struct {
	f     contacts.Filter
	view  contacts.View
	limit int
}

// fakeDB is the committed state, the TxRunner and (through store) the non-transactional
// store. A transaction works on a copy kept only when its function returns nil.
type fakeDB struct {
	mu      sync.Mutex
	state   *fakeState
	members map[contactKey]bool // (workspace, user)
	lists   []listCall
	gets    []contacts.View
}

func newFakeDB() *fakeDB {
	return &fakeDB{state: &fakeState{contacts: map[contactKey]domain.Contact{}, suppressed: map[suppressionKey]domain.Contact{}},
		members: map[contactKey]bool{}}
}

func (db *fakeDB) InTx(ctx context.Context, fn func(ctx context.Context, r contacts.Repos) error) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	tx := &fakeStore{db: db, s: db.state.clone()}
	if err := fn(ctx, contacts.Repos{Contacts: tx, Audit: tx}); err != nil {
		return err
	}
	db.state = tx.s
	return nil
}

func (db *fakeDB) store() contacts.Store { return &fakeStore{db: db} }

func (db *fakeDB) snapshot() *fakeState {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.state.clone()
}

func (db *fakeDB) lastList() listCall {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.lists[len(db.lists)-1]
}

// fakeStore works on a transaction's copy (s) or, when s is nil, the committed state.
type fakeStore struct {
	db *fakeDB
	s  *fakeState
}

func (f *fakeStore) with(fn func(s *fakeState) error) error {
	if f.s != nil {
		return fn(f.s)
	}
	f.db.mu.Lock()
	defer f.db.mu.Unlock()
	return fn(f.db.state)
}

func (f *fakeStore) Record(_ context.Context, e domain.AuditEntry) error {
	return f.with(func(s *fakeState) error { s.audit = append(s.audit, e); return nil })
}

func (f *fakeStore) Create(_ context.Context, c domain.Contact) (domain.Contact, error) {
	err := f.with(func(s *fakeState) error {
		for k, o := range s.contacts {
			if k.ws == c.WorkspaceID && c.Phone != "" && o.Phone == c.Phone {
				return domain.Errorf(domain.KindContactExists, "a contact with that phone number already exists")
			}
		}
		c.OptedOut, c.OptedOutAt, c.OptOutSource, c.MarketingOptedOut = false, nil, "", false
		for _, a := range []string{c.Phone, c.BSUID} {
			if sup, ok := s.suppressed[suppressionKey{c.WorkspaceID, a}]; ok && a != "" {
				c.OptedOut, c.OptedOutAt, c.OptOutSource, c.MarketingOptedOut = sup.OptedOut, sup.OptedOutAt, sup.OptOutSource, sup.MarketingOptedOut
			}
		}
		s.contacts[contactKey{c.WorkspaceID, c.ID}] = c
		return nil
	})
	return c, err
}

func (f *fakeStore) SetOptOut(_ context.Context, ws, id domain.ID, out bool, source domain.OptOutSource, at time.Time) (c domain.Contact, err error) {
	err = f.with(func(s *fakeState) error {
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
			if a != "" {
				s.suppressed[suppressionKey{ws, a}] = c
			}
		}
		return nil
	})
	return c, err
}

func (f *fakeStore) Get(_ context.Context, ws, id domain.ID, view contacts.View, _ bool) (c domain.Contact, err error) {
	err = f.with(func(s *fakeState) error {
		f.db.gets = append(f.db.gets, view)
		var ok bool
		if c, ok = s.contacts[contactKey{ws, id}]; !ok || !view.Allows(c) {
			return domain.NotFound("contact")
		}
		return nil
	})
	return c, err
}

func (f *fakeStore) List(_ context.Context, ws domain.ID, fl contacts.Filter, view contacts.View, limit int) (out []domain.Contact, err error) {
	err = f.with(func(s *fakeState) error {
		f.db.lists = append(f.db.lists, listCall{f: fl, view: view, limit: limit})
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

func (f *fakeStore) Update(_ context.Context, c domain.Contact) error {
	return f.with(func(s *fakeState) error { s.contacts[contactKey{c.WorkspaceID, c.ID}] = c; return nil })
}

func (f *fakeStore) Delete(_ context.Context, ws, id domain.ID) error {
	return f.with(func(s *fakeState) error { delete(s.contacts, contactKey{ws, id}); return nil })
}

func (f *fakeStore) IsMember(_ context.Context, ws, userID domain.ID) (bool, error) {
	f.db.mu.Lock()
	defer f.db.mu.Unlock()
	return f.db.members[contactKey{ws, userID}], nil
}
