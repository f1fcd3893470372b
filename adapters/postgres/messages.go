package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wabaplatform/waba/adapters/meta/webhook"
	"github.com/wabaplatform/waba/application/messaging"
	"github.com/wabaplatform/waba/domain"
)

// MessageRepo stores messages of both directions.
type MessageRepo struct{ q Querier }

// NewMessageRepo returns the repository over q (a pool or a transaction).
func NewMessageRepo(q Querier) *MessageRepo { return &MessageRepo{q: q} }

// CreateOutbound inserts a queued outbound message.
func (r *MessageRepo) CreateOutbound(ctx context.Context, m domain.Message) error {
	sql, args := outboundInsert(m)
	_, err := r.q.Exec(ctx, sql, args...)
	return err
}

// Queue inserts a queued outbound message, moves its conversation's last message (opening
// a conversation, assigned like the contact, when the contact has none on the number) and
// appends the event of its queueing, in one round trip.
func (r *MessageRepo) Queue(ctx context.Context, m domain.Message, ev domain.Occurrence) error {
	return r.QueueAll(ctx, []domain.Message{m}, []domain.Occurrence{ev})
}

// QueueAll is Queue for a campaign's batch (ms[i] with its event evs[i]): three set-based
// statements in one round trip whatever the batch's size (the messages, their
// conversations, their events), not three per message.
func (r *MessageRepo) QueueAll(ctx context.Context, ms []domain.Message, evs []domain.Occurrence) error {
	if len(ms) != len(evs) {
		return fmt.Errorf("queue: %d messages, %d events", len(ms), len(evs))
	}
	if len(ms) == 0 {
		return nil
	}
	n := len(ms)
	ws, ids, contacts, convIDs := make([]domain.ID, n), make([]domain.ID, n), make([]domain.ID, n), make([]domain.ID, n)
	numbers, types, contents, statuses := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	purposes, previews := make([]string, n), make([]string, n)
	categories, campaigns := make([]*string, n), make([]*domain.ID, n)
	at := make([]time.Time, n)
	for i, m := range ms {
		purpose, content, category := outboundValues(m)
		ws[i], ids[i], contacts[i], convIDs[i] = m.WorkspaceID, m.ID, m.ContactID, domain.NewID()
		numbers[i], types[i], contents[i], statuses[i] = m.PhoneNumberID, m.Type, string(content), string(m.Status)
		purposes[i], categories[i], campaigns[i], at[i] = string(purpose), category, m.CampaignID, m.CreatedAt
		previews[i] = cleanText(domain.MessagePreview(m.Type, m.Content))
	}
	b := &pgx.Batch{}
	b.Queue(`
		INSERT INTO messages (workspace_id, id, contact_id, phone_number_id, direction, type, content, status, created_at, purpose, category,
			campaign_id)
		SELECT m.ws, m.id, m.contact_id, m.number, 'outbound', m.type, m.content::jsonb, m.status, m.at, m.purpose, m.category, m.campaign_id
		FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[], $8::timestamptz[], $9::text[],
			$10::text[], $11::uuid[]) AS m (ws, id, contact_id, number, type, content, status, at, purpose, category, campaign_id)`,
		ws, ids, contacts, numbers, types, contents, statuses, at, purposes, categories, campaigns)
	// Each conversation once (its latest message), in key order: two batches lock the rows
	// they share in the same order. The contacts' assignees are read by a primary key probe
	// each (a LATERAL subquery with a LIMIT is never flattened into a join, which the
	// planner hashed over the workspace's contacts for a campaign batch).
	b.Queue(`
		INSERT INTO conversations (workspace_id, id, contact_id, phone_number_id, status, assigned_to, unread_count,
			last_message_at, last_message_preview, created_at, updated_at)
		SELECT DISTINCT ON (m.ws, m.contact_id, m.number) m.ws, m.conv_id, m.contact_id, m.number, 'open', ct.assigned_to, 0,
			m.at, m.preview, m.at, m.at
		FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::timestamptz[], $6::text[])
			AS m (ws, conv_id, contact_id, number, at, preview)
		CROSS JOIN LATERAL (SELECT assigned_to FROM contacts c WHERE c.workspace_id = m.ws AND c.id = m.contact_id LIMIT 1) ct
		ORDER BY m.ws, m.contact_id, m.number, m.at DESC
		ON CONFLICT (workspace_id, contact_id, phone_number_id) DO UPDATE SET
			last_message_preview = CASE WHEN EXCLUDED.last_message_at >= conversations.last_message_at
				THEN EXCLUDED.last_message_preview ELSE conversations.last_message_preview END,
			last_message_at = GREATEST(conversations.last_message_at, EXCLUDED.last_message_at),
			updated_at = EXCLUDED.updated_at`,
		ws, convIDs, contacts, numbers, at, previews)
	if err := queueEvents(b, evs); err != nil {
		return err
	}
	return r.q.SendBatch(ctx, b).Close()
}

// outboundValues are what a queued message stores for its defaults: the purpose
// (conversation), the content ({}) and the category (NULL when none).
func outboundValues(m domain.Message) (domain.MessagePurpose, json.RawMessage, *string) {
	purpose := m.Purpose
	if purpose == "" {
		purpose = domain.PurposeConversation
	}
	content := m.Content
	if len(content) == 0 {
		content = json.RawMessage(`{}`)
	}
	var category *string
	if m.Category != "" {
		category = &m.Category
	}
	return purpose, content, category
}

func outboundInsert(m domain.Message) (string, []any) {
	purpose, content, category := outboundValues(m)
	return `
		INSERT INTO messages (workspace_id, id, contact_id, phone_number_id, direction, type, content, status, created_at, purpose, category,
			campaign_id)
		VALUES ($1, $2, $3, $4, 'outbound', $5, $6, $7, $8, $9, $10, $11)`,
		[]any{m.WorkspaceID, m.ID, m.ContactID, m.PhoneNumberID, m.Type, []byte(content), string(m.Status), m.CreatedAt, string(purpose), category,
			m.CampaignID}
}

// messageColumns and scanMessage read a message of either direction.
const messageColumns = `workspace_id, id, contact_id, phone_number_id, direction, type, content, status,
	coalesce(wamid, ''), error_code, coalesce(error_title, ''), coalesce(error_detail, ''), pricing,
	created_at, sent_at, delivered_at, read_at, failed_at, campaign_id`

func scanMessage(row pgx.CollectableRow) (domain.Message, error) { return scanMessageInto(row) }

// scanMessageInto reads messageColumns and then into extra, the columns a query adds.
func scanMessageInto(row pgx.CollectableRow, extra ...any) (domain.Message, error) {
	var m domain.Message
	var dir, status string
	var content, pricing []byte
	var code *int32
	var title, detail string
	err := row.Scan(append([]any{&m.WorkspaceID, &m.ID, &m.ContactID, &m.PhoneNumberID, &dir, &m.Type, &content, &status,
		&m.WAMID, &code, &title, &detail, &pricing, &m.CreatedAt, &m.SentAt, &m.DeliveredAt, &m.ReadAt, &m.FailedAt, &m.CampaignID}, extra...)...)
	if err != nil {
		return m, err
	}
	m.Direction, m.Status = domain.Direction(dir), domain.MessageStatus(status)
	m.Content = json.RawMessage(content)
	if len(pricing) > 0 {
		m.Pricing = json.RawMessage(pricing)
	}
	if code != nil || title != "" {
		e := &domain.MessageError{Title: title, Detail: detail}
		if code != nil {
			e.Code = int(*code)
		}
		m.Error = e
	}
	return m, nil
}

// GetMessage reads one message of a workspace.
func (r *MessageRepo) GetMessage(ctx context.Context, ws, id domain.ID) (domain.Message, error) {
	rows, err := r.q.Query(ctx, `SELECT `+messageColumns+`, `+messageMediaColumn+` FROM messages WHERE workspace_id = $1 AND id = $2`, ws, id)
	if err != nil {
		return domain.Message{}, err
	}
	m, err := pgx.CollectExactlyOneRow(rows, scanMessageWithMedia)
	return m, notFound(err, "message")
}

// ListByContact returns up to limit messages of a contact, newest first, below before.
func (r *MessageRepo) ListByContact(ctx context.Context, ws, contactID, before domain.ID, limit int) ([]domain.Message, error) {
	w := &where{}
	w.add("workspace_id = $?", ws)
	w.add("contact_id = $?", contactID)
	w.cursor("id < $?", before)
	rows, err := r.q.Query(ctx, `SELECT `+messageColumns+`, `+messageMediaColumn+` FROM messages WHERE `+w.sql()+` ORDER BY id DESC LIMIT `+w.next(),
		append(w.args, limit)...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scanMessageWithMedia)
}

// LockMarketing implements messaging.MarketingLedger: it locks the contact's row, then (in
// the same round trip, after the lock is held, so it sees what the previous holder
// committed) reads the contact's marketing templates queued after since that did not fail.
// NO KEY, as a campaign's marketing batch does: marketing sends to a contact still take
// turns, while a send that only checks the contact as a foreign key (FOR KEY SHARE) is not
// blocked, which with FOR UPDATE could deadlock with this one.
// The read walks the contact's marketing messages (messages_marketing_idx).
func (r *MessageRepo) LockMarketing(ctx context.Context, ws, contactID domain.ID, since time.Time) (domain.MarketingHistory, domain.MessagingSettings, error) {
	var h domain.MarketingHistory
	var s domain.MessagingSettings
	var hold *time.Time
	b := &pgx.Batch{}
	b.Queue(`
		SELECT c.marketing_hold_until, w.marketing_per_contact_per_day, w.marketing_per_contact_per_week
		FROM contacts c JOIN workspaces w ON w.id = c.workspace_id
		WHERE c.workspace_id = $1 AND c.id = $2 FOR NO KEY UPDATE OF c`, ws, contactID).QueryRow(func(row pgx.Row) error {
		return row.Scan(&hold, &s.MarketingPerContactPerDay, &s.MarketingPerContactPerWeek)
	})
	b.Queue(`
		SELECT created_at FROM messages
		WHERE workspace_id = $1 AND contact_id = $2 AND direction = 'outbound' AND category = 'MARKETING'
			AND status <> 'failed' AND created_at > $3`, ws, contactID, since).Query(func(rows pgx.Rows) error {
		var err error
		h.Sent, err = pgx.CollectRows(rows, pgx.RowTo[time.Time])
		return err
	})
	if err := r.q.SendBatch(ctx, b).Close(); err != nil {
		return h, s, notFound(err, "contact")
	}
	if hold != nil {
		h.HoldUntil = *hold
	}
	return h, s, nil
}

// ToSend reads a message with its contact, number and template category in one query. A
// message of a deleted workspace is not found, so its send is skipped, never made.
func (r *MessageRepo) ToSend(ctx context.Context, ws, id domain.ID) (messaging.MessageToSend, error) {
	var m messaging.MessageToSend
	var status string
	var content []byte
	var numberID *domain.ID
	var numStatus, level, wabaID, keyID *string
	var ct, nonce, wrapped []byte
	var cat *string
	var purpose string
	err := r.q.QueryRow(ctx, `
		SELECT m.workspace_id, m.id, m.contact_id, m.type, m.content, m.status, m.purpose, coalesce(m.wamid, ''), m.phone_number_id,
			coalesce(c.wa_id, ''), coalesce(c.bsuid, ''), coalesce(c.opted_out, false), coalesce(c.marketing_opted_out, false),
			p.id, p.status, p.throughput_level, p.waba_id, p.token_ciphertext, p.token_nonce, p.token_wrapped_key, p.token_key_id,
			coalesce(m.category, t.category), m.campaign_id, m.send_attempted_at
		FROM messages m
		JOIN workspaces w ON w.id = m.workspace_id AND w.deleted_at IS NULL
		LEFT JOIN contacts c ON c.workspace_id = m.workspace_id AND c.id = m.contact_id
		LEFT JOIN phone_numbers p ON p.workspace_id = m.workspace_id AND p.phone_number_id = m.phone_number_id
		LEFT JOIN templates t ON m.type = 'template' AND t.workspace_id = m.workspace_id AND t.waba_id = p.waba_id
			AND t.name = m.content->>'name' AND t.language = m.content->'language'->>'code'
		WHERE m.workspace_id = $1 AND m.id = $2`, ws, id).
		Scan(&m.WorkspaceID, &m.ID, &m.ContactID, &m.Type, &content, &status, &purpose, &m.WAMID, &m.Number.PhoneNumberID,
			&m.To, &m.BSUID, &m.OptedOut, &m.MarketingOptedOut,
			&numberID, &numStatus, &level, &wabaID, &ct, &nonce, &wrapped, &keyID, &cat, &m.CampaignID, &m.AttemptedAt)
	if err != nil {
		return m, notFound(err, "message")
	}
	m.Content, m.Status, m.Purpose = json.RawMessage(content), domain.MessageStatus(status), domain.MessagePurpose(purpose)
	if numberID != nil {
		m.Number.ID, m.Number.WorkspaceID = *numberID, m.WorkspaceID
		m.Number.Status, m.Number.ThroughputLevel, m.Number.WABAID = domain.NumberStatus(*numStatus), *level, *wabaID
		m.Number.Token = domain.Sealed{Ciphertext: ct, Nonce: nonce, WrappedKey: wrapped, KeyID: *keyID}
	}
	if cat != nil {
		m.TemplateCategory = *cat
	}
	return m, nil
}

// Attempt records that a Graph call for a queued message without a wamid begins, when the
// attempt recorded is still prev.
func (r *MessageRepo) Attempt(ctx context.Context, ws, id domain.ID, prev *time.Time, at time.Time) (bool, error) {
	tag, err := r.q.Exec(ctx, `UPDATE messages SET send_attempted_at = $4
		WHERE workspace_id = $1 AND id = $2 AND status = 'queued' AND wamid IS NULL
			AND send_attempted_at IS NOT DISTINCT FROM $3`, ws, id, prev, at)
	return tag.RowsAffected() == 1, err
}

// ClearAttempt forgets a message's attempt.
func (r *MessageRepo) ClearAttempt(ctx context.Context, ws, id domain.ID) error {
	_, err := r.q.Exec(ctx, `UPDATE messages SET send_attempted_at = NULL WHERE workspace_id = $1 AND id = $2`, ws, id)
	return err
}

// MarkSent stores the wamid and moves the status from `from` to `to` when it is still `from`.
// It returns the statuses already recorded for the wamid (webhooks that beat this commit).
func (r *MessageRepo) MarkSent(ctx context.Context, ws, id domain.ID, wamid string, at time.Time, from, to domain.MessageStatus) (bool, []messaging.ReportedStatus, error) {
	var early []byte
	err := r.q.QueryRow(ctx, `
		UPDATE messages SET wamid = $3, status = $4, sent_at = coalesce(sent_at, $5)
		WHERE workspace_id = $1 AND id = $2 AND status = $6
		RETURNING (SELECT json_agg(json_build_object('status', s.status, 'at', s.occurred_at, 'errors', s.errors))
			FROM message_statuses s WHERE s.wamid = $3)`, ws, id, wamid, string(to), at, string(from)).Scan(&early)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil, nil
	}
	if err != nil || len(early) == 0 {
		return err == nil, nil, err
	}
	var rows []struct {
		Status string          `json:"status"`
		At     time.Time       `json:"at"`
		Errors json.RawMessage `json:"errors"`
	}
	if err := json.Unmarshal(early, &rows); err != nil {
		return true, nil, nil // the wamid is stored; later webhooks will carry the rest
	}
	out := make([]messaging.ReportedStatus, len(rows))
	for i, r := range rows {
		out[i] = messaging.ReportedStatus{Status: r.Status, At: r.At}
		if e, ok := webhook.FirstError(r.Errors); ok {
			out[i].Error = &e
		}
	}
	return true, out, nil
}

// ApplyReported writes folded statuses when the status is still from.
func (r *MessageRepo) ApplyReported(ctx context.Context, ws, id domain.ID, from domain.MessageStatus, u messaging.DeliveryUpdate) error {
	code, title, detail := errorColumns(u.Error)
	_, err := r.q.Exec(ctx, `
		UPDATE messages SET status = $4, delivered_at = coalesce(delivered_at, $5), read_at = coalesce(read_at, $6),
			failed_at = coalesce(failed_at, $7), error_code = coalesce($8, error_code),
			error_title = coalesce($9, error_title), error_detail = coalesce($10, error_detail)
		WHERE workspace_id = $1 AND id = $2 AND status = $3`,
		ws, id, string(from), string(u.Status), u.DeliveredAt, u.ReadAt, u.FailedAt, code, title, detail)
	return err
}

// MarkFailed records a failure unless the message already failed or was received: its
// WHERE clause is domain.MessageStatus.Advance(StatusFailed) in SQL
// (TestMarkFailedMirrorsAdvance checks they agree).
func (r *MessageRepo) MarkFailed(ctx context.Context, ws, id domain.ID, e domain.MessageError, at time.Time, ev domain.Occurrence, holdUntil time.Time) error {
	code, title, detail := errorColumns(&e)
	return pgx.BeginFunc(ctx, r.q, func(tx pgx.Tx) error {
		var contactID domain.ID
		err := tx.QueryRow(ctx, `
			UPDATE messages SET status = 'failed', failed_at = $3, error_code = $4, error_title = $5, error_detail = $6
			WHERE workspace_id = $1 AND id = $2 AND status NOT IN ('failed', 'received')
			RETURNING contact_id`,
			ws, id, at, code, title, detail).Scan(&contactID)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		if !holdUntil.IsZero() {
			if err := holdMarketing(ctx, tx, ws, contactID, holdUntil); err != nil {
				return err
			}
		}
		return NewEventLog(tx).Append(ctx, ev)
	})
}

// holdMarketing keeps a contact from marketing templates until until (a later hold stays).
func holdMarketing(ctx context.Context, q Querier, ws, contactID domain.ID, until time.Time) error {
	_, err := q.Exec(ctx, `UPDATE contacts SET marketing_hold_until = greatest(marketing_hold_until, $3)
		WHERE workspace_id = $1 AND id = $2`, ws, contactID, until)
	return err
}

// errorColumns are e's error_code, error_title and error_detail: all NULL without an
// error, and a NULL code when Meta gave none (scanMessage reads them back).
func errorColumns(e *domain.MessageError) (code *int, title, detail *string) {
	if e == nil {
		return nil, nil, nil
	}
	if e.Code != 0 {
		code = &e.Code
	}
	return code, &e.Title, &e.Detail
}

// Status reads a message's status.
func (r *MessageRepo) Status(ctx context.Context, ws, id domain.ID) (domain.MessageStatus, error) {
	var s string
	err := r.q.QueryRow(ctx, `SELECT status FROM messages WHERE workspace_id = $1 AND id = $2`, ws, id).Scan(&s)
	return domain.MessageStatus(s), notFound(err, "message")
}

// FlagReconnect marks a connected number needs_reconnect (its token stopped working).
func (r *MessageRepo) FlagReconnect(ctx context.Context, ws, numberID domain.ID, reason string) error {
	_, err := r.q.Exec(ctx, `
		UPDATE phone_numbers SET status = 'needs_reconnect', failure_reason = $3, updated_at = now()
		WHERE workspace_id = $1 AND id = $2 AND status = 'connected'`, ws, numberID, reason)
	return err
}
