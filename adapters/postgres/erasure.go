package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wabaplatform/waba/application/workspaces"
	"github.com/wabaplatform/waba/domain"
)

// LockWorkspace reads a workspace that is not deleted and locks its row (FOR UPDATE).
func (r *WorkspaceRepo) LockWorkspace(ctx context.Context, id domain.ID) (domain.Workspace, error) {
	return r.workspace(ctx, id, "FOR UPDATE")
}

// MarkWorkspaceDeleted sets deleted_at and deletes the memberships, API keys and open
// invitations of the workspace in one round trip.
func (r *WorkspaceRepo) MarkWorkspaceDeleted(ctx context.Context, id domain.ID, at time.Time) error {
	var b pgx.Batch
	b.Queue(`UPDATE workspaces SET deleted_at = $2, updated_at = $2 WHERE id = $1`, id, at)
	b.Queue(`DELETE FROM memberships WHERE workspace_id = $1`, id)
	b.Queue(`DELETE FROM api_keys WHERE workspace_id = $1`, id)
	b.Queue(`DELETE FROM invitations WHERE workspace_id = $1 AND accepted_at IS NULL AND revoked_at IS NULL`, id)
	return r.q.SendBatch(ctx, &b).Close()
}

// Erasure removes what deleted workspaces leave (workspaces.ErasureStore). It runs over the
// pool: every statement commits on its own, so each is short and a stopped erasure keeps
// what it has done.
type Erasure struct {
	q     Querier
	batch int
}

// NewErasure returns the erasure store over q, deleting up to batch rows per statement.
func NewErasure(q Querier, batch int) *Erasure { return &Erasure{q: q, batch: batch} }

// ErasureState implements workspaces.ErasureStore.
func (e *Erasure) ErasureState(ctx context.Context, id domain.ID) (workspaces.ErasureState, error) {
	var deleted bool
	err := e.q.QueryRow(ctx, `SELECT deleted_at IS NOT NULL FROM workspaces WHERE id = $1`, id).Scan(&deleted)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return workspaces.Erased, nil
	case err != nil:
		return 0, err
	case deleted:
		return workspaces.AwaitingErasure, nil
	}
	return workspaces.NotDeleted, nil
}

// Numbers implements workspaces.ErasureStore.
func (e *Erasure) Numbers(ctx context.Context, ws domain.ID) ([]domain.PhoneNumber, error) {
	return NewPhoneNumberRepo(e.q).List(ctx, ws)
}

// WABAInUse implements workspaces.ErasureStore.
func (e *Erasure) WABAInUse(ctx context.Context, wabaID string, except domain.ID) (bool, error) {
	var used bool
	err := e.q.QueryRow(ctx, `SELECT EXISTS (
		SELECT 1 FROM phone_numbers p JOIN workspaces w ON w.id = p.workspace_id
		WHERE p.waba_id = $1 AND p.workspace_id <> $2 AND p.status = 'connected' AND w.deleted_at IS NULL)`,
		wabaID, except).Scan(&used)
	return used, err
}

// DeleteNumber implements workspaces.ErasureStore.
func (e *Erasure) DeleteNumber(ctx context.Context, ws, id domain.ID) error {
	_, err := e.q.Exec(ctx, `DELETE FROM phone_numbers WHERE workspace_id = $1 AND id = $2`, ws, id)
	return err
}

// erasedTable is one table the erasure empties of a workspace's rows: rows picks up to $2
// of them (by ctid) for workspace $1.
type erasedTable struct {
	name, rows string
}

func byWorkspace(table, extra string) erasedTable {
	return erasedTable{name: table, rows: `SELECT ctid FROM ` + table + ` WHERE workspace_id = $1 ` + extra + ` LIMIT $2`}
}

// erasedTables are every table that holds rows of a workspace, in the order they are
// emptied: a new table with a workspace_id column must be added here (a test checks it).
// The tables indexed by workspace come first; the two that are not are read last, when
// little of the workspace is left to find.
var erasedTables = []erasedTable{
	// Statuses matched to the workspace's messages, found through them before they go.
	{name: "message_statuses", rows: `SELECT s.ctid FROM messages m JOIN message_statuses s ON s.wamid = m.wamid
		WHERE m.workspace_id = $1 AND m.wamid IS NOT NULL LIMIT $2`},
	byWorkspace("media", ""), // before the messages they reference
	byWorkspace("messages", ""),
	// A campaign's recipients and counters before it (their foreign key).
	byWorkspace("campaign_recipients", ""),
	byWorkspace("campaign_counts", ""),
	byWorkspace("campaigns", ""),
	byWorkspace("automatic_replies", ""), // before the contacts (their foreign key)
	byWorkspace("automation_rules", ""),
	byWorkspace("automation_settings", ""), // one row
	byWorkspace("notes", ""),
	byWorkspace("conversations", ""),
	byWorkspace("contacts", ""),
	byWorkspace("suppressions", ""),
	byWorkspace("templates", ""),
	byWorkspace("webhook_deliveries", ""), // before their endpoints (the foreign key)
	byWorkspace("webhook_endpoints", ""),
	byWorkspace("idempotency_keys", ""),
	byWorkspace("billing_reservations", ""),
	byWorkspace("billing_accounts", ""), // one row
	byWorkspace("phone_numbers", ""),    // emptied number by number before, after their unsubscribe
	byWorkspace("invitations", ""),
	byWorkspace("stream_tickets", ""), // a minute's worth at most: read through its primary key
	byWorkspace("api_keys", ""),
	byWorkspace("memberships", ""),
	// The record of the deletion stays, for the audit trail's 90 days (the normal purges).
	byWorkspace("events", `AND kind <> 'workspace.deleted'`),
	byWorkspace("audit_logs", `AND action <> 'workspace.deleted'`),
	byWorkspace("message_statuses", ""),
	byWorkspace("account_events", ""),
}

// EraseRows implements workspaces.ErasureStore: each table in turn, batch by batch, until
// a batch comes back short.
func (e *Erasure) EraseRows(ctx context.Context, ws domain.ID) error {
	for _, t := range erasedTables {
		for {
			tag, err := e.q.Exec(ctx, `DELETE FROM `+t.name+` WHERE ctid = ANY (ARRAY(`+t.rows+`))`, ws, e.batch)
			if err != nil {
				return fmt.Errorf("erase %s: %w", t.name, err)
			}
			if tag.RowsAffected() < int64(e.batch) {
				break
			}
		}
	}
	return nil
}

// DeleteWorkspace implements workspaces.ErasureStore: only a deleted workspace's row goes
// (the foreign keys cascade to whatever was written since).
//
// The event log and the audit trail have no foreign key to the workspace: the same
// statement sweeps what a request still in flight appended to them after EraseRows had
// passed (a few rows at most), keeping the deletion's own record.
func (e *Erasure) DeleteWorkspace(ctx context.Context, id domain.ID) error {
	_, err := e.q.Exec(ctx, `
		WITH w AS (DELETE FROM workspaces WHERE id = $1 AND deleted_at IS NOT NULL RETURNING id),
		     ev AS (DELETE FROM events WHERE workspace_id IN (SELECT id FROM w) AND kind <> 'workspace.deleted'),
		     au AS (DELETE FROM audit_logs WHERE workspace_id IN (SELECT id FROM w) AND action <> 'workspace.deleted')
		SELECT count(*) FROM w`, id)
	return err
}
