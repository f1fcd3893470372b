package postgres_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/adapters/postgres"
	"github.com/wabaplatform/waba/adapters/postgres/pgtest"
	"github.com/wabaplatform/waba/domain"
)

func TestMessageRepoQueue(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	ws := createWorkspace(t, postgres.NewWorkspaceRepo(pool), "Acme")
	c := domain.Contact{ID: domain.NewID(), WorkspaceID: ws.ID, Phone: "+14155550100", Tags: []string{},
		Attributes: map[string]any{}, CreatedAt: now(), UpdatedAt: now()}
	_, err := postgres.NewContactRepo(pool).Create(ctx, c)
	require.NoError(t, err)
	repo := postgres.NewMessageRepo(pool)
	caller := domain.Caller{Type: domain.ActorUser, ID: domain.NewID(), WorkspaceID: ws.ID}
	queued := func(m domain.Message) domain.AuditEntry {
		return domain.NewAuditEntry(caller, "message.queued", "message", m.ID.String(), map[string]any{"type": m.Type}, now())
	}
	count := func(sql string, args ...any) int {
		var n int
		require.NoError(t, pool.QueryRow(ctx, sql, args...).Scan(&n))
		return n
	}

	m := domain.Message{ID: domain.NewID(), WorkspaceID: ws.ID, ContactID: c.ID, PhoneNumberID: "1065", Type: "text",
		Content: json.RawMessage(`{"body":"hi"}`), Status: domain.StatusQueued, CreatedAt: now()}
	require.NoError(t, repo.Queue(ctx, m, queued(m)))
	got, err := repo.GetMessage(ctx, ws.ID, m.ID)
	require.NoError(t, err)
	require.Equal(t, domain.StatusQueued, got.Status)
	require.Equal(t, 1, count(`SELECT count(*) FROM audit_logs WHERE workspace_id = $1 AND resource_id = $2 AND action = 'message.queued'`,
		ws.ID, m.ID.String()))

	// Both statements or neither: a message that cannot be stored (its id is taken) leaves
	// no audit entry.
	again := queued(m)
	require.Error(t, repo.Queue(ctx, m, again))
	require.Zero(t, count(`SELECT count(*) FROM audit_logs WHERE id = $1`, again.ID))
	// ... and an audit entry that cannot be stored (its id is taken) leaves no message.
	other := m
	other.ID = domain.NewID()
	taken := queued(other)
	taken.ID = again.ID
	require.NoError(t, postgres.NewAuditRepo(pool).Record(ctx, taken))
	require.Error(t, repo.Queue(ctx, other, taken))
	require.Zero(t, count(`SELECT count(*) FROM messages WHERE workspace_id = $1 AND id = $2`, ws.ID, other.ID))
}

// MarkFailed's WHERE clause mirrors domain.MessageStatus.Advance(StatusFailed): whatever
// status a message has, the stored result is the one Advance gives.
func TestMarkFailedMirrorsAdvance(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	ws := createWorkspace(t, postgres.NewWorkspaceRepo(pool), "Acme")
	repo := postgres.NewMessageRepo(pool)
	for _, s := range []domain.MessageStatus{domain.StatusQueued, domain.StatusSent, domain.StatusDelivered,
		domain.StatusRead, domain.StatusFailed, domain.StatusReceived} {
		m := domain.Message{ID: domain.NewID(), WorkspaceID: ws.ID, ContactID: domain.NewID(), PhoneNumberID: "1065", Type: "text",
			Content: json.RawMessage(`{"body":"hi"}`), Status: s, CreatedAt: now()}
		require.NoError(t, repo.Queue(ctx, m, domain.NewAuditEntry(domain.Caller{Type: domain.ActorSystem, WorkspaceID: ws.ID},
			"message.queued", "message", m.ID.String(), nil, now())))
		require.NoError(t, repo.MarkFailed(ctx, ws.ID, m.ID, domain.MessageError{Title: "x"}, now()))
		got, err := repo.Status(ctx, ws.ID, m.ID)
		require.NoError(t, err)
		require.Equal(t, s.Advance(domain.StatusFailed), got, "from %s", s)
	}
}
