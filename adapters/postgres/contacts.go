package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wabaplatform/waba/application/contacts"
	"github.com/wabaplatform/waba/domain"
)

// ContactRepo stores contacts. Every query is scoped by workspace, and every read by
// assignee when the view says so: an agent never reads rows outside their view (and so never
// reaches Update or Delete for one).
type ContactRepo struct{ q Querier }

// NewContactRepo returns the repository over q (a pool or a transaction).
func NewContactRepo(q Querier) *ContactRepo { return &ContactRepo{q: q} }

const contactColumns = `workspace_id, id, coalesce(phone, ''), coalesce(wa_id, ''), coalesce(bsuid, ''), name,
	tags, attributes, assigned_to, opted_out, opted_out_at, coalesce(opt_out_source, ''), marketing_opted_out,
	last_inbound_at, service_window_expires_at, created_at, updated_at`

func scanContact(row pgx.CollectableRow) (domain.Contact, error) { return scanContactInto(row) }

// scanContactInto reads contactColumns and then into extra, the columns a query adds.
func scanContactInto(row pgx.CollectableRow, extra ...any) (domain.Contact, error) {
	var c domain.Contact
	var attrs []byte
	var src string
	err := row.Scan(append([]any{&c.WorkspaceID, &c.ID, &c.Phone, &c.WaID, &c.BSUID, &c.Name, &c.Tags, &attrs, &c.AssignedTo,
		&c.OptedOut, &c.OptedOutAt, &src, &c.MarketingOptedOut, &c.LastInboundAt, &c.ServiceWindowExpiresAt,
		&c.CreatedAt, &c.UpdatedAt}, extra...)...)
	if err != nil {
		return c, err
	}
	c.OptOutSource = domain.OptOutSource(src)
	if c.Tags == nil {
		c.Tags = []string{}
	}
	c.Attributes = map[string]any{}
	if len(attrs) > 0 {
		if err := json.Unmarshal(attrs, &c.Attributes); err != nil {
			return c, fmt.Errorf("contact attributes: %w", err)
		}
	}
	return c, nil
}

func nullIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// suppressionOf, the first CTE of a contact insert, reads what the workspace's suppression
// list ($1 workspace, $3 phone, $5 BSUID) holds for the new contact's addresses: a new
// contact starts with the opt-outs its number or BSUID made before (as a deleted contact).
const suppressionOf = `s AS (
	SELECT ` + suppressionState + ` FROM suppressions WHERE workspace_id = $1 AND address IN ($3, $5))`

// suppressionState combines rows of the suppression list into a new contact's opt-outs:
// opted out since the earliest opt-out, by the customer's own source when any row has one
// (only they may lift it), marketing stopped when any row says so.
const suppressionState = `min(created_at) FILTER (WHERE scope = 'all') AS opted_out_at,
		coalesce(max(source) FILTER (WHERE scope = 'all' AND source <> 'api'), max(source) FILTER (WHERE scope = 'all')) AS source,
		coalesce(bool_or(scope = 'marketing'), false) AS marketing`

// Create inserts a contact and returns it as stored: its opt-out state comes from the
// suppression list, not from c. A phone or BSUID already in the workspace is
// KindContactExists.
func (r *ContactRepo) Create(ctx context.Context, c domain.Contact) (domain.Contact, error) {
	attrs, err := json.Marshal(c.Attributes)
	if err != nil {
		return c, err
	}
	rows, err := r.q.Query(ctx, `
		WITH `+suppressionOf+`
		INSERT INTO contacts (workspace_id, id, phone, wa_id, bsuid, name, tags, attributes, assigned_to,
			opted_out, opted_out_at, opt_out_source, marketing_opted_out, last_inbound_at,
			service_window_expires_at, created_at, updated_at)
		SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, s.opted_out_at IS NOT NULL, s.opted_out_at, s.source, s.marketing,
			$10, $11, $12, $13
		FROM s
		RETURNING `+contactColumns,
		c.WorkspaceID, c.ID, nullIfEmpty(c.Phone), nullIfEmpty(c.WaID), nullIfEmpty(c.BSUID), c.Name, c.Tags, attrs,
		c.AssignedTo, c.LastInboundAt, c.ServiceWindowExpiresAt, c.CreatedAt, c.UpdatedAt)
	if err != nil {
		return c, err
	}
	stored, err := pgx.CollectExactlyOneRow(rows, scanContact)
	if uniqueViolation(err, "") {
		return c, domain.Errorf(domain.KindContactExists, "a contact with that phone number already exists")
	}
	return stored, err
}

// Suppression reads what the suppression list holds for an address (an E.164 phone or a
// BSUID) of the workspace.
func (r *ContactRepo) Suppression(ctx context.Context, ws domain.ID, address string) (domain.Suppression, error) {
	var s domain.Suppression
	err := r.q.QueryRow(ctx, `SELECT coalesce(bool_or(scope = 'all'), false), coalesce(bool_or(scope = 'marketing'), false)
		FROM suppressions WHERE workspace_id = $1 AND address = $2`, ws, address).Scan(&s.OptedOut, &s.MarketingOptedOut)
	return s, err
}

// SetOptOut opts a contact out (with source, at at) or back in and returns it.
func (r *ContactRepo) SetOptOut(ctx context.Context, ws, id domain.ID, out bool, source domain.OptOutSource, at time.Time) (domain.Contact, error) {
	return setOptOut(ctx, r.q, ws, id, out, source, at)
}

// setOptOut changes a contact's opt-out and the suppression list in one statement: an
// opt-out is kept under the contact's phone and BSUID, an opt-in removes it from both.
func setOptOut(ctx context.Context, q Querier, ws, id domain.ID, out bool, source domain.OptOutSource, at time.Time) (domain.Contact, error) {
	rows, err := q.Query(ctx, `
		WITH c AS (
			UPDATE contacts SET opted_out = $3, opted_out_at = CASE WHEN $3 THEN $5::timestamptz END,
				opt_out_source = CASE WHEN $3 THEN $4::text END, updated_at = now()
			WHERE workspace_id = $1 AND id = $2
			RETURNING *),
		kept AS (
			INSERT INTO suppressions (workspace_id, address, scope, source, created_at)
			SELECT c.workspace_id, a.address, 'all', $4, $5 FROM c, unnest(ARRAY[c.phone, c.bsuid]) AS a (address)
			WHERE $3 AND a.address IS NOT NULL
			ON CONFLICT (workspace_id, address, scope) DO UPDATE SET source = EXCLUDED.source, created_at = EXCLUDED.created_at),
		lifted AS (
			DELETE FROM suppressions s USING c
			WHERE NOT $3 AND s.workspace_id = c.workspace_id AND s.scope = 'all' AND s.address IN (c.phone, c.bsuid))
		SELECT `+contactColumns+` FROM c`,
		ws, id, out, string(source), at)
	if err != nil {
		return domain.Contact{}, err
	}
	c, err := pgx.CollectExactlyOneRow(rows, scanContact)
	return c, notFound(err, "contact")
}

// setMarketingOptOut is setOptOut for Meta's marketing stop (scope 'marketing'); changed is
// false when the contact already had value.
func setMarketingOptOut(ctx context.Context, q Querier, ws, id domain.ID, value bool) (changed bool, err error) {
	err = q.QueryRow(ctx, `
		WITH c AS (
			UPDATE contacts SET marketing_opted_out = $3, updated_at = now()
			WHERE workspace_id = $1 AND id = $2 AND marketing_opted_out <> $3
			RETURNING workspace_id, phone, bsuid),
		kept AS (
			INSERT INTO suppressions (workspace_id, address, scope, source, created_at)
			SELECT c.workspace_id, a.address, 'marketing', 'meta', now() FROM c, unnest(ARRAY[c.phone, c.bsuid]) AS a (address)
			WHERE $3 AND a.address IS NOT NULL
			ON CONFLICT DO NOTHING),
		lifted AS (
			DELETE FROM suppressions s USING c
			WHERE NOT $3 AND s.workspace_id = c.workspace_id AND s.scope = 'marketing' AND s.address IN (c.phone, c.bsuid))
		SELECT EXISTS (SELECT 1 FROM c)`, ws, id, value).Scan(&changed)
	return changed, err
}

// Get reads one contact inside view.
func (r *ContactRepo) Get(ctx context.Context, ws, id domain.ID, view contacts.View, forUpdate bool) (domain.Contact, error) {
	sql := `SELECT ` + contactColumns + ` FROM contacts WHERE workspace_id = $1 AND id = $2`
	args := []any{ws, id}
	if view.AssignedTo != nil {
		sql += ` AND assigned_to = $3`
		args = append(args, *view.AssignedTo)
	}
	if forUpdate {
		sql += ` FOR UPDATE`
	}
	rows, err := r.q.Query(ctx, sql, args...)
	if err != nil {
		return domain.Contact{}, err
	}
	c, err := pgx.CollectExactlyOneRow(rows, scanContact)
	return c, notFound(err, "contact")
}

// GetAll reads the contacts of ids inside view, locking them in id order when forUpdate.
func (r *ContactRepo) GetAll(ctx context.Context, ws domain.ID, ids []domain.ID, view contacts.View, forUpdate bool) ([]domain.Contact, error) {
	sql := `SELECT ` + contactColumns + ` FROM contacts WHERE workspace_id = $1 AND id = ANY($2)`
	args := []any{ws, ids}
	if view.AssignedTo != nil {
		sql += ` AND assigned_to = $3`
		args = append(args, *view.AssignedTo)
	}
	sql += ` ORDER BY id`
	if forUpdate {
		sql += ` FOR UPDATE`
	}
	rows, err := r.q.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scanContact)
}

// List returns up to limit contacts matching f inside view, newest first.
func (r *ContactRepo) List(ctx context.Context, ws domain.ID, f contacts.Filter, view contacts.View, limit int) ([]domain.Contact, error) {
	w := &where{}
	w.add("workspace_id = $?", ws)
	if view.AssignedTo != nil {
		w.add("assigned_to = $?", *view.AssignedTo)
	}
	if f.AssignedTo != nil {
		w.add("assigned_to = $?", *f.AssignedTo)
	}
	if f.Phone != "" {
		w.add("phone = $?", f.Phone)
	}
	if f.Tag != "" {
		w.add("tags @> ARRAY[$?::text]", f.Tag)
	}
	if f.OptedOut != nil {
		w.add("opted_out = $?", *f.OptedOut)
	}
	if f.Query != "" {
		w.add(`(name ILIKE $? OR phone LIKE $?)`, "%"+escapeLike(f.Query)+"%")
	}
	w.cursor("id < $?", f.Cursor)
	rows, err := r.q.Query(ctx, `SELECT `+contactColumns+` FROM contacts WHERE `+w.sql()+` ORDER BY id DESC LIMIT `+w.next(),
		append(w.args, limit)...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scanContact)
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// Update writes every mutable field.
func (r *ContactRepo) Update(ctx context.Context, c domain.Contact) error {
	return r.UpdateAll(ctx, []domain.Contact{c})
}

// UpdateAll writes every mutable field of each contact, in one round trip.
func (r *ContactRepo) UpdateAll(ctx context.Context, cs []domain.Contact) error {
	var b pgx.Batch
	for _, c := range cs {
		attrs, err := json.Marshal(c.Attributes)
		if err != nil {
			return err
		}
		b.Queue(`
			UPDATE contacts SET name = $3, tags = $4, attributes = $5, assigned_to = $6, opted_out = $7,
				opted_out_at = $8, opt_out_source = $9, marketing_opted_out = $10, last_inbound_at = $11,
				service_window_expires_at = $12, updated_at = $13, phone = $14, wa_id = $15, bsuid = $16
			WHERE workspace_id = $1 AND id = $2`,
			c.WorkspaceID, c.ID, c.Name, c.Tags, attrs, c.AssignedTo, c.OptedOut, c.OptedOutAt,
			nullIfEmpty(string(c.OptOutSource)), c.MarketingOptedOut, c.LastInboundAt, c.ServiceWindowExpiresAt,
			c.UpdatedAt, nullIfEmpty(c.Phone), nullIfEmpty(c.WaID), nullIfEmpty(c.BSUID))
	}
	return r.q.SendBatch(ctx, &b).Close()
}

// Delete erases a contact with its messages (and their status reports) and the events
// about it (its inbox feed), in one statement. Its suppression list entries and audit
// entries stay, and so does the contact.deleted event that follows.
func (r *ContactRepo) Delete(ctx context.Context, ws, id domain.ID) error {
	_, err := r.q.Exec(ctx, `
		WITH m AS (
			DELETE FROM messages WHERE workspace_id = $1 AND contact_id = $2 RETURNING wamid),
		st AS (
			DELETE FROM message_statuses WHERE wamid IN (SELECT wamid FROM m WHERE wamid IS NOT NULL)),
		ev AS (
			DELETE FROM events WHERE workspace_id = $1 AND contact_id = $2)
		DELETE FROM contacts WHERE workspace_id = $1 AND id = $2`, ws, id)
	return err
}

// IsMember reports whether the user belongs to the workspace (assignees must).
func (r *ContactRepo) IsMember(ctx context.Context, ws, userID domain.ID) (bool, error) {
	return isMember(ctx, r.q, ws, userID)
}

// isMember reports whether the user belongs to the workspace.
func isMember(ctx context.Context, q Querier, ws, userID domain.ID) (bool, error) {
	var ok bool
	err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM memberships WHERE workspace_id = $1 AND user_id = $2)`, ws, userID).Scan(&ok)
	return ok, err
}
