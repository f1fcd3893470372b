// Package conversations holds the team inbox: conversations opened by inbound messages,
// the views (mine, unassigned, all), assignment (by hand and automatic), status, read
// state, internal notes, and the inbox settings. An agent sees the conversations assigned
// to them and the unassigned ones, never another agent's; the store enforces that in SQL
// through View.
package conversations

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wabaplatform/waba/application/authz"
	"github.com/wabaplatform/waba/domain"
	"github.com/wabaplatform/waba/domain/access"
)

// Service is the inbox use cases.
type Service struct {
	tx    TxRunner
	store Store
	sets  Settings
	authz authz.Authorizer
	now   domain.Clock
}

// NewService returns the inbox use cases; store and sets read outside transactions.
func NewService(tx TxRunner, store Store, sets Settings, a authz.Authorizer, now domain.Clock) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{tx: tx, store: store, sets: sets, authz: a, now: now}
}

// ViewOf is what the caller may see: an agent their own and the unassigned conversations.
func ViewOf(c domain.Caller) View {
	if c.Role == access.Agent {
		id := c.ID
		return View{Agent: &id}
	}
	return View{}
}

// Item is a conversation as the API shows it, with whether free text may be sent now.
type Item struct {
	domain.Conversation
	CanSendFreeform bool
}

func (s *Service) item(c domain.Conversation) Item {
	return Item{Conversation: c, CanSendFreeform: c.CanSendFreeform(s.now())}
}

// List returns a page of the caller's view of the inbox, most recent message first.
func (s *Service) List(ctx context.Context, c domain.Caller, f Filter) (domain.Page[Item], error) {
	if err := authz.Require(s.authz, c, access.ConversationsRead); err != nil {
		return domain.Page[Item]{}, err
	}
	var v domain.Validator
	switch f.Which {
	case "":
		f.Which = All
	case Mine, Unassigned, All:
	default:
		v.Add("view", "must be mine, unassigned or all")
	}
	if f.Status != "" {
		_, ok := domain.ParseConversationStatus(string(f.Status))
		v.Check(ok, "status", "must be open, pending or resolved")
	}
	f.Query = strings.TrimSpace(f.Query)
	v.Check(utf8.RuneCountInString(f.Query) <= 200, "q", "must be at most 200 characters")
	if err := v.Err(); err != nil {
		return domain.Page[Item]{}, err
	}
	f.Me = c.ID
	page, err := domain.ReadPage(f.Limit, func(n int) ([]domain.Conversation, error) {
		return s.store.List(ctx, c.WorkspaceID, f, ViewOf(c), n)
	}, func(c domain.Conversation) domain.ID { return c.ID })
	if err != nil {
		return domain.Page[Item]{}, err
	}
	out := domain.Page[Item]{Items: make([]Item, len(page.Items)), NextCursor: page.NextCursor}
	for i, cv := range page.Items {
		out.Items[i] = s.item(cv)
	}
	return out, nil
}

// Get returns one conversation inside the caller's view.
func (s *Service) Get(ctx context.Context, c domain.Caller, id domain.ID) (Item, error) {
	if err := authz.Require(s.authz, c, access.ConversationsRead); err != nil {
		return Item{}, err
	}
	cv, err := s.store.Get(ctx, c.WorkspaceID, id, ViewOf(c), false)
	if err != nil {
		return Item{}, err
	}
	return s.item(cv), nil
}

// Messages pages through a conversation's messages, newest first.
func (s *Service) Messages(ctx context.Context, c domain.Caller, id domain.ID, limit int, cursor domain.ID) (domain.Page[domain.Message], error) {
	if err := authz.Require(s.authz, c, access.MessagesRead); err != nil {
		return domain.Page[domain.Message]{}, err
	}
	cv, err := s.store.Get(ctx, c.WorkspaceID, id, ViewOf(c), false)
	if err != nil {
		return domain.Page[domain.Message]{}, err
	}
	return domain.ReadPage(limit, func(n int) ([]domain.Message, error) {
		return s.store.Messages(ctx, cv, cursor, n)
	}, func(m domain.Message) domain.ID { return m.ID })
}

// Assign gives the conversation, and its contact, to user (nil unassigns). Owners and
// managers assign any member; an agent may only take an unassigned conversation for
// themselves.
func (s *Service) Assign(ctx context.Context, c domain.Caller, id domain.ID, user *domain.ID) (Item, error) {
	if err := authz.Require(s.authz, c, access.ConversationsRead); err != nil {
		return Item{}, err
	}
	anyone := s.authz.Can(c.Role, c.WorkspaceID.String(), access.ConversationsAssign)
	if !anyone {
		if err := authz.Require(s.authz, c, access.ConversationsTake); err != nil {
			return Item{}, err
		}
	}
	if anyone && user != nil {
		ok, err := s.store.IsMember(ctx, c.WorkspaceID, *user)
		if err != nil {
			return Item{}, err
		}
		if !ok {
			return Item{}, &domain.Error{Kind: domain.KindValidation, Message: "invalid assignee",
				Fields: []domain.FieldError{{Field: "user_id", Message: "must be a member of the workspace"}}}
		}
	}
	now := s.now().UTC()
	var out domain.Conversation
	err := s.tx.InTx(ctx, func(ctx context.Context, r Repos) error {
		cv, err := r.Conversations.Get(ctx, c.WorkspaceID, id, ViewOf(c), true)
		if err != nil {
			return err
		}
		if !anyone && (user == nil || *user != c.ID || cv.AssignedTo != nil) {
			if user != nil && *user == c.ID && cv.AssignedToUser(c.ID) {
				out = cv // taking what is already theirs changes nothing
				return nil
			}
			return domain.Errorf(domain.KindForbidden, "an agent may only take an unassigned conversation for themselves")
		}
		if sameAssignee(cv.AssignedTo, user) {
			out = cv
			return nil
		}
		from := cv.AssignedTo
		cv.AssignedTo, cv.UpdatedAt = copyID(user), now
		if err := r.Conversations.Update(ctx, cv); err != nil {
			return err
		}
		out = cv
		return r.Events.Append(ctx, domain.Occurred(c, now, domain.ConversationAssigned{
			ConversationID: cv.ID, ContactID: cv.ContactID, From: from, To: cv.AssignedTo}))
	})
	return s.item(out), err
}

func sameAssignee(a, b *domain.ID) bool {
	return (a == nil && b == nil) || (a != nil && b != nil && *a == *b)
}

func copyID(id *domain.ID) *domain.ID {
	if id == nil {
		return nil
	}
	v := *id
	return &v
}

// SetStatus moves the conversation to status (open, pending or resolved).
func (s *Service) SetStatus(ctx context.Context, c domain.Caller, id domain.ID, status string) (Item, error) {
	if err := authz.Require(s.authz, c, access.ConversationsClose); err != nil {
		return Item{}, err
	}
	st, ok := domain.ParseConversationStatus(status)
	if !ok {
		var v domain.Validator
		v.Add("status", "must be open, pending or resolved")
		return Item{}, v.Err()
	}
	now := s.now().UTC()
	var out domain.Conversation
	err := s.tx.InTx(ctx, func(ctx context.Context, r Repos) error {
		cv, err := r.Conversations.Get(ctx, c.WorkspaceID, id, ViewOf(c), true)
		if err != nil {
			return err
		}
		out = cv
		if cv.Status == st {
			return nil
		}
		prev := cv.Status
		cv.Status, cv.UpdatedAt = st, now
		if err := r.Conversations.Update(ctx, cv); err != nil {
			return err
		}
		out = cv
		return r.Events.Append(ctx, domain.Occurred(c, now, domain.ConversationStatusChanged{
			ConversationID: cv.ID, ContactID: cv.ContactID, Status: st, Previous: prev}))
	})
	return s.item(out), err
}

// MarkRead sets the conversation's unread count to 0 and queues Meta's read receipt for its
// last inbound message, in one transaction.
func (s *Service) MarkRead(ctx context.Context, c domain.Caller, id domain.ID) (Item, error) {
	if err := authz.Require(s.authz, c, access.ConversationsReply); err != nil {
		return Item{}, err
	}
	var out domain.Conversation
	err := s.tx.InTx(ctx, func(ctx context.Context, r Repos) error {
		cv, err := r.Conversations.Get(ctx, c.WorkspaceID, id, ViewOf(c), true)
		if err != nil {
			return err
		}
		out = cv
		if cv.UnreadCount == 0 {
			return nil
		}
		cv.UnreadCount, cv.UpdatedAt = 0, s.now().UTC()
		out = cv
		if err := r.Conversations.Update(ctx, cv); err != nil || r.Receipts == nil {
			return err
		}
		last, ok, err := r.Conversations.LastInbound(ctx, cv)
		if err != nil || !ok {
			return err
		}
		return r.Receipts.EnqueueReadReceipt(ctx, cv.WorkspaceID, last)
	})
	return s.item(out), err
}

// Notes pages through a conversation's notes, newest first.
func (s *Service) Notes(ctx context.Context, c domain.Caller, id domain.ID, limit int, cursor domain.ID) (domain.Page[domain.Note], error) {
	if err := authz.Require(s.authz, c, access.ConversationsRead); err != nil {
		return domain.Page[domain.Note]{}, err
	}
	if _, err := s.store.Get(ctx, c.WorkspaceID, id, ViewOf(c), false); err != nil {
		return domain.Page[domain.Note]{}, err
	}
	return domain.ReadPage(limit, func(n int) ([]domain.Note, error) {
		return s.store.Notes(ctx, c.WorkspaceID, id, cursor, n)
	}, func(n domain.Note) domain.ID { return n.ID })
}

// AddNote writes an internal note on the conversation; it is never sent to WhatsApp.
func (s *Service) AddNote(ctx context.Context, c domain.Caller, id domain.ID, body string) (domain.Note, error) {
	if err := authz.Require(s.authz, c, access.NotesCreate); err != nil {
		return domain.Note{}, err
	}
	body = strings.TrimSpace(body)
	var v domain.Validator
	v.Check(body != "", "body", "is required")
	v.Check(utf8.RuneCountInString(body) <= domain.MaxNoteRunes, "body", "must be at most 4096 characters")
	v.Check(utf8.ValidString(body) && !strings.ContainsRune(body, 0), "body", "must be text")
	if err := v.Err(); err != nil {
		return domain.Note{}, err
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	n := domain.Note{ID: domain.NewID(), WorkspaceID: c.WorkspaceID, ConversationID: id, Body: body, CreatedAt: now}
	if c.Type == domain.ActorUser {
		n.AuthorID = copyID(&c.ID)
	}
	err := s.tx.InTx(ctx, func(ctx context.Context, r Repos) error {
		cv, err := r.Conversations.Get(ctx, c.WorkspaceID, id, ViewOf(c), false)
		if err != nil {
			return err
		}
		if err := r.Conversations.AddNote(ctx, n); err != nil {
			return err
		}
		return r.Events.Append(ctx, domain.Occurred(c, now, domain.NoteCreated{NoteID: n.ID, ConversationID: id, ContactID: cv.ContactID}))
	})
	return n, err
}

// InboxSettings returns the workspace's auto-assignment mode.
func (s *Service) InboxSettings(ctx context.Context, c domain.Caller) (domain.AutoAssign, error) {
	if err := authz.Require(s.authz, c, access.WorkspaceRead); err != nil {
		return "", err
	}
	return s.sets.AutoAssign(ctx, c.WorkspaceID)
}

// SetInboxSettings changes the auto-assignment mode ("off", "round_robin", "least_busy").
func (s *Service) SetInboxSettings(ctx context.Context, c domain.Caller, mode string) (domain.AutoAssign, error) {
	if err := authz.Require(s.authz, c, access.InboxManage); err != nil {
		return "", err
	}
	m, ok := domain.ParseAutoAssign(mode)
	if !ok {
		var v domain.Validator
		v.Add("auto_assign", "must be off, round_robin or least_busy")
		return "", v.Err()
	}
	now := s.now().UTC()
	err := s.tx.InTx(ctx, func(ctx context.Context, r Repos) error {
		before, err := r.Settings.SetAutoAssign(ctx, c.WorkspaceID, m)
		if err != nil || before == m {
			return err
		}
		return r.Events.Append(ctx, domain.Occurred(c, now, domain.InboxSettingsChanged{WorkspaceID: c.WorkspaceID, AutoAssign: m, Before: before}))
	})
	return m, err
}

// SetAvailable says whether the calling user takes auto-assigned conversations.
func (s *Service) SetAvailable(ctx context.Context, c domain.Caller, available bool) error {
	if err := authz.Require(s.authz, c, access.ConversationsReply); err != nil {
		return err
	}
	if c.Type != domain.ActorUser {
		return domain.Errorf(domain.KindForbidden, "only a user has an availability; an API key has none")
	}
	return s.sets.SetAvailable(ctx, c.WorkspaceID, c.ID, available)
}
