package contacts

import (
	"context"
	"slices"

	"github.com/wabaplatform/waba/application/authz"
	"github.com/wabaplatform/waba/domain"
	"github.com/wabaplatform/waba/domain/access"
)

// Change adds a tag to a contact (Tag) or sets one of its attributes (Key to Value): what
// an automation's rule does to the contact of a message.
type Change struct {
	ContactID domain.ID
	Tag       string
	Key       string
	Value     any
}

// Refused is a change Apply did not make, and why.
type Refused struct {
	Change
	Reason string
}

// Apply makes many changes, in order, in one transaction: the contacts are locked and read
// in one query and written in one round trip, with one contact.updated event each that
// changed. A change the contact already reflects changes nothing; one that breaks a
// contact's limits (tags, attribute size) is refused and the others are still made; a
// contact gone or outside the caller's view is skipped.
func (s *Service) Apply(ctx context.Context, c domain.Caller, changes []Change) (refused []Refused, err error) {
	if err := authz.Require(s.authz, c, access.ContactsUpdate); err != nil {
		return nil, err
	}
	if len(changes) == 0 {
		return nil, nil
	}
	ids := make([]domain.ID, 0, len(changes))
	for _, ch := range changes {
		ids = append(ids, ch.ContactID)
	}
	err = s.tx.InTx(ctx, func(ctx context.Context, r Repos) error {
		refused = refused[:0]
		cs, err := r.Contacts.GetAll(ctx, c.WorkspaceID, ids, ViewOf(c), true)
		if err != nil {
			return err
		}
		byID := make(map[domain.ID]*domain.Contact, len(cs))
		for i := range cs {
			byID[cs[i].ID] = &cs[i]
		}
		fields := map[domain.ID][]string{}
		var order []domain.ID // contacts changed, in the order of their first change
		for _, ch := range changes {
			ct, ok := byID[ch.ContactID]
			if !ok {
				continue
			}
			field, reason := change(ct, ch)
			if reason != "" {
				refused = append(refused, Refused{ch, reason})
			}
			if field == "" {
				continue
			}
			if _, ok := fields[ct.ID]; !ok {
				order = append(order, ct.ID)
			}
			if !slices.Contains(fields[ct.ID], field) {
				fields[ct.ID] = append(fields[ct.ID], field)
			}
		}
		if len(order) == 0 {
			return nil
		}
		now := s.now().UTC()
		changed := make([]domain.Contact, 0, len(order))
		occurred := make([]domain.Occurrence, 0, len(order))
		for _, id := range order {
			ct := byID[id]
			ct.UpdatedAt = now
			changed = append(changed, *ct)
			occurred = append(occurred, domain.Occurred(c, now, domain.ContactUpdated{ContactID: id, Fields: fields[id]}))
		}
		if err := r.Contacts.UpdateAll(ctx, changed); err != nil {
			return err
		}
		return r.Events.Append(ctx, occurred...)
	})
	return refused, err
}

// change applies ch to ct: field is the field it changed ("" for none), reason why it was
// refused.
func change(ct *domain.Contact, ch Change) (field, reason string) {
	if ch.Key == "" {
		if slices.Contains(ct.Tags, ch.Tag) {
			return "", ""
		}
		tags, reason := domain.NormalizeTags(append(slices.Clone(ct.Tags), ch.Tag))
		if reason != "" {
			return "", "tags: " + reason
		}
		ct.Tags = tags
		return "tags", ""
	}
	if cur, ok := ct.Attributes[ch.Key]; ok && domain.JSONEqual(cur, ch.Value) {
		return "", ""
	}
	attrs := make(map[string]any, len(ct.Attributes)+1)
	for k, v := range ct.Attributes {
		attrs[k] = v
	}
	attrs[ch.Key] = ch.Value
	if reason := domain.CheckAttributes(attrs); reason != "" {
		return "", "attributes: " + reason
	}
	ct.Attributes = attrs
	return "attributes", ""
}
