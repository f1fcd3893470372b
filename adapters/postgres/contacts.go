package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

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

func scanContact(row pgx.CollectableRow) (domain.Contact, error) {
	var c domain.Contact
	var attrs []byte
	var src string
	err := row.Scan(&c.WorkspaceID, &c.ID, &c.Phone, &c.WaID, &c.BSUID, &c.Name, &c.Tags, &attrs, &c.AssignedTo,
		&c.OptedOut, &c.OptedOutAt, &src, &c.MarketingOptedOut, &c.LastInboundAt, &c.ServiceWindowExpiresAt,
		&c.CreatedAt, &c.UpdatedAt)
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

// Create inserts a contact; a phone or BSUID already in the workspace is KindContactExists.
func (r *ContactRepo) Create(ctx context.Context, c domain.Contact) error {
	attrs, err := json.Marshal(c.Attributes)
	if err != nil {
		return err
	}
	_, err = r.q.Exec(ctx, `
		INSERT INTO contacts (workspace_id, id, phone, wa_id, bsuid, name, tags, attributes, assigned_to,
			opted_out, opted_out_at, opt_out_source, marketing_opted_out, last_inbound_at,
			service_window_expires_at, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`,
		c.WorkspaceID, c.ID, nullIfEmpty(c.Phone), nullIfEmpty(c.WaID), nullIfEmpty(c.BSUID), c.Name, c.Tags, attrs,
		c.AssignedTo, c.OptedOut, c.OptedOutAt, nullIfEmpty(string(c.OptOutSource)), c.MarketingOptedOut,
		c.LastInboundAt, c.ServiceWindowExpiresAt, c.CreatedAt, c.UpdatedAt)
	if uniqueViolation(err, "") {
		return domain.Errorf(domain.KindContactExists, "a contact with that phone number already exists")
	}
	return err
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
	attrs, err := json.Marshal(c.Attributes)
	if err != nil {
		return err
	}
	_, err = r.q.Exec(ctx, `
		UPDATE contacts SET name = $3, tags = $4, attributes = $5, assigned_to = $6, opted_out = $7,
			opted_out_at = $8, opt_out_source = $9, marketing_opted_out = $10, last_inbound_at = $11,
			service_window_expires_at = $12, updated_at = $13, phone = $14, wa_id = $15, bsuid = $16
		WHERE workspace_id = $1 AND id = $2`,
		c.WorkspaceID, c.ID, c.Name, c.Tags, attrs, c.AssignedTo, c.OptedOut, c.OptedOutAt,
		nullIfEmpty(string(c.OptOutSource)), c.MarketingOptedOut, c.LastInboundAt, c.ServiceWindowExpiresAt,
		c.UpdatedAt, nullIfEmpty(c.Phone), nullIfEmpty(c.WaID), nullIfEmpty(c.BSUID))
	return err
}

// Delete removes a contact.
func (r *ContactRepo) Delete(ctx context.Context, ws, id domain.ID) error {
	_, err := r.q.Exec(ctx, `DELETE FROM contacts WHERE workspace_id = $1 AND id = $2`, ws, id)
	return err
}

// IsMember reports whether the user belongs to the workspace (assignees must).
func (r *ContactRepo) IsMember(ctx context.Context, ws, userID domain.ID) (bool, error) {
	var ok bool
	err := r.q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM memberships WHERE workspace_id = $1 AND user_id = $2)`, ws, userID).Scan(&ok)
	return ok, err
}
