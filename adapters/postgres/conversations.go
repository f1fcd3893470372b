package postgres

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wabaplatform/waba/application/conversations"
	"github.com/wabaplatform/waba/domain"
)

// ConversationRepo is the storage of the team inbox: conversations, notes, the inbox
// settings, members' availability, and auto-assignment.
type ConversationRepo struct{ q Querier }

// NewConversationRepo returns the repository over q (a pool or a transaction).
func NewConversationRepo(q Querier) *ConversationRepo { return &ConversationRepo{q: q} }

const conversationColumns = `workspace_id, id, contact_id, phone_number_id, status, assigned_to, unread_count,
	last_message_at, last_message_preview, last_inbound_at, service_window_expires_at, created_at, updated_at`

func scanConversation(row pgx.CollectableRow) (domain.Conversation, error) {
	var c domain.Conversation
	var status string
	err := row.Scan(&c.WorkspaceID, &c.ID, &c.ContactID, &c.PhoneNumberID, &status, &c.AssignedTo, &c.UnreadCount,
		&c.LastMessageAt, &c.LastMessagePreview, &c.LastInboundAt, &c.ServiceWindowExpiresAt, &c.CreatedAt, &c.UpdatedAt)
	c.Status = domain.ConversationStatus(status)
	return c, err
}

// Get implements conversations.Store.
func (r *ConversationRepo) Get(ctx context.Context, ws, id domain.ID, view conversations.View, forUpdate bool) (domain.Conversation, error) {
	lock := ""
	if forUpdate {
		lock = " FOR UPDATE"
	}
	rows, err := r.q.Query(ctx, `SELECT `+conversationColumns+` FROM conversations
		WHERE workspace_id = $1 AND id = $2 AND ($3::uuid IS NULL OR assigned_to IS NULL OR assigned_to = $3)`+lock, ws, id, view.Agent)
	c, ok, err := optionalRow(rows, err, scanConversation)
	if err == nil && !ok {
		err = domain.NotFound("conversation")
	}
	return c, err
}

// List implements conversations.Store: one query walking an index of the view in
// (last_message_at DESC, id DESC) order; see migration 0013 and TestConversationViewsUseIndexes.
// An agent's "all" (theirs and the unassigned) is the merge of two such walks.
func (r *ConversationRepo) List(ctx context.Context, ws domain.ID, f conversations.Filter, view conversations.View, n int) ([]domain.Conversation, error) {
	w := &where{}
	w.add("c.workspace_id = $?", ws)
	if !f.Cursor.IsZero() {
		// Keyset: after the cursor's (last_message_at, id), read in the same statement.
		w.add(`(c.last_message_at, c.id) < ((SELECT k.last_message_at FROM conversations k WHERE k.workspace_id = $1 AND k.id = $?), $?)`, f.Cursor)
	}
	if f.Status != "" {
		w.add("c.status = $?", string(f.Status))
	}
	if f.Query != "" {
		w.add(`EXISTS (SELECT 1 FROM contacts ct WHERE ct.workspace_id = c.workspace_id AND ct.id = c.contact_id
			AND (ct.name ILIKE $? OR ct.phone LIKE $?))`, "%"+escapeLike(f.Query)+"%")
	}
	base := w.sql()
	order := ` ORDER BY c.last_message_at DESC, c.id DESC LIMIT `
	limit := w.next()
	args := append(w.args, n)
	var sql string
	switch {
	case f.Which == conversations.Unassigned:
		sql = `SELECT ` + conversationColumns + ` FROM conversations c WHERE ` + base + ` AND c.assigned_to IS NULL` + order + limit
	case f.Which == conversations.Mine:
		args = append(args, f.Me)
		sql = `SELECT ` + conversationColumns + ` FROM conversations c WHERE ` + base + ` AND c.assigned_to = $` + strconv.Itoa(len(args)) + order + limit
	case view.Agent != nil:
		args = append(args, *view.Agent)
		me := `$` + strconv.Itoa(len(args))
		sql = `SELECT ` + conversationColumns + ` FROM (
			(SELECT c.* FROM conversations c WHERE ` + base + ` AND c.assigned_to = ` + me + order + limit + `)
			UNION ALL
			(SELECT c.* FROM conversations c WHERE ` + base + ` AND c.assigned_to IS NULL` + order + limit + `)) c` + order + limit
	default:
		sql = `SELECT ` + conversationColumns + ` FROM conversations c WHERE ` + base + order + limit
	}
	rows, err := r.q.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scanConversation)
}

// Messages implements conversations.Store.
func (r *ConversationRepo) Messages(ctx context.Context, c domain.Conversation, before domain.ID, n int) ([]domain.Message, error) {
	w := &where{}
	w.add("workspace_id = $?", c.WorkspaceID)
	w.add("contact_id = $?", c.ContactID)
	w.add("phone_number_id = $?", c.PhoneNumberID)
	w.cursor("id < $?", before)
	rows, err := r.q.Query(ctx, `SELECT `+messageColumns+`, `+messageMediaColumn+` FROM messages WHERE `+w.sql()+` ORDER BY id DESC LIMIT `+w.next(),
		append(w.args, n)...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scanMessageWithMedia)
}

// Update implements conversations.Store: the conversation and, in the same statement,
// its contact's assignee.
func (r *ConversationRepo) Update(ctx context.Context, c domain.Conversation) error {
	_, err := r.q.Exec(ctx, `
		WITH c AS (
			UPDATE conversations SET status = $3, assigned_to = $4, unread_count = $5, updated_at = $6
			WHERE workspace_id = $1 AND id = $2 RETURNING contact_id, assigned_to)
		UPDATE contacts ct SET assigned_to = c.assigned_to, updated_at = $6
		FROM c WHERE ct.workspace_id = $1 AND ct.id = c.contact_id AND ct.assigned_to IS DISTINCT FROM c.assigned_to`,
		c.WorkspaceID, c.ID, string(c.Status), c.AssignedTo, c.UnreadCount, c.UpdatedAt)
	return err
}

// Notes implements conversations.Store.
func (r *ConversationRepo) Notes(ctx context.Context, ws, conversationID, before domain.ID, n int) ([]domain.Note, error) {
	w := &where{}
	w.add("workspace_id = $?", ws)
	w.add("conversation_id = $?", conversationID)
	w.cursor("id < $?", before)
	rows, err := r.q.Query(ctx, `SELECT workspace_id, id, conversation_id, author_id, body, created_at FROM notes
		WHERE `+w.sql()+` ORDER BY id DESC LIMIT `+w.next(), append(w.args, n)...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (domain.Note, error) {
		var n domain.Note
		err := row.Scan(&n.WorkspaceID, &n.ID, &n.ConversationID, &n.AuthorID, &n.Body, &n.CreatedAt)
		return n, err
	})
}

// AddNote implements conversations.Store.
func (r *ConversationRepo) AddNote(ctx context.Context, n domain.Note) error {
	_, err := r.q.Exec(ctx, `INSERT INTO notes (workspace_id, id, conversation_id, author_id, body, created_at)
		VALUES ($1, $2, $3, $4, $5, $6)`, n.WorkspaceID, n.ID, n.ConversationID, n.AuthorID, cleanText(n.Body), n.CreatedAt)
	return err
}

// IsMember implements conversations.Store.
func (r *ConversationRepo) IsMember(ctx context.Context, ws, userID domain.ID) (bool, error) {
	return isMember(ctx, r.q, ws, userID)
}

// LastInbound implements conversations.Store.
func (r *ConversationRepo) LastInbound(ctx context.Context, c domain.Conversation) (domain.ID, bool, error) {
	var id domain.ID
	err := r.q.QueryRow(ctx, `SELECT id FROM messages
		WHERE workspace_id = $1 AND contact_id = $2 AND phone_number_id = $3 AND direction = 'inbound'
		ORDER BY id DESC LIMIT 1`, c.WorkspaceID, c.ContactID, c.PhoneNumberID).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return id, false, nil
	}
	return id, err == nil, err
}

// AutoAssign implements conversations.Settings.
func (r *ConversationRepo) AutoAssign(ctx context.Context, ws domain.ID) (domain.AutoAssign, error) {
	var mode string
	err := r.q.QueryRow(ctx, `SELECT auto_assign FROM workspaces WHERE id = $1`, ws).Scan(&mode)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", domain.NotFound("workspace")
	}
	return domain.AutoAssign(mode), err
}

// SetAutoAssign implements conversations.Settings.
func (r *ConversationRepo) SetAutoAssign(ctx context.Context, ws domain.ID, mode domain.AutoAssign) (domain.AutoAssign, error) {
	var before string
	err := r.q.QueryRow(ctx, `
		WITH old AS (SELECT auto_assign FROM workspaces WHERE id = $1 FOR NO KEY UPDATE)
		UPDATE workspaces w SET auto_assign = $2 FROM old WHERE w.id = $1 RETURNING old.auto_assign`, ws, string(mode)).Scan(&before)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", domain.NotFound("workspace")
	}
	return domain.AutoAssign(before), err
}

// SetAvailable implements conversations.Settings.
func (r *ConversationRepo) SetAvailable(ctx context.Context, ws, userID domain.ID, available bool) error {
	tag, err := r.q.Exec(ctx, `UPDATE memberships SET available = $3 WHERE workspace_id = $1 AND user_id = $2`, ws, userID, available)
	if err == nil && tag.RowsAffected() == 0 {
		err = domain.NotFound("member")
	}
	return err
}

// Receive implements conversations.Assigner: one statement for the whole batch. The
// contacts are locked by the inbound processing, so their conversations are not raced;
// prev reads the rows as they were before the upsert (a statement's CTEs share its
// snapshot) to tell a conversation the messages opened (new, or reopening a resolved
// one). A new conversation starts with the contact's assignee.
func (r *ConversationRepo) Receive(ctx context.Context, ins []conversations.Inbound, now time.Time) ([]conversations.Opened, error) {
	if len(ins) == 0 {
		return nil, nil
	}
	n := len(ins)
	ws, contacts, ids := make([]domain.ID, n), make([]domain.ID, n), make([]domain.ID, n)
	numbers, previews := make([]string, n), make([]string, n)
	counts := make([]int32, n)
	lastAt := make([]time.Time, n)
	inboundAt, windows := make([]*time.Time, n), make([]*time.Time, n)
	for i, in := range ins {
		ws[i], contacts[i], ids[i], numbers[i] = in.WorkspaceID, in.ContactID, domain.NewID(), in.PhoneNumberID
		counts[i], lastAt[i], previews[i] = int32(in.Count), in.LastAt, cleanText(in.Preview)
		if in.InboundAt != nil {
			until := in.InboundAt.Add(domain.ServiceWindow)
			inboundAt[i], windows[i] = in.InboundAt, &until
		}
	}
	rows, err := r.q.Query(ctx, `
		WITH i AS (
			SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::uuid[], $5::int[], $6::timestamptz[], $7::text[],
				$8::timestamptz[], $9::timestamptz[])
				AS i (workspace_id, contact_id, phone_number_id, id, n, last_at, preview, inbound_at, window_until)),
		prev AS (
			SELECT c.workspace_id, c.contact_id, c.phone_number_id, c.status
			FROM conversations c JOIN i USING (workspace_id, contact_id, phone_number_id)),
		c AS (
			INSERT INTO conversations (workspace_id, id, contact_id, phone_number_id, status, assigned_to, unread_count,
				last_message_at, last_message_preview, last_inbound_at, service_window_expires_at, created_at, updated_at)
			SELECT i.workspace_id, i.id, i.contact_id, i.phone_number_id, 'open', ct.assigned_to, i.n, i.last_at, i.preview,
				i.inbound_at, i.window_until, $10, $10
			FROM i JOIN contacts ct ON ct.workspace_id = i.workspace_id AND ct.id = i.contact_id
			ON CONFLICT (workspace_id, contact_id, phone_number_id) DO UPDATE SET
				status = 'open',
				unread_count = conversations.unread_count + EXCLUDED.unread_count,
				last_message_preview = CASE WHEN EXCLUDED.last_message_at >= conversations.last_message_at
					THEN EXCLUDED.last_message_preview ELSE conversations.last_message_preview END,
				last_message_at = GREATEST(conversations.last_message_at, EXCLUDED.last_message_at),
				last_inbound_at = GREATEST(conversations.last_inbound_at, EXCLUDED.last_inbound_at),
				service_window_expires_at = GREATEST(conversations.service_window_expires_at, EXCLUDED.service_window_expires_at),
				updated_at = EXCLUDED.updated_at
			RETURNING `+conversationColumns+`)
		SELECT c.workspace_id, c.id, c.contact_id, c.phone_number_id, c.status, c.assigned_to, c.unread_count,
			c.last_message_at, c.last_message_preview, c.last_inbound_at, c.service_window_expires_at, c.created_at, c.updated_at,
			coalesce(prev.status, 'resolved') = 'resolved', w.auto_assign
		FROM c JOIN workspaces w ON w.id = c.workspace_id
			LEFT JOIN prev USING (workspace_id, contact_id, phone_number_id)`,
		ws, contacts, numbers, ids, counts, lastAt, previews, inboundAt, windows, now)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (conversations.Opened, error) {
		var o conversations.Opened
		var c domain.Conversation
		var status, mode string
		err := row.Scan(&c.WorkspaceID, &c.ID, &c.ContactID, &c.PhoneNumberID, &status, &c.AssignedTo, &c.UnreadCount,
			&c.LastMessageAt, &c.LastMessagePreview, &c.LastInboundAt, &c.ServiceWindowExpiresAt, &c.CreatedAt, &c.UpdatedAt,
			&o.Opened, &mode)
		c.Status = domain.ConversationStatus(status)
		o.Conversation, o.AutoAssign = c, domain.AutoAssign(mode)
		return o, err
	})
}

// LockAutoAssign implements conversations.Assigner: the workspace's row, FOR NO KEY
// UPDATE (foreign keys' FOR KEY SHARE locks, taken by every insert of the workspace, do
// not wait for it).
func (r *ConversationRepo) LockAutoAssign(ctx context.Context, ws domain.ID) (domain.AutoAssign, error) {
	var mode string
	err := r.q.QueryRow(ctx, `SELECT auto_assign FROM workspaces WHERE id = $1 FOR NO KEY UPDATE`, ws).Scan(&mode)
	return domain.AutoAssign(mode), err
}

// PickAgent implements conversations.Assigner. Round robin takes the first available
// agent (by user id) after the cursor, wrapping around, and moves the cursor to them;
// least busy takes the available agent with the fewest open or pending conversations
// (ties by user id). It runs as its own statement after the lock, so it sees what the
// lock's previous holder committed.
func (r *ConversationRepo) PickAgent(ctx context.Context, ws domain.ID, mode domain.AutoAssign) (domain.ID, bool, error) {
	var sql string
	switch mode {
	case domain.AutoAssignRoundRobin:
		sql = `
			WITH pick AS (
				SELECT m.user_id FROM memberships m, workspaces w
				WHERE m.workspace_id = $1 AND m.role = 'agent' AND m.available AND w.id = $1
				ORDER BY (w.auto_assign_cursor IS NOT NULL AND m.user_id <= w.auto_assign_cursor), m.user_id LIMIT 1),
			moved AS (UPDATE workspaces w SET auto_assign_cursor = pick.user_id FROM pick WHERE w.id = $1)
			SELECT user_id FROM pick`
	case domain.AutoAssignLeastBusy:
		sql = `
			SELECT m.user_id FROM memberships m
			WHERE m.workspace_id = $1 AND m.role = 'agent' AND m.available
			ORDER BY (SELECT count(*) FROM conversations c
				WHERE c.workspace_id = $1 AND c.assigned_to = m.user_id AND c.status <> 'resolved'), m.user_id LIMIT 1`
	default:
		return domain.ID{}, false, nil
	}
	var id domain.ID
	err := r.q.QueryRow(ctx, sql, ws).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return id, false, nil
	}
	return id, err == nil, err
}
