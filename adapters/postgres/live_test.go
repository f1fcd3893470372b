package postgres_test

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/adapters/postgres"
	"github.com/wabaplatform/waba/application/events"
	"github.com/wabaplatform/waba/application/live"
	"github.com/wabaplatform/waba/domain"
)

var _ live.Feed = (*postgres.LiveFeed)(nil)

// The feed resolves each event's conversation and who has it now, from a message (its
// contact and number), a conversation event (its resource) and a note (its payload); a
// contact event carries the contact's assignee.
func TestLiveFeed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupConversations(t, 1)
	feed := postgres.NewLiveFeed(b.pool)
	agent := b.agents[0]

	tail, err := feed.Tail(ctx)
	require.NoError(t, err)
	require.Equal(t, events.Position{}, tail, "an empty log")

	ct := b.contact(t)
	cv := b.receive(t, ct, "hi", 1, true).Conversation
	cv.AssignedTo = &agent
	require.NoError(t, b.repo.Update(ctx, cv))
	msg := inboundTo(b.ws, ct, "hi")
	_, err = b.pool.Exec(ctx, `INSERT INTO messages (workspace_id, id, contact_id, phone_number_id, direction, type, status, created_at)
		VALUES ($1, $2, $3, $4, 'inbound', 'text', 'received', now())`, b.ws, msg.ID, ct, msg.PhoneNumberID)
	require.NoError(t, err)
	log := postgres.NewEventLog(b.pool)
	owner := domain.SystemIn(b.ws)
	note := domain.NewID()
	require.NoError(t, log.Append(ctx,
		domain.Occurred(owner, now(), domain.MessageReceived{MessageID: msg.ID, ContactID: ct, WAMID: "wamid.L1", Type: "text"}),
		domain.Occurred(owner, now(), domain.ConversationStatusChanged{ConversationID: cv.ID, ContactID: ct,
			Status: domain.ConversationResolved, Previous: domain.ConversationOpen}),
		domain.Occurred(owner, now(), domain.NoteCreated{NoteID: note, ConversationID: cv.ID, ContactID: ct}),
		domain.Occurred(owner, now(), domain.ContactUpdated{ContactID: ct}),
		domain.Occurred(domain.SystemIn(domain.NewID()), now(), domain.ContactUpdated{ContactID: domain.NewID()}),
	))

	// Other tests' transactions on this server can hold the events back a moment (the
	// xmin rule of the log's readers).
	var got []live.Entry
	require.Eventually(t, func() bool {
		got, err = feed.After(ctx, tail, b.ws, live.Kinds(), 10)
		require.NoError(t, err)
		return len(got) == 4
	}, 10*time.Second, 10*time.Millisecond, "the workspace's four events; the other workspace's is not read")
	for _, e := range got[:3] {
		require.Equal(t, &cv.ID, e.ConversationID, "%s", e.Kind)
		require.Equal(t, &agent, e.ConversationAssignee, "%s", e.Kind)
	}
	require.Nil(t, got[3].ConversationID)
	require.Equal(t, &agent, got[3].ContactAssignee, "the contact took its conversation's assignee")

	var all []live.Entry
	require.Eventually(t, func() bool {
		all, err = feed.After(ctx, tail, domain.NilID, live.Kinds(), 10)
		require.NoError(t, err)
		return len(all) == 5
	}, 10*time.Second, 10*time.Millisecond)
	page, err := feed.After(ctx, got[1].Position(), b.ws, live.Kinds(), 1)
	require.NoError(t, err)
	require.Equal(t, got[2].Position(), page[0].Position())

	end, err := feed.Tail(ctx)
	require.NoError(t, err)
	require.False(t, all[4].Position().Before(end), "the tail is the newest readable event")

	at, ok, err := feed.At(ctx, b.ws, got[0].Position())
	require.NoError(t, err)
	require.True(t, ok)
	require.WithinDuration(t, now(), at, time.Minute)
	_, ok, err = feed.At(ctx, b.ws, all[4].Position())
	require.NoError(t, err)
	require.False(t, ok, "another workspace's event")
}

// An announcement wakes every listener: one NOTIFY, sent outside the transactions that
// asked for it.
func TestAnnouncementsWakeListeners(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b := setupConversations(t, 0)
	discard := slog.New(slog.NewTextHandler(io.Discard, nil))
	wakes := [2]chan struct{}{make(chan struct{}, 100), make(chan struct{}, 100)}
	var running sync.WaitGroup
	for _, w := range wakes {
		running.Add(1)
		go func() { defer running.Done(); postgres.Listen(ctx, b.pool, discard, func() { w <- struct{}{} }) }()
	}
	an := postgres.NewAnnouncer(b.pool, discard)
	running.Add(1)
	go func() { defer running.Done(); an.Run(ctx) }()
	for _, w := range wakes {
		select {
		case <-w: // once on connecting
		case <-time.After(10 * time.Second):
			t.Fatal("never connected")
		}
	}
	runner := postgres.NewTxRunner(b.pool, func(tx pgx.Tx) pgx.Tx { return tx }).Announcing(an)
	require.NoError(t, runner.InTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		return postgres.NewEventLog(tx).Append(ctx, domain.Occurred(domain.SystemIn(b.ws), now(), domain.ContactUpdated{ContactID: b.contact(t)}))
	}))
	for _, w := range wakes {
		select {
		case <-w:
		case <-time.After(10 * time.Second):
			t.Fatal("no notification after the commit")
		}
	}
	cancel()
	running.Wait()
}

// The feed reads below the oldest transaction of its own database still running: one open
// here holds back what committed after it began, until it ends; one open in another
// database of the server holds back nothing.
func TestLiveFeedHorizonIsTheDatabases(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupConversations(t, 0)
	feed := postgres.NewLiveFeed(b.pool)
	start, err := feed.Tail(ctx)
	require.NoError(t, err)
	appendOne := func() {
		t.Helper()
		require.NoError(t, postgres.NewEventLog(b.pool).Append(ctx,
			domain.Occurred(domain.SystemIn(b.ws), now(), domain.ContactUpdated{ContactID: b.contact(t)})))
	}
	read := func() int {
		t.Helper()
		got, err := feed.After(ctx, start, b.ws, live.Kinds(), 10)
		require.NoError(t, err)
		return len(got)
	}

	elsewhere, err := setupConversations(t, 0).pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = elsewhere.Rollback(ctx) }()
	_, err = elsewhere.Exec(ctx, `CREATE TABLE held (id int)`) // takes a transaction id
	require.NoError(t, err)
	appendOne()
	require.Equal(t, 1, read(), "another database's open transaction holds nothing back")

	here, err := b.pool.Begin(ctx)
	require.NoError(t, err)
	_, err = here.Exec(ctx, `CREATE TABLE held (id int)`)
	require.NoError(t, err)
	appendOne()
	require.Equal(t, 1, read(), "held back behind this database's open transaction")
	require.NoError(t, here.Commit(ctx))
	require.Equal(t, 2, read())
}
