// Package contacts holds the contact use cases: create, list, read, change, delete,
// manual opt-out / opt-in, and the import of contact lists in CSV (CSVReader, which
// campaign audiences read too). An agent sees only the contacts assigned to them; the store
// enforces that in SQL through View.
package contacts

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wabaplatform/waba/application/authz"
	"github.com/wabaplatform/waba/application/events"
	"github.com/wabaplatform/waba/application/phone"
	"github.com/wabaplatform/waba/domain"
	"github.com/wabaplatform/waba/domain/access"
)

// View restricts which contacts a query may see.
type View struct {
	// AssignedTo, when set, limits the query to contacts assigned to that user.
	AssignedTo *domain.ID
}

// Allows reports whether c is inside the view: every contact when AssignedTo is unset,
// else only the contacts assigned to that user (the rule the store's queries apply).
func (v View) Allows(c domain.Contact) bool {
	return v.AssignedTo == nil || (c.AssignedTo != nil && *c.AssignedTo == *v.AssignedTo)
}

// Filter narrows a list.
type Filter struct {
	Phone      string // E.164 after normalization
	Query      string // matches name or phone
	Tag        string
	OptedOut   *bool
	AssignedTo *domain.ID
	Limit      int
	Cursor     domain.ID
}

// Store reads and writes contacts.
type Store interface {
	// Create inserts c and returns it as stored: a contact starts with the opt-outs the
	// suppression list keeps for its phone or BSUID. KindContactExists on a taken phone.
	Create(ctx context.Context, c domain.Contact) (domain.Contact, error)
	// Get returns the contact when it exists and is inside view; KindNotFound otherwise.
	// forUpdate locks the row for the rest of the transaction.
	Get(ctx context.Context, workspaceID, id domain.ID, view View, forUpdate bool) (domain.Contact, error)
	List(ctx context.Context, workspaceID domain.ID, f Filter, view View, limit int) ([]domain.Contact, error)
	// GetAll returns the contacts of ids that exist and are inside view, in any order;
	// forUpdate locks them (in id order) for the rest of the transaction.
	GetAll(ctx context.Context, workspaceID domain.ID, ids []domain.ID, view View, forUpdate bool) ([]domain.Contact, error)
	Update(ctx context.Context, c domain.Contact) error
	// UpdateAll is Update of many contacts in one round trip.
	UpdateAll(ctx context.Context, cs []domain.Contact) error
	// Delete erases the contact with its messages; its opt-outs stay in the suppression list.
	Delete(ctx context.Context, workspaceID, id domain.ID) error
	// SetOptOut opts the contact out (from source, at at) or back in, in the suppression
	// list too, and returns it.
	SetOptOut(ctx context.Context, workspaceID, id domain.ID, out bool, source domain.OptOutSource, at time.Time) (domain.Contact, error)
	IsMember(ctx context.Context, workspaceID, userID domain.ID) (bool, error)
	// Import writes an imported list's rows in one pass over them, as Service.Import
	// describes (a phone's last row wins; empty fields leave values; opt-outs untouched),
	// and counts what became of them. It returns rows.Err() when that stopped the rows.
	Import(ctx context.Context, workspaceID domain.ID, rows ImportRows, now time.Time) (ImportCounts, error)
}

// Repos is what a transaction offers these use cases.
type Repos struct {
	Contacts Store
	Events   events.Log
}

// TxRunner runs fn in one transaction.
type TxRunner interface {
	InTx(ctx context.Context, fn func(ctx context.Context, r Repos) error) error
}

// Service is the contact use cases.
type Service struct {
	tx      TxRunner
	store   Store
	authz   authz.Authorizer
	now     func() time.Time
	imports chan struct{} // a slot per import running (maxConcurrentImports)
}

// NewService returns the contact use cases.
func NewService(tx TxRunner, store Store, a authz.Authorizer) *Service {
	return &Service{tx: tx, store: store, authz: a, now: time.Now, imports: make(chan struct{}, maxConcurrentImports)}
}

// ViewOf is what the caller may see: agents only their assigned contacts.
func ViewOf(c domain.Caller) View {
	if c.Role == access.Agent {
		id := c.ID
		return View{AssignedTo: &id}
	}
	return View{}
}

// Input is a contact's writable fields; nil fields are left alone on update.
type Input struct {
	Phone      *string
	Name       *string
	Tags       *[]string
	Attributes *map[string]any
	// AssignedTo: nil leaves it; a pointer to NilID unassigns.
	AssignedTo *domain.ID
}

// checkPhone normalizes a contact's phone to E.164; a non-empty reason says why it is
// refused. The API and imports share it, as they share checkName and domain's tag and
// attribute rules.
func checkPhone(raw string) (e164, reason string) {
	if strings.TrimSpace(raw) == "" {
		return "", "is required"
	}
	p, err := phone.Normalize(raw)
	if err != nil {
		return "", "must be a valid phone number with its country code"
	}
	return p, ""
}

func checkName(name string) string {
	if utf8.RuneCountInString(name) > domain.MaxContactNameRunes {
		return "must be at most 200 characters"
	}
	return ""
}

func (s *Service) validate(ctx context.Context, c domain.Caller, in Input, creating bool) (phoneE164 string, tags []string, err error) {
	var v domain.Validator
	if creating {
		var raw, reason string
		if in.Phone != nil {
			raw = *in.Phone
		}
		phoneE164, reason = checkPhone(raw)
		v.Check(reason == "", "phone", reason)
	} else if in.Phone != nil {
		v.Add("phone", "cannot be changed; create a new contact")
	}
	if in.Name != nil {
		reason := checkName(*in.Name)
		v.Check(reason == "", "name", reason)
	}
	if in.Tags != nil {
		var reason string
		tags, reason = domain.NormalizeTags(*in.Tags)
		v.Check(reason == "", "tags", reason)
	}
	if in.Attributes != nil {
		reason := domain.CheckAttributes(*in.Attributes)
		v.Check(reason == "", "attributes", reason)
	}
	if err := v.Err(); err != nil {
		return "", nil, err
	}
	if in.AssignedTo != nil {
		if err := authz.Require(s.authz, c, access.ContactsAssign); err != nil {
			return "", nil, err
		}
		if !in.AssignedTo.IsZero() {
			ok, err := s.store.IsMember(ctx, c.WorkspaceID, *in.AssignedTo)
			if err != nil {
				return "", nil, err
			}
			if !ok {
				return "", nil, &domain.Error{Kind: domain.KindValidation, Message: "invalid assignee",
					Fields: []domain.FieldError{{Field: "assigned_to", Message: "must be a member of the workspace"}}}
			}
		}
	}
	return phoneE164, tags, nil
}

// Create adds a contact. An agent's new contact is assigned to them, so they can still see it.
func (s *Service) Create(ctx context.Context, c domain.Caller, in Input) (domain.Contact, error) {
	if err := authz.Require(s.authz, c, access.ContactsCreate); err != nil {
		return domain.Contact{}, err
	}
	e164, tags, err := s.validate(ctx, c, in, true)
	if err != nil {
		return domain.Contact{}, err
	}
	now := s.now().UTC()
	ct := domain.Contact{
		ID: domain.NewID(), WorkspaceID: c.WorkspaceID, Phone: e164, WaID: phone.WaID(e164),
		Tags: []string{}, Attributes: map[string]any{}, CreatedAt: now, UpdatedAt: now,
	}
	applyInput(&ct, in, tags)
	if ct.AssignedTo == nil {
		ct.AssignedTo = ViewOf(c).AssignedTo // an agent's new contact is theirs, so they still see it
	}
	err = s.tx.InTx(ctx, func(ctx context.Context, r Repos) error {
		var err error
		if ct, err = r.Contacts.Create(ctx, ct); err != nil {
			return err
		}
		return r.Events.Append(ctx, domain.Occurred(c, now, domain.ContactCreated{ContactID: ct.ID, Phone: ct.Phone}))
	})
	return ct, err
}

func applyInput(ct *domain.Contact, in Input, tags []string) {
	if in.Name != nil {
		ct.Name = strings.TrimSpace(*in.Name)
	}
	if in.Tags != nil {
		ct.Tags = tags
	}
	if in.Attributes != nil {
		ct.Attributes = *in.Attributes
		if ct.Attributes == nil {
			ct.Attributes = map[string]any{}
		}
	}
	if in.AssignedTo != nil {
		if in.AssignedTo.IsZero() {
			ct.AssignedTo = nil
		} else {
			id := *in.AssignedTo
			ct.AssignedTo = &id
		}
	}
}

// List returns contacts matching f inside the caller's view.
func (s *Service) List(ctx context.Context, c domain.Caller, f Filter) (domain.Page[domain.Contact], error) {
	if err := authz.Require(s.authz, c, access.ContactsRead); err != nil {
		return domain.Page[domain.Contact]{}, err
	}
	if f.Phone != "" {
		p, err := phone.Normalize(f.Phone)
		if err != nil {
			// A phone that cannot be a number matches nothing rather than failing the search.
			return domain.Page[domain.Contact]{Items: []domain.Contact{}}, nil
		}
		f.Phone = p
	}
	return domain.ReadPage(f.Limit, func(n int) ([]domain.Contact, error) { return s.store.List(ctx, c.WorkspaceID, f, ViewOf(c), n) },
		func(c domain.Contact) domain.ID { return c.ID })
}

// Get returns one contact inside the caller's view.
func (s *Service) Get(ctx context.Context, c domain.Caller, id domain.ID) (domain.Contact, error) {
	if err := authz.Require(s.authz, c, access.ContactsRead); err != nil {
		return domain.Contact{}, err
	}
	return s.store.Get(ctx, c.WorkspaceID, id, ViewOf(c), false)
}

// Update changes a contact inside the caller's view.
func (s *Service) Update(ctx context.Context, c domain.Caller, id domain.ID, in Input) (domain.Contact, error) {
	if err := authz.Require(s.authz, c, access.ContactsUpdate); err != nil {
		return domain.Contact{}, err
	}
	_, tags, err := s.validate(ctx, c, in, false)
	if err != nil {
		return domain.Contact{}, err
	}
	var ct domain.Contact
	err = s.tx.InTx(ctx, func(ctx context.Context, r Repos) error {
		var err error
		if ct, err = r.Contacts.Get(ctx, c.WorkspaceID, id, ViewOf(c), true); err != nil {
			return err
		}
		applyInput(&ct, in, tags)
		ct.UpdatedAt = s.now().UTC()
		if err := r.Contacts.Update(ctx, ct); err != nil {
			return err
		}
		return r.Events.Append(ctx, domain.Occurred(c, ct.UpdatedAt, domain.ContactUpdated{ContactID: id, Fields: changedFields(in)}))
	})
	return ct, err
}

func changedFields(in Input) []string {
	var f []string
	if in.Name != nil {
		f = append(f, "name")
	}
	if in.Tags != nil {
		f = append(f, "tags")
	}
	if in.Attributes != nil {
		f = append(f, "attributes")
	}
	if in.AssignedTo != nil {
		f = append(f, "assigned_to")
	}
	return f
}

// Delete erases a contact inside the caller's view, with its messages (a customer's right
// to erasure). An opt-out outlives it: the suppression list and the audit trail keep it.
func (s *Service) Delete(ctx context.Context, c domain.Caller, id domain.ID) error {
	if err := authz.Require(s.authz, c, access.ContactsDelete); err != nil {
		return err
	}
	return s.tx.InTx(ctx, func(ctx context.Context, r Repos) error {
		ct, err := r.Contacts.Get(ctx, c.WorkspaceID, id, ViewOf(c), true)
		if err != nil {
			return err
		}
		if err := r.Contacts.Delete(ctx, c.WorkspaceID, id); err != nil {
			return err
		}
		return r.Events.Append(ctx, domain.Occurred(c, s.now(), domain.ContactDeleted{ContactID: id, Phone: ct.Phone}))
	})
}

// SetOptOut opts a contact out (or back in) by hand through the API. Staff may lift only
// an opt-out staff made: the customer's own (a keyword or button reply, or Meta's marketing
// stop) is a 409 conflict, and only the customer undoes it (START).
func (s *Service) SetOptOut(ctx context.Context, c domain.Caller, id domain.ID, optOut bool) (domain.Contact, error) {
	if err := authz.Require(s.authz, c, access.ContactsOptOut); err != nil {
		return domain.Contact{}, err
	}
	var ct domain.Contact
	err := s.tx.InTx(ctx, func(ctx context.Context, r Repos) error {
		var err error
		if ct, err = r.Contacts.Get(ctx, c.WorkspaceID, id, ViewOf(c), true); err != nil {
			return err
		}
		ev, ok, err := ct.Opt(optOut, domain.OptChange{Source: domain.OptOutAPI})
		if err != nil || !ok {
			return err // already so: nothing changes, nothing is recorded
		}
		now := s.now().UTC()
		if ct, err = r.Contacts.SetOptOut(ctx, c.WorkspaceID, id, optOut, domain.OptOutAPI, now); err != nil {
			return err
		}
		return r.Events.Append(ctx, domain.Occurred(c, now, ev))
	})
	return ct, err
}
