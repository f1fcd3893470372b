package postgres_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/adapters/postgres"
	"github.com/wabaplatform/waba/adapters/postgres/pgtest"
	"github.com/wabaplatform/waba/application/events"
	"github.com/wabaplatform/waba/application/events/eventstest"
	"github.com/wabaplatform/waba/domain"
)

// eventRows reads the event log of ws (NilID: outside any workspace), oldest first.
func eventRows(t *testing.T, pool *pgxpool.Pool, ws domain.ID) []eventstest.Row {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT coalesce(workspace_id, '00000000-0000-0000-0000-000000000000'),
		kind, actor_type, contact_id, message_id, payload
		FROM events WHERE workspace_id IS NOT DISTINCT FROM $1 ORDER BY id`, nilIfZero(ws))
	require.NoError(t, err)
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (eventstest.Row, error) {
		var r eventstest.Row
		var kind, actor string
		err := row.Scan(&r.WorkspaceID, &kind, &actor, &r.ContactID, &r.MessageID, &r.Details)
		r.Kind, r.ActorType = domain.EventKind(kind), domain.ActorType(actor)
		return r, err
	})
	require.NoError(t, err)
	if len(out) == 0 {
		return nil
	}
	return out
}

// auditActions is the audit trail of ws as actions, oldest first, without the workspace's
// creation (the fixtures create workspaces without the use case).
func auditActions(t *testing.T, pool *pgxpool.Pool, ws domain.ID) []string {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT action FROM audit_logs WHERE workspace_id = $1
		AND action <> 'workspace.created' ORDER BY id`, ws)
	require.NoError(t, err)
	actions, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	return actions
}

func nilIfZero(id domain.ID) *domain.ID {
	if id.IsZero() {
		return nil
	}
	return &id
}

func TestEventLogContract(t *testing.T) {
	t.Parallel()
	eventstest.RunContract(t, func(t *testing.T) eventstest.Subject {
		pool := pgtest.NewPool(t)
		wr := postgres.NewWorkspaceRepo(pool)
		return eventstest.Subject{
			Log:       postgres.NewEventLog(pool),
			Workspace: func(t *testing.T) domain.ID { return createWorkspace(t, wr, "Acme").ID },
			Rows:      func(t *testing.T, ws domain.ID) []eventstest.Row { return eventRows(t, pool, ws) },
			Actions:   func(t *testing.T, ws domain.ID) []string { return auditActions(t, pool, ws) },
		}
	})
}

// recorder is a subscriber that keeps what it is handed, failing while fail is set.
type recorder struct {
	name string
	mu   sync.Mutex
	got  []events.Logged
	fail error
}

func (r *recorder) Name() string { return r.name }

func (r *recorder) Handle(_ context.Context, batch []events.Logged) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	r.got = append(r.got, batch...)
	return nil
}

func (r *recorder) kinds() []domain.EventKind {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []domain.EventKind
	for _, e := range r.got {
		out = append(out, e.Kind)
	}
	return out
}

func TestSubscribersReadAtTheirOwnPosition(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	ws := createWorkspace(t, postgres.NewWorkspaceRepo(pool), "Acme").ID
	owner := domain.Caller{Type: domain.ActorUser, ID: domain.NewID(), WorkspaceID: ws}
	appendIn := func(tx pgx.Tx, e domain.Event) error {
		return postgres.NewEventLog(tx).Append(ctx, domain.Occurred(owner, time.Now(), e))
	}
	contact := domain.NewID()

	fast, broken := &recorder{name: "fast"}, &recorder{name: "broken", fail: errors.New("down")}
	d := events.NewDispatcher(postgres.NewTxRunner(pool, func(tx pgx.Tx) events.Positions {
		return postgres.NewEventPositions(tx)
	}), []events.Subscriber{fast, broken}, time.Now)
	drain := func(name string) error {
		for {
			more, err := d.Deliver(ctx, name)
			if err != nil || !more {
				return err
			}
		}
	}
	// awaitDrain drains until r holds n events. Reading waits for every older transaction
	// of the whole server to end, and parallel tests run theirs (CREATE DATABASE too).
	awaitDrain := func(r *recorder, n int) {
		t.Helper()
		var err error
		require.Eventually(t, func() bool {
			err = drain(r.name)
			return err != nil || len(r.kinds()) >= n
		}, 10*time.Second, 10*time.Millisecond)
		require.NoError(t, err)
		require.NoError(t, drain(r.name))
		require.Len(t, r.kinds(), n)
	}

	// A transaction that took its id first but commits last: a reader must not pass it.
	slow, err := pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = slow.Rollback(ctx) }()
	require.NoError(t, appendIn(slow, domain.ContactCreated{ContactID: contact, Phone: "+14155550100"}))
	require.NoError(t, pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		return appendIn(tx, domain.ContactUpdated{ContactID: contact, Fields: []string{"name"}})
	}))
	require.NoError(t, drain("fast"))
	require.Empty(t, fast.kinds(), "the later event waits for the earlier transaction")
	require.NoError(t, slow.Commit(ctx))

	awaitDrain(fast, 2)
	require.Equal(t, []domain.EventKind{domain.EventContactCreated, domain.EventContactUpdated}, fast.kinds(),
		"in the order of the transactions' ids")
	require.Error(t, drain("broken"))
	require.Empty(t, broken.kinds())

	// The failing subscriber holds back only itself; once it recovers it starts where it was.
	require.NoError(t, pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		return appendIn(tx, domain.ContactDeleted{ContactID: contact, Phone: "+14155550100"})
	}))
	awaitDrain(fast, 3)
	broken.mu.Lock()
	broken.fail = nil
	broken.mu.Unlock()
	awaitDrain(broken, 3)
	require.Equal(t, fast.kinds(), broken.kinds())
	require.NoError(t, drain("fast"))
	require.Len(t, fast.kinds(), 3, "delivered once")

	got := fast.got[2]
	require.Equal(t, ws, got.WorkspaceID)
	require.Equal(t, domain.ActorUser, got.ActorType)
	require.Equal(t, owner.ID.String(), got.ActorID)
	require.Equal(t, []string{"contact", contact.String()}, []string{got.ResourceType, got.ResourceID})
	require.Nil(t, got.ContactID, "an erased contact leaves no feed entry")
	require.JSONEq(t, `{"phone":"+14155550100"}`, string(got.Payload))

	// While one transaction serves a subscriber, another leaves it alone.
	require.NoError(t, pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		_, ok, err := postgres.NewEventPositions(tx).Claim(ctx, "fast")
		require.True(t, ok)
		require.NoError(t, err)
		more, err := d.Deliver(ctx, "fast")
		require.False(t, more)
		return err
	}))
	_, err = d.Deliver(ctx, "nobody")
	require.Equal(t, domain.KindNotFound, domain.KindOf(err))
}

func TestPruneKeepsWhatASubscriberHasNotRead(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	ws := createWorkspace(t, postgres.NewWorkspaceRepo(pool), "Acme").ID
	log := postgres.NewEventLog(pool)
	old := time.Now().Add(-events.Retention - time.Hour)
	add := func(at time.Time) {
		require.NoError(t, log.Append(ctx, domain.Occurred(domain.Caller{Type: domain.ActorSystem, WorkspaceID: ws}, at,
			domain.ContactUpdated{ContactID: domain.NewID(), Fields: []string{"name"}})))
	}
	prune := func(names ...string) int {
		var n int
		require.NoError(t, pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			var err error
			n, err = postgres.NewEventPositions(tx).Prune(ctx, time.Now().Add(-events.Retention), names, 10)
			return err
		}))
		return n
	}
	move := func(name string, upTo int) {
		require.NoError(t, pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			ps := postgres.NewEventPositions(tx)
			p, _, err := ps.Claim(ctx, name)
			require.NoError(t, err)
			var batch []events.Logged
			require.Eventually(t, func() bool { // reading waits for older transactions server-wide
				batch, err = ps.After(ctx, p, upTo)
				return err != nil || len(batch) == upTo
			}, 10*time.Second, 10*time.Millisecond)
			if err != nil {
				return err
			}
			return ps.Move(ctx, name, batch[upTo-1].Position())
		}))
	}
	for range 3 {
		add(old)
	}
	add(time.Now())

	require.Zero(t, prune("a", "b"), "neither has a position")
	move("a", 3)
	require.Zero(t, prune("a", "b"), "b has read nothing")
	move("b", 2)
	require.Equal(t, 2, prune("a", "b"), "what both have read")
	require.Len(t, eventRows(t, pool, ws), 2)
	move("b", 2) // b reads on: the old event it had not read is still there, then the young one
	require.Equal(t, 1, prune("a", "b"))
	require.Equal(t, 0, prune(), "the young one stays even without subscribers")
	require.Len(t, eventRows(t, pool, ws), 1)
}
