package postgres_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/adapters/postgres"
	"github.com/wabaplatform/waba/adapters/postgres/pgtest"
	"github.com/wabaplatform/waba/application/events/eventstest"
	"github.com/wabaplatform/waba/application/messaging"
	"github.com/wabaplatform/waba/application/messaging/messagingtest"
	"github.com/wabaplatform/waba/application/templates"
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
	queued := func(m domain.Message) domain.Occurrence {
		return domain.Occurred(caller, now(), domain.MessageQueued{MessageID: m.ID, ContactID: m.ContactID, Type: m.Type})
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

	require.Equal(t, 1, count(`SELECT count(*) FROM events WHERE workspace_id = $1 AND message_id = $2 AND kind = 'message.queued'`,
		ws.ID, m.ID))

	// All statements or none: a message that cannot be stored (its id is taken) leaves no
	// event and no audit entry.
	require.Error(t, repo.Queue(ctx, m, queued(m)))
	require.Equal(t, 1, count(`SELECT count(*) FROM audit_logs WHERE resource_id = $1`, m.ID.String()))
	require.Equal(t, 1, count(`SELECT count(*) FROM events WHERE message_id = $1`, m.ID))
}

func TestSendPortsContract(t *testing.T) {
	t.Parallel()
	messagingtest.RunSendContract(t, func(t *testing.T) messagingtest.SendSubject {
		ctx := context.Background()
		pool := pgtest.NewPool(t)
		wr := postgres.NewWorkspaceRepo(pool)
		return messagingtest.SendSubject{
			Tx: postgres.NewTxRunner(pool, func(tx pgx.Tx) messaging.Repos {
				return messaging.Repos{Contacts: postgres.NewContactRepo(tx), Messages: postgres.NewMessageRepo(tx),
					Events: postgres.NewEventLog(tx), Idempotency: postgres.NewIdempotencyRepo(tx), Marketing: postgres.NewMessageRepo(tx)}
			}),
			Contacts: postgres.NewContactRepo(pool), Messages: postgres.NewMessageRepo(pool), Templates: templates.NewCatalogue(postgres.NewTemplateRepo(pool), time.Now), Workspaces: wr,
			Numbers: postgres.NewPhoneNumberRepo(pool), Keys: postgres.NewIdempotencyRepo(pool),
			Workspace: func(t *testing.T, plan domain.Plan) domain.ID {
				t.Helper()
				w := domain.Workspace{ID: domain.NewID(), Name: "Acme", Plan: plan, CreatedAt: now(), UpdatedAt: now()}
				require.NoError(t, wr.CreateWorkspace(ctx, w))
				return w.ID
			},
			Number: func(t *testing.T, n domain.PhoneNumber) {
				t.Helper()
				require.NoError(t, postgres.NewPhoneNumberRepo(pool).Create(ctx, n))
			},
			Template: func(t *testing.T, tm domain.Template) {
				t.Helper()
				tm.Components = append([]domain.TemplateComponent{}, tm.Components...)
				require.NoError(t, postgres.NewTemplateRepo(pool).Insert(ctx, tm))
			},
			Suppress: func(t *testing.T, ws domain.ID, address string, s domain.Suppression, at time.Time) {
				t.Helper()
				if s.OptedOut {
					_, err := pool.Exec(ctx, `INSERT INTO suppressions (workspace_id, address, scope, source, created_at)
						VALUES ($1, $2, 'all', 'keyword', $3)`, ws, address, at)
					require.NoError(t, err)
				}
				if s.MarketingOptedOut {
					_, err := pool.Exec(ctx, `INSERT INTO suppressions (workspace_id, address, scope, source, created_at)
						VALUES ($1, $2, 'marketing', 'meta', $3)`, ws, address, at)
					require.NoError(t, err)
				}
			},
			Events:  func(t *testing.T, ws domain.ID) []eventstest.Row { return eventRows(t, pool, ws) },
			Actions: func(t *testing.T, ws domain.ID) []string { return auditActions(t, pool, ws) },
		}
	})
}

func TestMessageRepoOutboxContract(t *testing.T) {
	t.Parallel()
	messagingtest.RunOutboxContract(t, func(t *testing.T) (messaging.Outbox, messagingtest.OutboxFixture) {
		ctx := context.Background()
		pool := pgtest.NewPool(t)
		wsRepo, numbers := postgres.NewWorkspaceRepo(pool), postgres.NewPhoneNumberRepo(pool)
		seq := 0
		fx := messagingtest.OutboxFixture{
			Seed: func(t *testing.T, status domain.MessageStatus) messaging.MessageToSend {
				t.Helper()
				seq++
				want := messagingtest.Queued()
				want.Status = status
				ws := createWorkspace(t, wsRepo, "Acme")
				want.WorkspaceID, want.Number.WorkspaceID = ws.ID, ws.ID
				want.Number.PhoneNumberID = fmt.Sprint(1000 + seq)
				p := want.Number
				p.CreatedAt, p.UpdatedAt = now(), now()
				require.NoError(t, numbers.Create(ctx, p))
				c, err := postgres.NewContactRepo(pool).Create(ctx, domain.Contact{ID: domain.NewID(), WorkspaceID: ws.ID,
					Phone: "+" + want.To, WaID: want.To, Tags: []string{}, Attributes: map[string]any{}, CreatedAt: now(), UpdatedAt: now()})
				require.NoError(t, err)
				want.ContactID = c.ID
				dir := domain.Outbound
				if status == domain.StatusReceived {
					dir = domain.Inbound
				}
				_, err = pool.Exec(ctx, `INSERT INTO messages (workspace_id, id, contact_id, phone_number_id, direction, type, content, status, created_at, purpose)
					VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`, ws.ID, want.ID, c.ID, p.PhoneNumberID, string(dir), want.Type,
					[]byte(want.Content), string(status), now(), string(want.Purpose))
				require.NoError(t, err)
				return want
			},
			Events: func(t *testing.T, ws domain.ID) []eventstest.Row { return eventRows(t, pool, ws) },
			Message: func(t *testing.T, ws, id domain.ID) domain.Message {
				t.Helper()
				m, err := postgres.NewMessageRepo(pool).GetMessage(ctx, ws, id)
				require.NoError(t, err)
				return m
			},
			Report: func(t *testing.T, wamid string, s messaging.ReportedStatus) {
				t.Helper()
				var errs []byte // as Meta sends them, which inbound processing stores
				if e := s.Error; e != nil {
					var err error
					errs, err = json.Marshal([]map[string]any{{"code": e.Code, "title": e.Title, "error_data": map[string]string{"details": e.Detail}}})
					require.NoError(t, err)
				}
				_, err := pool.Exec(ctx, `INSERT INTO message_statuses (wamid, status, occurred_at, errors) VALUES ($1, $2, $3, $4)`,
					wamid, s.Status, s.At, errs)
				require.NoError(t, err)
			},
			Number: func(t *testing.T, ws, id domain.ID) (domain.NumberStatus, string) {
				t.Helper()
				p, err := numbers.Get(ctx, ws, id, false)
				require.NoError(t, err)
				return p.Status, p.FailureReason
			},
		}
		return postgres.NewMessageRepo(pool), fx
	})
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
		require.NoError(t, repo.Queue(ctx, m, domain.Occurred(domain.Caller{Type: domain.ActorSystem, WorkspaceID: ws.ID}, now(),
			domain.MessageQueued{MessageID: m.ID, ContactID: m.ContactID, Type: m.Type})))
		require.NoError(t, repo.MarkFailed(ctx, ws.ID, m.ID, domain.MessageError{Title: "x"}, now(),
			domain.Occurred(domain.Caller{Type: domain.ActorSystem, WorkspaceID: ws.ID}, now(), domain.MessageStatusChanged{
				MessageID: m.ID, ContactID: m.ContactID, Status: s.Advance(domain.StatusFailed), Previous: s}), time.Time{}))
		got, err := repo.Status(ctx, ws.ID, m.ID)
		require.NoError(t, err)
		require.Equal(t, s.Advance(domain.StatusFailed), got, "from %s", s)
	}
}
