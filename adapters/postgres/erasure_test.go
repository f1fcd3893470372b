package postgres_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/adapters/postgres"
	"github.com/wabaplatform/waba/adapters/postgres/pgtest"
	"github.com/wabaplatform/waba/application/workspaces"
	"github.com/wabaplatform/waba/domain"
)

var _ workspaces.ErasureStore = (*postgres.Erasure)(nil)

// erasureExempt are tables with a workspace_id column the erasure leaves alone, each with
// the reason.
var erasureExempt = map[string]string{
	"billing_ledger": "the operator's accounting record of what the workspace was credited and charged (amounts, " +
		"categories, markets and message ids; no contact's name, number or text)",
}

// workspaceTables lists every table (not view) of the schema with a workspace_id column.
func workspaceTables(t *testing.T, pool *pgxpool.Pool) []string {
	t.Helper()
	rows, err := pool.Query(context.Background(), `
		SELECT c.table_name FROM information_schema.columns c
		JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
		WHERE c.table_schema = current_schema() AND c.column_name = 'workspace_id' AND t.table_type = 'BASE TABLE'
		ORDER BY 1`)
	require.NoError(t, err)
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.NotEmpty(t, names)
	return names
}

// seeds insert three rows of workspace $1 (user $2) into each table; every table with a
// workspace_id column needs one, so the erasure test covers it.
var seeds = map[string]string{
	"memberships": `INSERT INTO memberships (workspace_id, user_id, role)
		SELECT $1::uuid, u.id, 'agent' FROM users u WHERE u.id <> $2 ORDER BY u.id LIMIT 3`,
	"audit_logs": `INSERT INTO audit_logs (id, workspace_id, actor_type, action, resource_type, created_at, expires_at)
		SELECT gen_random_uuid(), $1::uuid, 'user', 'contact.created', 'contact', now(), now() + interval '90 days' FROM generate_series(1, 3)`,
	"api_keys": `INSERT INTO api_keys (workspace_id, id, name, role, key_hash, created_by, created_at)
		SELECT $1::uuid, gen_random_uuid(), 'k', 'viewer', decode(md5(random()::text), 'hex'), $2, now() FROM generate_series(1, 3)`,
	"contacts": `INSERT INTO contacts (workspace_id, id, phone, created_at, updated_at)
		SELECT $1::uuid, gen_random_uuid(), '+1415555' || lpad(i::text, 4, '0'), now(), now() FROM generate_series(1, 3) i`,
	"phone_numbers": `INSERT INTO phone_numbers (workspace_id, id, phone_number_id, waba_id, status, token_ciphertext, token_nonce,
			token_wrapped_key, token_key_id, created_at, updated_at)
		SELECT $1::uuid, gen_random_uuid(), md5(random()::text), 'waba-' || $1::text, 'connected', '\x01', '\x02', '\x03', 'k', now(), now()
		FROM generate_series(1, 3)`,
	"messages": `INSERT INTO messages (workspace_id, id, contact_id, phone_number_id, direction, type, status, wamid, created_at)
		SELECT $1::uuid, gen_random_uuid(), gen_random_uuid(), 'pn', 'outbound', 'text', 'sent', 'wamid.' || $1::text || '.' || i, now()
		FROM generate_series(1, 3) i`,
	// Media: one received with a message (its foreign key), two uploaded.
	"media": `INSERT INTO media (workspace_id, id, phone_number_id, source, mime_type, storage_key, status, message_id, created_at, updated_at)
		SELECT $1::uuid, gen_random_uuid(), 'pn', CASE WHEN i = 1 THEN 'inbound' ELSE 'upload' END, 'image/jpeg', $1::text || '/' || i,
			'stored', CASE WHEN i = 1 THEN (SELECT id FROM messages WHERE workspace_id = $1 LIMIT 1) END, now(), now()
		FROM generate_series(1, 3) i`,
	// Statuses matched to a message by wamid without a workspace_id (reported before the
	// message was known), and with one.
	"message_statuses": `INSERT INTO message_statuses (wamid, status, workspace_id, occurred_at)
		SELECT 'wamid.' || $1::text || '.' || i, s, CASE WHEN s = 'sent' THEN NULL ELSE $1::uuid END, now()
		FROM generate_series(1, 3) i, unnest(ARRAY['sent', 'delivered']) s`,
	"conversations": `INSERT INTO conversations (workspace_id, id, contact_id, phone_number_id, last_message_at, created_at, updated_at)
		SELECT $1::uuid, gen_random_uuid(), id, '1065', now(), now(), now() FROM contacts WHERE workspace_id = $1`,
	"notes": `INSERT INTO notes (workspace_id, id, conversation_id, body, created_at)
		SELECT $1::uuid, gen_random_uuid(), id, 'note', now() FROM conversations WHERE workspace_id = $1`,
	"templates": `INSERT INTO templates (workspace_id, id, waba_id, name, language, updated_at)
		SELECT $1::uuid, gen_random_uuid(), 'waba-' || $1::text, 't' || i, 'en', now() FROM generate_series(1, 3) i`,
	"webhook_endpoints": `INSERT INTO webhook_endpoints (workspace_id, id, url, events, secret_ciphertext, secret_nonce, secret_wrapped_key,
			secret_key_id, created_at, updated_at)
		SELECT $1::uuid, gen_random_uuid(), 'https://hooks.example.com/' || i, '{*}', '\x00', '\x00', '\x00', 'k', now(), now()
		FROM generate_series(1, 3) i`,
	// Seeded before the endpoints (in name order): with an endpoint of its own.
	"webhook_deliveries": `WITH e AS (
			INSERT INTO webhook_endpoints (workspace_id, id, url, events, secret_ciphertext, secret_nonce, secret_wrapped_key,
				secret_key_id, created_at, updated_at)
			VALUES ($1, gen_random_uuid(), 'https://hooks.example.com/d', '{*}', '\x00', '\x00', '\x00', 'k', now(), now())
			RETURNING id)
		INSERT INTO webhook_deliveries (workspace_id, id, endpoint_id, event_id, event_type, body, created_at, updated_at)
		SELECT $1::uuid, gen_random_uuid(), e.id, 'evt_' || i, 'ping', '\x7b7d', now(), now() FROM e, generate_series(1, 3) i`,
	"account_events": `INSERT INTO account_events (id, workspace_id, waba_id, field, payload, created_at)
		SELECT gen_random_uuid(), $1::uuid, 'waba-' || $1::text, 'account_update', '{}', now() FROM generate_series(1, 3)`,
	"events": `INSERT INTO events (workspace_id, kind, created_at)
		SELECT $1::uuid, 'contact.created', now() FROM generate_series(1, 3)`,
	"idempotency_keys": `INSERT INTO idempotency_keys (workspace_id, key, request_hash, response_status, response_body, created_at, expires_at)
		SELECT $1::uuid, 'k' || i, '\x00', 202, '{}', now(), now() + interval '1 day' FROM generate_series(1, 3) i`,
	"suppressions": `INSERT INTO suppressions (workspace_id, address, scope, source, created_at)
		SELECT $1::uuid, '+1415555000' || i, 'all', 'api', now() FROM generate_series(1, 3) i`,
	"stream_tickets": `WITH s AS (INSERT INTO sessions (id, user_id, created_at, expires_at)
			VALUES (gen_random_uuid(), $2, now(), now() + interval '1 day') RETURNING id)
		INSERT INTO stream_tickets (token_hash, workspace_id, user_id, session_id, expires_at)
		SELECT decode(md5(random()::text || i), 'hex'), $1::uuid, $2, s.id, now() + interval '1 minute'
		FROM s, generate_series(1, 3) i`,
	// The recipients and counters come before their campaigns alphabetically: each seeds
	// its own campaign.
	"campaigns": `INSERT INTO campaigns (workspace_id, id, name, phone_number_id, template_name, template_language, status,
			created_at, updated_at)
		SELECT $1::uuid, gen_random_uuid(), 'c' || i, 'pn', 't', 'en', 'draft', now(), now() FROM generate_series(1, 3) i`,
	"campaign_recipients": `WITH c AS (INSERT INTO campaigns (workspace_id, id, name, phone_number_id, template_name, template_language,
			status, created_at, updated_at) VALUES ($1::uuid, gen_random_uuid(), 'r', 'pn', 't', 'en', 'running', now(), now()) RETURNING id)
		INSERT INTO campaign_recipients (workspace_id, campaign_id, contact_id, updated_at)
		SELECT $1::uuid, c.id, gen_random_uuid(), now() FROM c, generate_series(1, 3)`,
	"campaign_counts": `WITH c AS (INSERT INTO campaigns (workspace_id, id, name, phone_number_id, template_name, template_language,
			status, created_at, updated_at) VALUES ($1::uuid, gen_random_uuid(), 'k', 'pn', 't', 'en', 'running', now(), now()) RETURNING id)
		INSERT INTO campaign_counts (workspace_id, campaign_id, status, shard, n)
		SELECT $1::uuid, c.id, 'pending', i, 1 FROM c, generate_series(1, 3) i`,
	// Its own contact: the replies come before the contacts alphabetically.
	"automatic_replies": `WITH c AS (INSERT INTO contacts (workspace_id, id, phone, created_at, updated_at)
			VALUES ($1::uuid, gen_random_uuid(), '+14155559999', now(), now()) RETURNING id)
		INSERT INTO automatic_replies (workspace_id, trigger_id, automation, contact_id, phone_number_id, message_id, created_at)
		SELECT $1::uuid, gen_random_uuid(), 'away', c.id, 'pn', gen_random_uuid(), now() FROM c, generate_series(1, 3)`,
	"automation_rules": `INSERT INTO automation_rules (workspace_id, id, name, match, keywords, actions, created_at, updated_at)
		SELECT $1::uuid, gen_random_uuid(), 'r' || i, 'exact', '["hi"]', '[{"type":"add_tag","tag":"x"}]', now(), now()
		FROM generate_series(1, 3) i`,
	"automation_settings": `INSERT INTO automation_settings (workspace_id, away_enabled, away_text, updated_at)
		VALUES ($1, true, 'away', now())`,
	"billing_accounts": `INSERT INTO billing_accounts (workspace_id, mode, currency, updated_at) VALUES ($1, 'prepaid', 'USD', now())`,
	"billing_ledger": `INSERT INTO billing_ledger (workspace_id, id, kind, amount_micros, balance_after_micros, currency, created_at)
		SELECT $1::uuid, gen_random_uuid(), 'credit', 10, 10 * i, 'USD', now() FROM generate_series(1, 3) i`,
	"billing_reservations": `INSERT INTO billing_reservations (workspace_id, message_id, amount_micros, created_at)
		SELECT $1::uuid, gen_random_uuid(), 10, now() FROM generate_series(1, 3)`,
	"invitations": `INSERT INTO invitations (workspace_id, id, email, role, token_hash, invited_by, created_at, expires_at, accepted_at)
		SELECT $1::uuid, gen_random_uuid(), 'x' || i || '@example.com', 'agent', decode(md5(random()::text), 'hex'), $2, now(),
			now() + interval '7 days', CASE WHEN i = 1 THEN now() END
		FROM generate_series(1, 3) i`,
}

func TestErasureCoversEveryWorkspaceTable(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewPool(t)
	erased := postgres.ErasedTableNames()
	for _, table := range workspaceTables(t, pool) {
		if reason, ok := erasureExempt[table]; ok {
			require.NotEmpty(t, reason, "%s: an exemption says why", table)
			continue
		}
		require.Contains(t, erased, table, "%s has a workspace_id column: erase it (postgres.erasedTables) or exempt it here", table)
		require.Contains(t, seeds, table, "%s: seed it in this test so the erasure is seen to empty it", table)
	}
}

func TestErasure(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	repo := postgres.NewWorkspaceRepo(pool)
	owner := createUser(t, repo, "owner@example.com")
	for i := range 4 {
		createUser(t, repo, fmt.Sprintf("member%d@example.com", i))
	}
	doomed, kept := createWorkspace(t, repo, "Doomed"), createWorkspace(t, repo, "Kept")
	tables := workspaceTables(t, pool)
	for _, ws := range []domain.ID{doomed.ID, kept.ID} {
		for _, table := range tables {
			args := []any{ws}
			if strings.Contains(seeds[table], "$2") {
				args = append(args, owner.ID)
			}
			_, err := pool.Exec(ctx, seeds[table], args...)
			require.NoError(t, err, table)
		}
	}
	count := func(table string, ws domain.ID) int {
		t.Helper()
		var n int
		where := `workspace_id = $1`
		if table == "message_statuses" { // found by wamid too, as the erasure does
			where += ` OR wamid LIKE 'wamid.' || $1::text || '.%'`
		}
		require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM `+table+` WHERE `+where, ws).Scan(&n))
		return n
	}
	before := map[string]int{}
	for _, table := range tables {
		before[table] = count(table, kept.ID)
		require.Positive(t, count(table, doomed.ID), table)
	}

	// Delete as the use case does: mark it, record it.
	require.NoError(t, pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		r := postgres.NewWorkspaceRepo(tx)
		if _, err := r.LockWorkspace(ctx, doomed.ID); err != nil {
			return err
		}
		if err := r.MarkWorkspaceDeleted(ctx, doomed.ID, now()); err != nil {
			return err
		}
		c := domain.Caller{Type: domain.ActorUser, ID: owner.ID, WorkspaceID: doomed.ID, Meta: domain.RequestMeta{IP: "192.0.2.1"}}
		return postgres.NewEventLog(tx).Append(ctx, domain.Occurred(c, now(), domain.WorkspaceDeleted{WorkspaceID: doomed.ID, Name: "Doomed"}))
	}))
	_, err := repo.Workspace(ctx, doomed.ID)
	requireKind(t, domain.KindNotFound, err)
	_, err = repo.LockWorkspace(ctx, doomed.ID)
	requireKind(t, domain.KindNotFound, err)
	require.Zero(t, count("memberships", doomed.ID), "credentials go at once")
	require.Zero(t, count("api_keys", doomed.ID))
	var openInvitations int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM invitations WHERE workspace_id = $1`, doomed.ID).Scan(&openInvitations))
	require.Equal(t, 1, openInvitations, "only the accepted invitation is left for the erasure")

	// What reads across workspaces no longer sees it.
	inbound := postgres.NewInboundRepo(pool)
	var pnID string
	require.NoError(t, pool.QueryRow(ctx, `SELECT phone_number_id FROM phone_numbers WHERE workspace_id = $1 LIMIT 1`, doomed.ID).Scan(&pnID))
	_, ok, err := inbound.RouteByPhoneNumberID(ctx, pnID)
	require.NoError(t, err)
	require.False(t, ok, "its numbers' webhooks are routed nowhere")
	nums, err := inbound.NumbersByWABA(ctx, "waba-"+doomed.ID.String())
	require.NoError(t, err)
	require.Empty(t, nums)
	var msgID domain.ID
	require.NoError(t, pool.QueryRow(ctx, `SELECT id FROM messages WHERE workspace_id = $1 LIMIT 1`, doomed.ID).Scan(&msgID))
	_, err = postgres.NewMessageRepo(pool).ToSend(ctx, doomed.ID, msgID)
	requireKind(t, domain.KindNotFound, err)

	e := postgres.NewErasure(pool, 2) // batches of 2, so every table takes more than one
	state, err := e.ErasureState(ctx, doomed.ID)
	require.NoError(t, err)
	require.Equal(t, workspaces.AwaitingErasure, state)
	state, err = e.ErasureState(ctx, kept.ID)
	require.NoError(t, err)
	require.Equal(t, workspaces.NotDeleted, state)

	used, err := e.WABAInUse(ctx, "waba-"+kept.ID.String(), doomed.ID)
	require.NoError(t, err)
	require.True(t, used, "another workspace's connected numbers use it")
	used, err = e.WABAInUse(ctx, "waba-"+doomed.ID.String(), kept.ID)
	require.NoError(t, err)
	require.False(t, used, "a deleted workspace's numbers do not count")

	numbers, err := e.Numbers(ctx, doomed.ID)
	require.NoError(t, err)
	require.Len(t, numbers, 3)
	require.NoError(t, e.DeleteNumber(ctx, doomed.ID, numbers[0].ID))
	require.NoError(t, e.EraseRows(ctx, doomed.ID))
	require.NoError(t, e.EraseRows(ctx, doomed.ID), "erasing again is harmless")
	require.NoError(t, e.DeleteWorkspace(ctx, kept.ID), "a live workspace's row is never deleted")
	require.NoError(t, e.DeleteWorkspace(ctx, doomed.ID))
	state, err = e.ErasureState(ctx, doomed.ID)
	require.NoError(t, err)
	require.Equal(t, workspaces.Erased, state)

	for _, table := range tables {
		want := 0
		if slices.Contains([]string{"events", "audit_logs"}, table) {
			want = 1
		}
		if _, ok := erasureExempt[table]; ok {
			want = 3 // as seeded
		}
		require.Equal(t, want, count(table, doomed.ID), "%s: what is left of the deleted workspace", table)
		require.Equal(t, before[table], count(table, kept.ID), "%s: another workspace is untouched", table)
	}
	var action, actor, ip, name string
	require.NoError(t, pool.QueryRow(ctx, `SELECT action, actor_id, ip, details->>'name' FROM audit_logs WHERE workspace_id = $1`,
		doomed.ID).Scan(&action, &actor, &ip, &name))
	require.Equal(t, []string{"workspace.deleted", owner.ID.String(), "192.0.2.1", "Doomed"}, []string{action, actor, ip, name})
	var kind string
	require.NoError(t, pool.QueryRow(ctx, `SELECT kind FROM events WHERE workspace_id = $1`, doomed.ID).Scan(&kind))
	require.Equal(t, "workspace.deleted", kind)
	_, err = repo.Workspace(ctx, kept.ID)
	require.NoError(t, err)
}
