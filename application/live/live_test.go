package live_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/application/authz/authztest"
	"github.com/wabaplatform/waba/application/events"
	"github.com/wabaplatform/waba/application/live"
	"github.com/wabaplatform/waba/domain"
	"github.com/wabaplatform/waba/domain/access"
)

// feed is an in-memory log: entries in order, all visible.
type feed struct {
	mu      sync.Mutex
	entries []live.Entry
	reads   int
}

func (f *feed) add(e live.Entry) events.Position {
	f.mu.Lock()
	defer f.mu.Unlock()
	e.Tx, e.ID = uint64(len(f.entries)+1), int64(len(f.entries)+1)
	f.entries = append(f.entries, e)
	return e.Position()
}

func (f *feed) Tail(context.Context) (events.Position, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.entries) == 0 {
		return events.Position{}, nil
	}
	return f.entries[len(f.entries)-1].Position(), nil
}

func (f *feed) After(_ context.Context, p events.Position, ws domain.ID, kinds []domain.EventKind, limit int) ([]live.Entry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	var out []live.Entry
	for _, e := range f.entries {
		if !p.Before(e.Position()) || (!ws.IsZero() && e.WorkspaceID != ws) {
			continue
		}
		for _, k := range kinds {
			if k == e.Kind {
				out = append(out, e)
				break
			}
		}
		if len(out) == limit {
			break
		}
	}
	return out, nil
}

func (f *feed) At(_ context.Context, ws domain.ID, p events.Position) (time.Time, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, e := range f.entries {
		if e.Position() == p && e.WorkspaceID == ws {
			return e.At, true, nil
		}
	}
	return time.Time{}, false, nil
}

type bundle struct {
	feed            *feed
	hub             *live.Hub
	svc             *live.Service
	ws, other       domain.ID
	ann, bob, owner domain.Caller
	now             time.Time
}

func setup(t *testing.T) *bundle {
	t.Helper()
	b := &bundle{feed: &feed{}, ws: domain.NewID(), other: domain.NewID(), now: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)}
	b.hub = live.NewHub(b.feed, slog.New(slog.NewTextHandler(io.Discard, nil)))
	read := []access.Permission{access.ConversationsRead}
	b.svc = live.NewService(b.hub, b.feed, authztest.Grants{access.Owner: read, access.Agent: read}, func() time.Time { return b.now })
	caller := func(r access.Role) domain.Caller {
		return domain.Caller{Type: domain.ActorUser, ID: domain.NewID(), WorkspaceID: b.ws, Role: r}
	}
	b.ann, b.bob, b.owner = caller(access.Agent), caller(access.Agent), caller(access.Owner)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); b.hub.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return b
}

// message is a message event of conv (assigned to agent, nil: nobody) in ws.
func (b *bundle) message(ws domain.ID, conv domain.ID, agent *domain.ID) events.Position {
	c := domain.NewID()
	return b.feed.add(live.Entry{Logged: events.Logged{WorkspaceID: ws, Kind: domain.EventMessageReceived, ContactID: &c,
		Payload: json.RawMessage(`{"type":"text"}`), At: b.now}, ConversationID: &conv, ConversationAssignee: agent})
}

// backlog opens an owner's stream resuming after id and reads its whole backlog.
func (b *bundle) backlog(t *testing.T, id string) []events.Position {
	t.Helper()
	ctx := context.Background()
	st, err := b.svc.Open(ctx, b.owner, id)
	require.NoError(t, err)
	defer st.Close()
	var out []events.Position
	for {
		page, err := st.Backlog(ctx)
		require.NoError(t, err)
		if len(page) == 0 {
			return out
		}
		for _, ev := range page {
			out = append(out, ev.Pos)
		}
	}
}

func next(t *testing.T, st *live.Stream) *live.Event {
	t.Helper()
	select {
	case ev, ok := <-st.Live():
		require.True(t, ok, "stream ended: %v", st.Err())
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no event")
		return nil
	}
}

func TestStreamsSeeWhatTheirCallerMay(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	ann, err := b.svc.Open(ctx, b.ann, "")
	require.NoError(t, err)
	owner, err := b.svc.Open(ctx, b.owner, "")
	require.NoError(t, err)

	annConv, bobConv, queue := domain.NewID(), domain.NewID(), domain.NewID()
	b.message(b.ws, bobConv, &b.bob.ID)
	b.message(b.other, domain.NewID(), nil) // another workspace
	contact := domain.NewID()
	b.feed.add(live.Entry{Logged: events.Logged{WorkspaceID: b.ws, Kind: domain.EventContactUpdated, ContactID: &contact,
		Payload: json.RawMessage(`{}`), At: b.now}}) // a contact nobody has: not an agent's
	b.feed.add(live.Entry{Logged: events.Logged{WorkspaceID: b.ws, Kind: domain.EventLoginFailed, At: b.now}}) // not carried
	mine := b.message(b.ws, annConv, &b.ann.ID)
	unassigned := b.message(b.ws, queue, nil)
	// Bob hands his conversation to Ann: she is a party to it.
	handed := b.feed.add(live.Entry{Logged: events.Logged{WorkspaceID: b.ws, Kind: domain.EventConversationAssigned, At: b.now,
		Payload: json.RawMessage(`{"from":"` + b.bob.ID.String() + `","to":"` + b.ann.ID.String() + `"}`)},
		ConversationID: &bobConv, ConversationAssignee: &b.ann.ID})
	b.hub.Wake()

	sentinel := b.message(b.ws, domain.NewID(), nil)
	b.hub.Wake()

	// Ann: her conversation, the queue, the hand-over to her; nothing of Bob's, of the
	// contact nobody has, of the other workspace.
	for _, want := range []events.Position{mine, unassigned, handed, sentinel} {
		ev := next(t, ann)
		require.Equal(t, want, ev.Pos)
		require.True(t, ann.Fresh(ev))
	}
	var names []string
	for range 6 {
		names = append(names, next(t, owner).Name)
	}
	require.Equal(t, []string{"message.created", "contact.updated", "message.created", "message.created",
		"conversation.assigned", "message.created"}, names, "the owner sees every carried event of the workspace")

	var d struct {
		Kind           string          `json:"kind"`
		ConversationID *domain.ID      `json:"conversation_id"`
		Details        json.RawMessage `json:"details"`
	}
	b.message(b.ws, queue, nil)
	b.hub.Wake()
	require.NoError(t, json.Unmarshal(next(t, ann).Data, &d))
	require.Equal(t, "message.received", d.Kind)
	require.Equal(t, queue, *d.ConversationID)
	require.JSONEq(t, `{"type":"text"}`, string(d.Details))
}

func TestASlowStreamIsDroppedAndOthersGoOn(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	slow, err := b.svc.Open(ctx, b.owner, "")
	require.NoError(t, err)
	fast, err := b.svc.Open(ctx, b.owner, "")
	require.NoError(t, err)
	conv := domain.NewID()
	var last events.Position
	for range live.Buffer + 10 {
		last = b.message(b.ws, conv, nil)
		b.hub.Wake()
		// The fast one reads as the events come; the slow one never does.
		require.True(t, fast.Fresh(next(t, fast)))
	}
	require.Eventually(t, func() bool {
		select {
		case _, ok := <-slow.Live():
			return !ok
		default:
			return false
		}
	}, 5*time.Second, time.Millisecond, "drained to the drop")
	for range slow.Live() { // what was buffered before the drop
	}
	require.ErrorIs(t, slow.Err(), live.ErrSlow)
	require.Equal(t, 1, b.hub.Subscribers())

	// It resumes after the last event it got and catches up from the log.
	got := b.backlog(t, live.FormatID(events.Position{Tx: 1, ID: 1}))
	require.Len(t, got, live.Buffer+9)
	require.Equal(t, last, got[len(got)-1])
}

func TestResumeOnlyWithinTheWindowAndTheWorkspace(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	conv := domain.NewID()
	first := b.message(b.ws, conv, nil)
	second := b.message(b.ws, conv, nil)
	elsewhere := b.message(b.other, conv, nil)
	third := b.message(b.ws, conv, nil)
	// The hub starts at the log's end; wait until it knows it.
	st, err := b.svc.Open(ctx, b.owner, "")
	require.NoError(t, err)
	st.Close()

	backlog := func(id string) []events.Position { return b.backlog(t, id) }
	require.Equal(t, []events.Position{second, third}, backlog(live.FormatID(first)))
	require.Empty(t, backlog(live.FormatID(elsewhere)), "another workspace's event resumes nothing")
	for _, bad := range []string{"", "garbage", "1-", "-1", "0-1", "1-0", "18446744073709551616-1", "1-2-3"} {
		require.Empty(t, backlog(bad), bad)
	}
	b.now = b.now.Add(live.ResumeWindow)
	require.Empty(t, backlog(live.FormatID(first)), "24 hours old: no replay")
}

func TestOpenNeedsTheReadPermissionAndCloseEndsStreams(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	_, err := b.svc.Open(ctx, domain.Caller{WorkspaceID: b.ws}, "")
	require.True(t, domain.IsKind(err, domain.KindForbidden), "%v", err)
	st, err := b.svc.Open(ctx, b.ann, "")
	require.NoError(t, err)
	b.hub.Close()
	_, ok := <-st.Live()
	require.False(t, ok)
	require.ErrorIs(t, st.Err(), live.ErrClosed)
	_, err = b.svc.Open(ctx, b.ann, "")
	require.ErrorIs(t, err, live.ErrClosed)
}

func TestEventIDs(t *testing.T) {
	t.Parallel()
	p := events.Position{Tx: 18446744073709551615, ID: 9223372036854775807}
	got, ok := live.ParseID(live.FormatID(p))
	require.True(t, ok)
	require.Equal(t, p, got)
}

func TestAMembershipChangeEndsTheMembersStreams(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	ann, err := b.svc.Open(ctx, b.ann, "")
	require.NoError(t, err)
	bob, err := b.svc.Open(ctx, b.bob, "")
	require.NoError(t, err)
	b.feed.add(live.Entry{Logged: events.Logged{WorkspaceID: b.ws, Kind: domain.EventMemberRoleChanged, ResourceType: "member",
		ResourceID: b.ann.ID.String(), At: b.now}})
	after := b.message(b.ws, domain.NewID(), nil)
	b.hub.Wake()
	require.Equal(t, after, next(t, bob).Pos, "another member's stream goes on, and the change is not sent")
	_, ok := <-ann.Live()
	require.False(t, ok)
	require.ErrorIs(t, ann.Err(), live.ErrRevoked)
}

// A campaign's events reach the workspace's streams as campaign.updated with the campaign's
// id, except agents' (agents do not read campaigns).
func TestCampaignEventsAreNotAgents(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	ann, err := b.svc.Open(ctx, b.ann, "")
	require.NoError(t, err)
	owner, err := b.svc.Open(ctx, b.owner, "")
	require.NoError(t, err)
	campaign := domain.NewID()
	b.feed.add(live.Entry{Logged: events.Logged{WorkspaceID: b.ws, Kind: domain.EventCampaignPaused, ResourceType: "campaign",
		ResourceID: campaign.String(), Payload: json.RawMessage(`{"status":"paused"}`), At: b.now}})
	sentinel := b.message(b.ws, domain.NewID(), nil)
	b.hub.Wake()
	ev := next(t, owner)
	require.Equal(t, "campaign.updated", ev.Name)
	var d struct {
		Kind       string    `json:"kind"`
		CampaignID domain.ID `json:"campaign_id"`
	}
	require.NoError(t, json.Unmarshal(ev.Data, &d))
	require.Equal(t, "campaign.paused", d.Kind)
	require.Equal(t, campaign, d.CampaignID)
	require.Equal(t, sentinel, next(t, ann).Pos, "the agent's next event is the sentinel")
}
