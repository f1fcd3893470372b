package postgres_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/adapters/postgres"
	"github.com/wabaplatform/waba/adapters/postgres/pgtest"
	"github.com/wabaplatform/waba/application/conversations"
	"github.com/wabaplatform/waba/domain"
)

var (
	_ conversations.Store    = (*postgres.ConversationRepo)(nil)
	_ conversations.Settings = (*postgres.ConversationRepo)(nil)
	_ conversations.Assigner = (*postgres.ConversationRepo)(nil)
	_ conversations.TxRunner = (*postgres.TxRunner[conversations.Repos])(nil)
)

var contactSeq atomic.Int64

type convBundle struct {
	pool   *pgxpool.Pool
	repo   *postgres.ConversationRepo
	ws     domain.ID
	agents []domain.ID
}

func setupConversations(t *testing.T, agents int) convBundle {
	t.Helper()
	pool := pgtest.NewPool(t)
	wr := postgres.NewWorkspaceRepo(pool)
	b := convBundle{pool: pool, repo: postgres.NewConversationRepo(pool), ws: createWorkspace(t, wr, "Acme").ID}
	for i := range agents {
		u := createUser(t, wr, fmt.Sprintf("agent%d-%s@example.com", i, domain.NewID()))
		_, err := pool.Exec(context.Background(), `INSERT INTO memberships (workspace_id, user_id, role) VALUES ($1, $2, 'agent')`, b.ws, u.ID)
		require.NoError(t, err)
		b.agents = append(b.agents, u.ID)
	}
	return b
}

func (b convBundle) contact(t *testing.T) domain.ID {
	t.Helper()
	id := domain.NewID()
	_, err := b.pool.Exec(context.Background(), `INSERT INTO contacts (workspace_id, id, phone, name, created_at, updated_at)
		VALUES ($1, $2, $3, 'Kim', now(), now())`, b.ws, id, fmt.Sprintf("+1415%07d", contactSeq.Add(1)))
	require.NoError(t, err)
	return id
}

func inboundTo(ws, contact domain.ID, text string) domain.Message {
	body, _ := json.Marshal(map[string]string{"body": text})
	return domain.Message{ID: domain.NewID(), WorkspaceID: ws, ContactID: contact, PhoneNumberID: "1065", Direction: domain.Inbound,
		Type: "text", Content: body, Status: domain.StatusReceived, CreatedAt: now()}
}

// receive counts n messages of ct (the newest previewing text) in one Receive.
func (b convBundle) receive(t *testing.T, ct domain.ID, text string, n int, touch bool) conversations.Opened {
	t.Helper()
	in := conversations.Inbound{WorkspaceID: b.ws, ContactID: ct, PhoneNumberID: "1065", Count: n, LastAt: now(), Preview: text}
	if touch {
		at := now()
		in.InboundAt = &at
	}
	got, err := b.repo.Receive(context.Background(), []conversations.Inbound{in}, now())
	require.NoError(t, err)
	require.Len(t, got, 1)
	return got[0]
}

func (b convBundle) runner() *postgres.TxRunner[conversations.Repos] {
	return postgres.NewTxRunner(b.pool, func(tx pgx.Tx) conversations.Repos {
		r := postgres.NewConversationRepo(tx)
		return conversations.Repos{Conversations: r, Settings: r, Assigner: r, Events: postgres.NewEventLog(tx)}
	})
}

func TestConversationRepo(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("ReceiveOpensCountsAndReopens", func(t *testing.T) {
		t.Parallel()
		b := setupConversations(t, 1)
		ct := b.contact(t)
		o := b.receive(t, ct, "hi", 1, true)
		require.True(t, o.Opened)
		require.Equal(t, domain.AutoAssignOff, o.AutoAssign)
		c := o.Conversation
		require.Equal(t, domain.ConversationOpen, c.Status)
		require.Equal(t, 1, c.UnreadCount)
		require.NotNil(t, c.ServiceWindowExpiresAt)

		o = b.receive(t, ct, "again", 2, false)
		require.False(t, o.Opened)
		require.Equal(t, c.ID, o.Conversation.ID)
		require.Equal(t, 3, o.Conversation.UnreadCount)
		require.Equal(t, "again", o.Conversation.LastMessagePreview)
		require.Equal(t, c.ServiceWindowExpiresAt, o.Conversation.ServiceWindowExpiresAt, "a system notice does not move the window")

		c = o.Conversation
		c.Status, c.AssignedTo = domain.ConversationResolved, &b.agents[0]
		require.NoError(t, b.repo.Update(ctx, c))
		var contactAssignee *domain.ID
		require.NoError(t, b.pool.QueryRow(ctx, `SELECT assigned_to FROM contacts WHERE id = $1`, ct).Scan(&contactAssignee))
		require.Equal(t, &b.agents[0], contactAssignee, "the contact follows the conversation's assignee")

		o = b.receive(t, ct, "back", 1, true)
		require.True(t, o.Opened, "a resolved conversation is reopened")
		require.Equal(t, domain.ConversationOpen, o.Conversation.Status)
		require.Equal(t, c.ID, o.Conversation.ID)

		// The read receipt's message: the newest inbound one, not our replies.
		_, ok, err := b.repo.LastInbound(ctx, o.Conversation)
		require.NoError(t, err)
		require.False(t, ok, "no message stored")
		in, out := idAt(now().Add(-time.Minute)), idAt(now())
		_, err = b.pool.Exec(ctx, `INSERT INTO messages (workspace_id, id, contact_id, phone_number_id, direction, type, status, created_at)
			VALUES ($1, $2, $4, '1065', 'inbound', 'text', 'received', now()), ($1, $3, $4, '1065', 'outbound', 'text', 'queued', now())`,
			b.ws, in, out, ct)
		require.NoError(t, err)
		last, ok, err := b.repo.LastInbound(ctx, o.Conversation)
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, in, last)

		// Visibility: the agent sees theirs, another agent does not.
		other := domain.NewID()
		_, err = b.repo.Get(ctx, b.ws, c.ID, conversations.View{Agent: &b.agents[0]}, false)
		require.NoError(t, err)
		_, err = b.repo.Get(ctx, b.ws, c.ID, conversations.View{Agent: &other}, false)
		require.True(t, domain.IsKind(err, domain.KindNotFound))
		got, err := b.repo.List(ctx, b.ws, conversations.Filter{Which: conversations.All}, conversations.View{Agent: &other}, 10)
		require.NoError(t, err)
		require.Empty(t, got)
	})

	t.Run("ReceiveTakesABatchInOneStatement", func(t *testing.T) {
		t.Parallel()
		b := setupConversations(t, 1)
		open, resolved, fresh := b.contact(t), b.contact(t), b.contact(t)
		first := b.receive(t, open, "earlier", 1, true)
		gone := b.receive(t, resolved, "earlier", 1, true).Conversation
		gone.Status = domain.ConversationResolved
		require.NoError(t, b.repo.Update(ctx, gone))

		later := now().Add(time.Minute)
		in := func(ct domain.ID, n int) conversations.Inbound {
			return conversations.Inbound{WorkspaceID: b.ws, ContactID: ct, PhoneNumberID: "1065", Count: n, LastAt: later, Preview: "batch"}
		}
		got, err := b.repo.Receive(ctx, []conversations.Inbound{in(open, 2), in(resolved, 1), in(fresh, 3)}, later)
		require.NoError(t, err)
		require.Len(t, got, 3)
		by := map[domain.ID]conversations.Opened{}
		for _, o := range got {
			require.Equal(t, "batch", o.Conversation.LastMessagePreview)
			require.Equal(t, domain.ConversationOpen, o.Conversation.Status)
			by[o.Conversation.ContactID] = o
		}
		require.False(t, by[open].Opened)
		require.Equal(t, first.Conversation.ID, by[open].Conversation.ID)
		require.Equal(t, 3, by[open].Conversation.UnreadCount)
		require.Equal(t, first.Conversation.ServiceWindowExpiresAt, by[open].Conversation.ServiceWindowExpiresAt,
			"notices alone do not move the window")
		require.True(t, by[resolved].Opened, "reopened")
		require.Equal(t, 2, by[resolved].Conversation.UnreadCount)
		require.True(t, by[fresh].Opened, "created")
		require.Equal(t, 3, by[fresh].Conversation.UnreadCount)
		require.Nil(t, by[fresh].Conversation.ServiceWindowExpiresAt)
	})

	// Concurrent inbound messages from new customers, each in its own transaction: every
	// conversation gets exactly one agent, and the choices are exactly balanced.
	for _, mode := range []domain.AutoAssign{domain.AutoAssignRoundRobin, domain.AutoAssignLeastBusy} {
		t.Run("AutoAssignIsRaceFree/"+string(mode), func(t *testing.T) {
			t.Parallel()
			b := setupConversations(t, 3)
			_, err := b.repo.SetAutoAssign(ctx, b.ws, mode)
			require.NoError(t, err)
			const n = 12
			var contacts []domain.ID
			for range n {
				contacts = append(contacts, b.contact(t))
			}
			tx := b.runner()
			var wg sync.WaitGroup
			errs := make(chan error, n)
			for _, ct := range contacts {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs <- tx.InTx(ctx, func(ctx context.Context, r conversations.Repos) error {
						return conversations.InTx(r).Received(ctx, []domain.Arrival{{Message: inboundTo(b.ws, ct, "hello"), Touch: true}}, now())
					})
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				require.NoError(t, err)
			}
			per := map[domain.ID]int{}
			rows, err := b.pool.Query(ctx, `SELECT assigned_to FROM conversations WHERE workspace_id = $1`, b.ws)
			require.NoError(t, err)
			ids, err := pgx.CollectRows(rows, pgx.RowTo[*domain.ID])
			require.NoError(t, err)
			require.Len(t, ids, n)
			for _, id := range ids {
				require.NotNil(t, id)
				per[*id]++
			}
			require.Equal(t, map[domain.ID]int{b.agents[0]: n / 3, b.agents[1]: n / 3, b.agents[2]: n / 3}, per)
			var events int
			require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(*) FROM events WHERE workspace_id = $1 AND kind = 'conversation.assigned'`, b.ws).Scan(&events))
			require.Equal(t, n, events)
		})
	}

	t.Run("UnavailableAgentsAreSkipped", func(t *testing.T) {
		t.Parallel()
		b := setupConversations(t, 2)
		_, err := b.repo.SetAutoAssign(ctx, b.ws, domain.AutoAssignRoundRobin)
		require.NoError(t, err)
		require.NoError(t, b.repo.SetAvailable(ctx, b.ws, b.agents[0], false))
		require.True(t, domain.IsKind(b.repo.SetAvailable(ctx, b.ws, domain.NewID(), false), domain.KindNotFound))
		for range 3 {
			id, ok, err := b.repo.PickAgent(ctx, b.ws, domain.AutoAssignRoundRobin)
			require.NoError(t, err)
			require.True(t, ok)
			require.Equal(t, b.agents[1], id)
		}
		require.NoError(t, b.repo.SetAvailable(ctx, b.ws, b.agents[1], false))
		_, ok, err := b.repo.PickAgent(ctx, b.ws, domain.AutoAssignLeastBusy)
		require.NoError(t, err)
		require.False(t, ok, "nobody available: the conversation stays unassigned")
	})
}

// explainingQuerier runs EXPLAIN (FORMAT JSON) of every query before running it, so the
// test sees the plan of exactly the SQL the repository builds.
type explainingQuerier struct {
	*pgxpool.Pool
	plans []json.RawMessage
}

func (q *explainingQuerier) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	var plan json.RawMessage
	if err := q.Pool.QueryRow(ctx, "EXPLAIN (FORMAT JSON) "+sql, args...).Scan(&plan); err != nil {
		return nil, err
	}
	q.plans = append(q.plans, plan)
	return q.Pool.Query(ctx, sql, args...)
}

// scans lists the "Node Type Relation Name/Index Name" of every node of a JSON plan.
func scans(t *testing.T, plan json.RawMessage) []string {
	t.Helper()
	var root []struct{ Plan map[string]any }
	require.NoError(t, json.Unmarshal(plan, &root))
	var out []string
	var walk func(n map[string]any)
	walk = func(n map[string]any) {
		if rel, ok := n["Relation Name"].(string); ok {
			idx, _ := n["Index Name"].(string)
			out = append(out, fmt.Sprintf("%s %s %s", n["Node Type"], rel, idx))
		}
		for _, c := range asSlice(n["Plans"]) {
			walk(c.(map[string]any))
		}
	}
	walk(root[0].Plan)
	return out
}

func asSlice(v any) []any { s, _ := v.([]any); return s }

// TestConversationViewsUseIndexes loads 100,000 conversations and checks that every view
// is one query over an index of conversations, never a sequential scan. The plans seen
// (PostgreSQL 15; a quarter of them unassigned, a quarter each agent's):
//
//	all                      Limit -> Index Scan using conversations_ws_recent_idx
//	all, status=open         Limit -> Index Scan using conversations_ws_status_recent_idx
//	mine                     Limit -> Index Scan using conversations_ws_assignee_recent_idx
//	unassigned               Limit -> Index Scan using conversations_ws_recent_idx, filter
//	                         assigned_to IS NULL (the planner prefers the shorter index
//	                         when a quarter of the rows match)
//	an agent's all           Limit -> Merge Append of the two walks above (theirs, unassigned)
//	next page (cursor)       the same, (last_message_at, id) < (the cursor's) as an index
//	                         condition; the cursor's row read by conversations_pkey
//	q, common (name)         the same walk, each row's contact checked by its primary key
//	                         (Index Scan using contacts_pkey)
//	q, rare (phone)          the planner turns it around: the workspace's contacts matching
//	                         q (a Seq Scan of contacts here, where the table holds one
//	                         workspace; by workspace index otherwise), each one's
//	                         conversation by conversations_contact_number_key, then a
//	                         top-N sort. pg_trgm is available but not installed, so q has
//	                         no trigram index: name ILIKE '%q%' OR phone LIKE '%q%'.
func TestConversationViewsUseIndexes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupConversations(t, 2)
	_, err := b.pool.Exec(ctx, `
		WITH c AS (
			INSERT INTO contacts (workspace_id, id, phone, name, created_at, updated_at)
			SELECT $1, gen_random_uuid(), '+1555' || lpad(i::text, 7, '0'), 'Customer ' || i, now(), now()
			FROM generate_series(1, 100000) i
			RETURNING id, phone)
		INSERT INTO conversations (workspace_id, id, contact_id, phone_number_id, status, assigned_to, unread_count,
			last_message_at, last_message_preview, created_at, updated_at)
		SELECT $1, gen_random_uuid(), c.id, '1065', (ARRAY['open', 'pending', 'resolved'])[1 + n % 3],
			CASE n % 4 WHEN 0 THEN NULL WHEN 1 THEN $2::uuid WHEN 2 THEN $3::uuid END, 0,
			now() - make_interval(secs => n), 'hi', now(), now()
		FROM (SELECT id, right(phone, 7)::int AS n FROM c) c`, b.ws, b.agents[0], b.agents[1])
	require.NoError(t, err)
	_, err = b.pool.Exec(ctx, `ANALYZE conversations; ANALYZE contacts`)
	require.NoError(t, err)

	q := &explainingQuerier{Pool: b.pool}
	repo := postgres.NewConversationRepo(q)
	agent := conversations.View{Agent: &b.agents[0]}
	page, err := repo.List(ctx, b.ws, conversations.Filter{Which: conversations.All}, conversations.View{}, 51)
	require.NoError(t, err)
	require.Len(t, page, 51)
	cursor := page[50].ID
	cases := []struct {
		name string
		f    conversations.Filter
		view conversations.View
	}{
		{"all", conversations.Filter{Which: conversations.All}, conversations.View{}},
		{"all open", conversations.Filter{Which: conversations.All, Status: domain.ConversationOpen}, conversations.View{}},
		{"mine", conversations.Filter{Which: conversations.Mine, Me: b.agents[0]}, agent},
		{"unassigned", conversations.Filter{Which: conversations.Unassigned}, agent},
		{"agent all", conversations.Filter{Which: conversations.All}, agent},
		{"agent all resolved", conversations.Filter{Which: conversations.All, Status: domain.ConversationResolved}, agent},
		{"all next page", conversations.Filter{Which: conversations.All, Cursor: cursor}, conversations.View{}},
		{"agent all next page", conversations.Filter{Which: conversations.All, Cursor: cursor}, agent},
		{"q name", conversations.Filter{Which: conversations.All, Query: "customer 12"}, conversations.View{}},
		{"q phone", conversations.Filter{Which: conversations.Unassigned, Query: "+155500001"}, agent},
	}
	for _, c := range cases {
		q.plans = nil
		got, err := repo.List(ctx, b.ws, c.f, c.view, 51)
		require.NoError(t, err, c.name)
		require.NotEmpty(t, got, c.name)
		require.Len(t, q.plans, 1, "%s: one query", c.name)
		nodes := scans(t, q.plans[0])
		usesIndex := false
		for _, n := range nodes {
			require.NotContains(t, n, "Seq Scan conversations", "%s: %v", c.name, nodes)
			if strings.HasPrefix(n, "Index Scan conversations") || strings.HasPrefix(n, "Index Only Scan conversations") {
				usesIndex = true
			}
		}
		require.True(t, usesIndex, "%s: %v", c.name, nodes)
		t.Logf("%-22s %v", c.name, nodes)
	}
	// Pages follow each other without a gap.
	next, err := repo.List(ctx, b.ws, conversations.Filter{Which: conversations.All, Cursor: page[49].ID}, conversations.View{}, 1)
	require.NoError(t, err)
	require.Equal(t, page[50].ID, next[0].ID)
}
