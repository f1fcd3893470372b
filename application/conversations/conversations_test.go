package conversations_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/application/authz/authztest"
	"github.com/wabaplatform/waba/application/conversations"
	"github.com/wabaplatform/waba/application/events/eventstest"
	"github.com/wabaplatform/waba/domain"
	"github.com/wabaplatform/waba/domain/access"
)

// memory is an in-memory store, settings and assigner, enough for the use cases' rules.
type memory struct {
	convs    map[domain.ID]domain.Conversation
	notes    []domain.Note
	members  map[domain.ID]bool
	mode     domain.AutoAssign
	avail    map[domain.ID]bool
	opened   conversations.Opened
	batch    []conversations.Opened  // when set, what Receive answers instead of opened
	received []conversations.Inbound // by the last Receive
	picks    int
	locks    int
}

func (m *memory) Get(_ context.Context, ws, id domain.ID, v conversations.View, _ bool) (domain.Conversation, error) {
	c, ok := m.convs[id]
	if !ok || c.WorkspaceID != ws || !v.Allows(c) {
		return domain.Conversation{}, domain.NotFound("conversation")
	}
	return c, nil
}
func (m *memory) List(context.Context, domain.ID, conversations.Filter, conversations.View, int) ([]domain.Conversation, error) {
	return nil, nil
}
func (m *memory) Messages(context.Context, domain.Conversation, domain.ID, int) ([]domain.Message, error) {
	return nil, nil
}
func (m *memory) Update(_ context.Context, c domain.Conversation) error {
	m.convs[c.ID] = c
	return nil
}
func (m *memory) Notes(_ context.Context, _, conv, _ domain.ID, _ int) ([]domain.Note, error) {
	var out []domain.Note
	for _, n := range m.notes {
		if n.ConversationID == conv {
			out = append(out, n)
		}
	}
	return out, nil
}
func (m *memory) AddNote(_ context.Context, n domain.Note) error {
	m.notes = append(m.notes, n)
	return nil
}
func (m *memory) IsMember(_ context.Context, _, u domain.ID) (bool, error) {
	return m.members[u], nil
}
func (m *memory) LastInbound(_ context.Context, c domain.Conversation) (domain.ID, bool, error) {
	return c.ID, true, nil // the fake's stand-in: any id will do
}

type receipts []domain.ID

func (r *receipts) EnqueueReadReceipt(_ context.Context, _, id domain.ID) error {
	*r = append(*r, id)
	return nil
}

func (m *memory) AutoAssign(context.Context, domain.ID) (domain.AutoAssign, error) {
	return m.mode, nil
}
func (m *memory) SetAutoAssign(_ context.Context, _ domain.ID, mode domain.AutoAssign) (domain.AutoAssign, error) {
	before := m.mode
	m.mode = mode
	return before, nil
}
func (m *memory) SetAvailable(_ context.Context, _, u domain.ID, a bool) error {
	if !m.members[u] {
		return domain.NotFound("member")
	}
	m.avail[u] = a
	return nil
}
func (m *memory) Receive(_ context.Context, ins []conversations.Inbound, _ time.Time) ([]conversations.Opened, error) {
	m.received = ins
	if m.batch != nil {
		return m.batch, nil
	}
	return []conversations.Opened{m.opened}, nil
}
func (m *memory) LockAutoAssign(context.Context, domain.ID) (domain.AutoAssign, error) {
	m.locks++
	return m.mode, nil
}
func (m *memory) PickAgent(context.Context, domain.ID, domain.AutoAssign) (domain.ID, bool, error) {
	m.picks++
	for u, a := range m.avail {
		if a {
			return u, true, nil
		}
	}
	return domain.ID{}, false, nil
}

type tx struct {
	m        *memory
	log      *eventstest.Memory
	receipts *receipts
}

func (t tx) repos() conversations.Repos {
	r := conversations.Repos{Conversations: t.m, Settings: t.m, Assigner: t.m, Events: t.log}
	if t.receipts != nil {
		r.Receipts = t.receipts
	}
	return r
}

func (t tx) InTx(ctx context.Context, fn func(ctx context.Context, r conversations.Repos) error) error {
	return fn(ctx, t.repos())
}

type testBundle struct {
	svc                           *conversations.Service
	m                             *memory
	log                           *eventstest.Memory
	ws                            domain.ID
	owner, manager, agent, agent2 domain.Caller
	viewer                        domain.Caller
	now                           time.Time
	unassigned, agents, agent2s   domain.ID
	receipts                      *receipts
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	b := &testBundle{ws: domain.NewID(), log: eventstest.NewMemory(), now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	b.m = &memory{convs: map[domain.ID]domain.Conversation{}, members: map[domain.ID]bool{}, avail: map[domain.ID]bool{}, mode: domain.AutoAssignOff}
	caller := func(r access.Role) domain.Caller {
		c := domain.Caller{Type: domain.ActorUser, ID: domain.NewID(), WorkspaceID: b.ws, Role: r}
		b.m.members[c.ID] = true
		return c
	}
	b.owner, b.manager, b.agent, b.agent2, b.viewer = caller(access.Owner), caller(access.Manager), caller(access.Agent), caller(access.Agent), caller(access.Viewer)
	staff := []access.Permission{access.ConversationsRead, access.ConversationsReply, access.ConversationsClose, access.ConversationsTake,
		access.NotesCreate, access.MessagesRead, access.WorkspaceRead}
	admin := append([]access.Permission{access.ConversationsAssign, access.InboxManage}, staff...)
	grants := authztest.Grants{access.Owner: admin, access.Manager: admin, access.Agent: staff,
		access.Viewer: {access.ConversationsRead, access.MessagesRead, access.WorkspaceRead}}
	b.receipts = &receipts{}
	b.svc = conversations.NewService(tx{b.m, b.log, b.receipts}, b.m, b.m, grants, func() time.Time { return b.now })
	window := b.now.Add(time.Hour)
	conv := func(assignee *domain.ID) domain.ID {
		c := domain.Conversation{ID: domain.NewID(), WorkspaceID: b.ws, ContactID: domain.NewID(), Status: domain.ConversationOpen,
			AssignedTo: assignee, UnreadCount: 3, ServiceWindowExpiresAt: &window}
		b.m.convs[c.ID] = c
		return c.ID
	}
	b.unassigned, b.agents, b.agent2s = conv(nil), conv(&b.agent.ID), conv(&b.agent2.ID)
	return b
}

func TestAssign(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("AgentTakesOnlyUnassignedForThemselves", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, err := b.svc.Assign(ctx, b.agent, b.unassigned, &b.agent2.ID)
		require.True(t, domain.IsKind(err, domain.KindForbidden))
		_, err = b.svc.Assign(ctx, b.agent, b.unassigned, nil)
		require.True(t, domain.IsKind(err, domain.KindForbidden))
		_, err = b.svc.Assign(ctx, b.agent, b.agent2s, &b.agent.ID)
		require.True(t, domain.IsKind(err, domain.KindNotFound), "another agent's conversation does not exist for them")
		_, err = b.svc.Assign(ctx, b.agent, b.agents, nil)
		require.True(t, domain.IsKind(err, domain.KindForbidden), "an agent cannot put theirs back")
		it, err := b.svc.Assign(ctx, b.agent, b.unassigned, &b.agent.ID)
		require.NoError(t, err)
		require.Equal(t, &b.agent.ID, it.AssignedTo)
		require.Len(t, b.log.Rows(b.ws), 1)
		_, err = b.svc.Assign(ctx, b.agent, b.unassigned, &b.agent.ID)
		require.NoError(t, err, "taking what is theirs again changes nothing")
		require.Len(t, b.log.Rows(b.ws), 1)
	})

	t.Run("ManagersAssignAnyMember", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		stranger := domain.NewID()
		_, err := b.svc.Assign(ctx, b.manager, b.agents, &stranger)
		require.True(t, domain.IsKind(err, domain.KindValidation))
		it, err := b.svc.Assign(ctx, b.manager, b.agents, &b.agent2.ID)
		require.NoError(t, err)
		require.Equal(t, &b.agent2.ID, it.AssignedTo)
		it, err = b.svc.Assign(ctx, b.owner, b.agents, nil)
		require.NoError(t, err)
		require.Nil(t, it.AssignedTo)
		rows := b.log.Rows(b.ws)
		require.Len(t, rows, 2)
		require.Equal(t, domain.EventConversationAssigned, rows[0].Kind)
		_, err = b.svc.Assign(ctx, b.viewer, b.agents, &b.viewer.ID)
		require.True(t, domain.IsKind(err, domain.KindForbidden))
	})
}

func TestStatusReadNotesAndWindow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)

	_, err := b.svc.SetStatus(ctx, b.agent, b.agents, "closed")
	require.True(t, domain.IsKind(err, domain.KindValidation))
	_, err = b.svc.SetStatus(ctx, b.agent, b.agent2s, "resolved")
	require.True(t, domain.IsKind(err, domain.KindNotFound))
	_, err = b.svc.SetStatus(ctx, b.viewer, b.agents, "resolved")
	require.True(t, domain.IsKind(err, domain.KindForbidden))
	it, err := b.svc.SetStatus(ctx, b.agent, b.agents, "resolved")
	require.NoError(t, err)
	require.Equal(t, domain.ConversationResolved, it.Status)

	it, err = b.svc.MarkRead(ctx, b.agent, b.agents)
	require.NoError(t, err)
	require.Zero(t, it.UnreadCount)
	require.Len(t, *b.receipts, 1, "a read receipt for the last inbound message")
	_, err = b.svc.MarkRead(ctx, b.agent, b.agents)
	require.NoError(t, err)
	require.Len(t, *b.receipts, 1, "nothing unread, nothing to tell Meta")

	_, err = b.svc.AddNote(ctx, b.agent, b.agents, "   ")
	require.True(t, domain.IsKind(err, domain.KindValidation))
	_, err = b.svc.AddNote(ctx, b.agent, b.agent2s, "psst")
	require.True(t, domain.IsKind(err, domain.KindNotFound))
	n, err := b.svc.AddNote(ctx, b.agent, b.agents, " call back at 5 ")
	require.NoError(t, err)
	require.Equal(t, "call back at 5", n.Body)
	require.Equal(t, &b.agent.ID, n.AuthorID)
	page, err := b.svc.Notes(ctx, b.viewer, b.agents, 0, domain.ID{})
	require.NoError(t, err)
	require.Len(t, page.Items, 1)
	_, err = b.svc.Notes(ctx, b.agent2, b.agents, 0, domain.ID{})
	require.True(t, domain.IsKind(err, domain.KindNotFound))
	for _, r := range b.log.Rows(b.ws) {
		require.NotContains(t, fmt.Sprint(r.Details), "call back", "a note's body is not in the log")
	}

	got, err := b.svc.Get(ctx, b.viewer, b.unassigned)
	require.NoError(t, err)
	require.True(t, got.CanSendFreeform)
	b.now = b.now.Add(2 * time.Hour)
	got, err = b.svc.Get(ctx, b.viewer, b.unassigned)
	require.NoError(t, err)
	require.False(t, got.CanSendFreeform, "the window closed")
}

func TestSettings(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	_, err := b.svc.SetInboxSettings(ctx, b.agent, "round_robin")
	require.True(t, domain.IsKind(err, domain.KindForbidden))
	_, err = b.svc.SetInboxSettings(ctx, b.owner, "sometimes")
	require.True(t, domain.IsKind(err, domain.KindValidation))
	_, err = b.svc.SetInboxSettings(ctx, b.owner, "round_robin")
	require.NoError(t, err)
	_, err = b.svc.SetInboxSettings(ctx, b.owner, "round_robin")
	require.NoError(t, err)
	require.Len(t, b.log.Rows(b.ws), 1, "no event when nothing changed")
	mode, err := b.svc.InboxSettings(ctx, b.viewer)
	require.NoError(t, err)
	require.Equal(t, domain.AutoAssignRoundRobin, mode)

	require.NoError(t, b.svc.SetAvailable(ctx, b.agent, false))
	require.False(t, b.m.avail[b.agent.ID])
	require.True(t, domain.IsKind(b.svc.SetAvailable(ctx, b.viewer, false), domain.KindForbidden))
	key := b.agent
	key.Type = domain.ActorAPIKey
	require.True(t, domain.IsKind(b.svc.SetAvailable(ctx, key, false), domain.KindForbidden))
}

func TestReceiverAutoAssignsOnlyWhatAMessageOpened(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	b.m.avail[b.agent.ID] = true
	r := conversations.InTx(tx{m: b.m, log: b.log}.repos())
	msg := domain.Message{WorkspaceID: b.ws, Type: "text"}
	base := b.m.convs[b.unassigned]

	cases := []struct {
		name   string
		opened conversations.Opened
		picks  int
	}{
		{"auto-assignment off", conversations.Opened{Conversation: base, Opened: true, AutoAssign: domain.AutoAssignOff}, 0},
		{"a message on a conversation already open", conversations.Opened{Conversation: base, AutoAssign: domain.AutoAssignRoundRobin}, 0},
		{"opened but assigned (the contact's agent)", conversations.Opened{Conversation: b.m.convs[b.agents], Opened: true, AutoAssign: domain.AutoAssignLeastBusy}, 0},
		{"opened and unassigned", conversations.Opened{Conversation: base, Opened: true, AutoAssign: domain.AutoAssignRoundRobin}, 1},
	}
	for _, c := range cases {
		b.m.mode, b.m.opened, b.m.picks = c.opened.AutoAssign, c.opened, 0
		require.NoError(t, r.Received(ctx, []domain.Arrival{{Message: msg, Touch: true}}, b.now), c.name)
		require.Equal(t, c.picks, b.m.picks, c.name)
	}
	require.Equal(t, &b.agent.ID, b.m.convs[b.unassigned].AssignedTo)
	rows := b.log.Rows(b.ws)
	require.Len(t, rows, 1)
	require.Equal(t, domain.ActorSystem, rows[0].ActorType)

	// Switched off between the message and the lock: nothing is picked.
	b.m.convs[b.unassigned] = base
	b.m.opened, b.m.mode, b.m.picks = conversations.Opened{Conversation: base, Opened: true, AutoAssign: domain.AutoAssignRoundRobin}, domain.AutoAssignOff, 0
	require.NoError(t, r.Received(ctx, []domain.Arrival{{Message: msg, Touch: true}}, b.now))
	require.Zero(t, b.m.picks)
}

// A batch's messages reach the store summed per conversation: one row per contact and
// number, every message counted, the newest one previewed, and only what the customer
// wrote moving the window.
func TestReceiverSumsABatchPerConversation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	r := conversations.InTx(tx{m: b.m, log: b.log}.repos())
	b.m.opened = conversations.Opened{Conversation: b.m.convs[b.unassigned]}
	alice, bob := domain.NewID(), domain.NewID()
	at := func(min int) time.Time { return b.now.Add(time.Duration(min) * time.Minute) }
	text := func(contact domain.ID, number, body string, when time.Time) domain.Message {
		return domain.Message{WorkspaceID: b.ws, ContactID: contact, PhoneNumberID: number, Type: "text",
			Content: []byte(`{"body":"` + body + `"}`), CreatedAt: when}
	}
	notice := text(alice, "1", "", at(9))
	notice.Type = "system"
	require.NoError(t, r.Received(context.Background(), []domain.Arrival{
		{Message: text(alice, "1", "second", at(2)), Touch: true},
		{Message: text(bob, "1", "hello", at(1)), Touch: true},
		{Message: text(alice, "1", "first", at(1)), Touch: true}, // late: not the preview
		{Message: text(alice, "2", "other number", at(3)), Touch: true},
		{Message: notice}, // newest, but not the customer writing
	}, b.now))
	ptr := func(t time.Time) *time.Time { return &t }
	require.Equal(t, []conversations.Inbound{
		{WorkspaceID: b.ws, ContactID: alice, PhoneNumberID: "1", Count: 3, LastAt: at(9), Preview: "[system]",
			InboundAt: ptr(at(2))},
		{WorkspaceID: b.ws, ContactID: bob, PhoneNumberID: "1", Count: 1, LastAt: at(1), Preview: "hello",
			InboundAt: ptr(at(1))},
		{WorkspaceID: b.ws, ContactID: alice, PhoneNumberID: "2", Count: 1, LastAt: at(3), Preview: "other number",
			InboundAt: ptr(at(3))},
	}, b.m.received)
}

// Two conversations of a workspace opened in one batch: the workspace is locked once, an
// agent picked for each, and their assignments appended together.
func TestReceiverLocksTheWorkspaceOncePerBatch(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.m.avail[b.agent.ID] = true
	b.m.mode = domain.AutoAssignRoundRobin
	r := conversations.InTx(tx{m: b.m, log: b.log}.repos())
	one := b.m.convs[b.unassigned]
	two := one
	two.ID = domain.NewID()
	b.m.convs[two.ID] = two
	b.m.batch = []conversations.Opened{
		{Conversation: one, Opened: true, AutoAssign: domain.AutoAssignRoundRobin},
		{Conversation: two, Opened: true, AutoAssign: domain.AutoAssignRoundRobin},
	}
	require.NoError(t, r.Received(context.Background(), []domain.Arrival{{Message: domain.Message{WorkspaceID: b.ws, Type: "text"}, Touch: true}}, b.now))
	require.Equal(t, 1, b.m.locks)
	require.Equal(t, 2, b.m.picks)
	require.Len(t, b.log.Rows(b.ws), 2)
	require.Equal(t, &b.agent.ID, b.m.convs[two.ID].AssignedTo)
}
