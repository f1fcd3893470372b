package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wabaplatform/waba/application/audit"
	"github.com/wabaplatform/waba/domain"
)

// AuditRepo writes and reads audit_logs.
type AuditRepo struct{ q Querier }

// NewAuditRepo returns the repository over q (a pool or a transaction).
func NewAuditRepo(q Querier) *AuditRepo { return &AuditRepo{q: q} }

// Record inserts one entry. The request's user agent and request id are the client's
// bytes: text they cannot be stored as (NUL, invalid UTF-8) becomes U+FFFD rather than
// failing the audited action with it.
func (r *AuditRepo) Record(ctx context.Context, e domain.AuditEntry) error {
	sql, args, err := auditInsert(e, 1)
	if err != nil {
		return err
	}
	_, err = r.q.Exec(ctx, sql, args...)
	return err
}

// auditInsert is the statement that stores e, its parameters numbered from first: Record
// runs it, and the event log writes it with the event it derives from.
func auditInsert(e domain.AuditEntry, first int) (string, []any, error) {
	details := e.Details
	if details == nil {
		details = map[string]any{}
	}
	raw, err := json.Marshal(details)
	if err != nil {
		return "", nil, fmt.Errorf("audit details: %w", err)
	}
	var ws *domain.ID
	if !e.WorkspaceID.IsZero() {
		ws = &e.WorkspaceID
	}
	return `
		INSERT INTO audit_logs (id, workspace_id, actor_type, actor_id, action, resource_type,
			resource_id, details, ip, user_agent, request_id, created_at, expires_at)
		VALUES (` + params(first, 13) + `)`,
		[]any{e.ID, ws, string(e.ActorType), e.ActorID, e.Action, e.ResourceType, e.ResourceID,
			sanitizeJSONB(raw), cleanText(e.IP), cleanText(e.UserAgent), cleanText(e.RequestID), e.CreatedAt, e.ExpiresAt}, nil
}

const auditColumns = `id, coalesce(workspace_id, '00000000-0000-0000-0000-000000000000'), actor_type,
	actor_id, action, resource_type, resource_id, details, ip, user_agent, request_id, created_at, expires_at`

func auditWhere(ws domain.ID, f audit.Filter) *where {
	w := &where{}
	w.add("workspace_id = $?", ws)
	if f.Action != "" {
		w.add("action = $?", f.Action)
	}
	if f.ActorID != "" {
		w.add("actor_id = $?", f.ActorID)
	}
	if f.ResourceType != "" {
		w.add("resource_type = $?", f.ResourceType)
	}
	if f.ResourceID != "" {
		w.add("resource_id = $?", f.ResourceID)
	}
	if !f.From.IsZero() {
		w.add("created_at >= $?", f.From)
	}
	if !f.To.IsZero() {
		w.add("created_at <= $?", f.To)
	}
	w.cursor("id < $?", f.Cursor)
	return w
}

// List returns up to limit matching entries, newest first.
func (r *AuditRepo) List(ctx context.Context, ws domain.ID, f audit.Filter, limit int) ([]domain.AuditEntry, error) {
	w := auditWhere(ws, f)
	rows, err := r.q.Query(ctx, `SELECT `+auditColumns+` FROM audit_logs WHERE `+w.sql()+` ORDER BY id DESC LIMIT `+w.next(),
		append(w.args, limit)...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scanAudit)
}

// Each streams matching entries newest first. Rows are read from the server as they are
// produced (pgx does not buffer the result set), so memory stays flat at any size.
func (r *AuditRepo) Each(ctx context.Context, ws domain.ID, f audit.Filter, fn func(domain.AuditEntry) error) error {
	w := auditWhere(ws, f)
	rows, err := r.q.Query(ctx, `SELECT `+auditColumns+` FROM audit_logs WHERE `+w.sql()+` ORDER BY id DESC`, w.args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		e, err := scanAudit(rows)
		if err != nil {
			return err
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	return rows.Err()
}

// DeleteExpired deletes up to batch entries that expired before now.
func (r *AuditRepo) DeleteExpired(ctx context.Context, now time.Time, batch int) (int, error) {
	tag, err := r.q.Exec(ctx, `
		DELETE FROM audit_logs WHERE id IN (
			SELECT id FROM audit_logs WHERE expires_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`, now, batch)
	return int(tag.RowsAffected()), err
}

func scanAudit(row pgx.CollectableRow) (domain.AuditEntry, error) {
	var e domain.AuditEntry
	var actorType string
	var details []byte
	err := row.Scan(&e.ID, &e.WorkspaceID, &actorType, &e.ActorID, &e.Action, &e.ResourceType,
		&e.ResourceID, &details, &e.IP, &e.UserAgent, &e.RequestID, &e.CreatedAt, &e.ExpiresAt)
	if err != nil {
		return e, err
	}
	e.ActorType = domain.ActorType(actorType)
	if len(details) > 0 {
		if err := json.Unmarshal(details, &e.Details); err != nil {
			return e, fmt.Errorf("audit details: %w", err)
		}
	}
	return e, nil
}
