package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wabaplatform/waba/domain"
	"github.com/wabaplatform/waba/domain/access"
)

// InvitationRepo stores workspace invitations; a token is kept only as its hash.
type InvitationRepo struct{ q Querier }

// NewInvitationRepo returns the repository over q (a pool or a transaction).
func NewInvitationRepo(q Querier) *InvitationRepo { return &InvitationRepo{q: q} }

// CreateInvitation inserts an invitation. A second open one for the email in the workspace
// (a concurrent invite that won the race) is KindConflict.
func (r *InvitationRepo) CreateInvitation(ctx context.Context, inv domain.Invitation, tokenHash []byte) error {
	_, err := r.q.Exec(ctx, `
		INSERT INTO invitations (workspace_id, id, email, role, token_hash, invited_by, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		inv.WorkspaceID, inv.ID, inv.Email, string(inv.Role), tokenHash, inv.InvitedBy, inv.CreatedAt, inv.ExpiresAt)
	if uniqueViolation(err, "invitations_ws_email_open_key") {
		return domain.Errorf(domain.KindConflict, "an invitation to that email is being created; try again")
	}
	return err
}

const invitationSelect = `SELECT workspace_id, id, email, role, invited_by, created_at, expires_at,
	accepted_at, accepted_by, revoked_at FROM invitations`

// invitationOpen is the condition of an invitation neither accepted nor revoked (expired or not).
const invitationOpen = `accepted_at IS NULL AND revoked_at IS NULL`

func scanInvitation(row pgx.CollectableRow) (domain.Invitation, error) {
	var inv domain.Invitation
	var role string
	err := row.Scan(&inv.WorkspaceID, &inv.ID, &inv.Email, &role, &inv.InvitedBy, &inv.CreatedAt, &inv.ExpiresAt,
		&inv.AcceptedAt, &inv.AcceptedBy, &inv.RevokedAt)
	inv.Role = access.Role(role)
	return inv, err
}

// lockedInvitation reads one invitation FOR UPDATE: accepting, revoking and superseding it
// are serialised, so a token is spent once.
func (r *InvitationRepo) lockedInvitation(ctx context.Context, where string, args ...any) (domain.Invitation, error) {
	rows, err := r.q.Query(ctx, invitationSelect+` WHERE `+where+` FOR UPDATE`, args...)
	if err != nil {
		return domain.Invitation{}, err
	}
	inv, err := pgx.CollectExactlyOneRow(rows, scanInvitation)
	return inv, notFound(err, "invitation")
}

// OpenInvitation locks the workspace's invitation id if it is neither accepted nor revoked.
func (r *InvitationRepo) OpenInvitation(ctx context.Context, workspaceID, id domain.ID) (domain.Invitation, error) {
	return r.lockedInvitation(ctx, `workspace_id = $1 AND id = $2 AND `+invitationOpen, workspaceID, id)
}

// OpenInvitationFor locks the workspace's open invitation to email.
func (r *InvitationRepo) OpenInvitationFor(ctx context.Context, workspaceID domain.ID, email string) (domain.Invitation, error) {
	return r.lockedInvitation(ctx, `workspace_id = $1 AND email = $2 AND `+invitationOpen, workspaceID, email)
}

// InvitationByToken locks the invitation of a token hash, whatever its state.
func (r *InvitationRepo) InvitationByToken(ctx context.Context, tokenHash []byte) (domain.Invitation, error) {
	return r.lockedInvitation(ctx, `token_hash = $1`, tokenHash)
}

// Invitations returns up to limit open invitations of a workspace, newest first, with ids
// below before (from the newest when before is the zero id).
func (r *InvitationRepo) Invitations(ctx context.Context, workspaceID, before domain.ID, limit int) ([]domain.Invitation, error) {
	w := &where{}
	w.add("workspace_id = $?", workspaceID)
	w.cursor("id < $?", before)
	rows, err := r.q.Query(ctx, invitationSelect+` WHERE `+invitationOpen+` AND `+w.sql()+` ORDER BY id DESC LIMIT `+w.next(),
		append(w.args, limit)...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scanInvitation)
}

// RevokeInvitation marks an open invitation revoked; otherwise KindNotFound.
func (r *InvitationRepo) RevokeInvitation(ctx context.Context, workspaceID, id domain.ID, at time.Time) error {
	return r.close(ctx, `revoked_at = $3`, workspaceID, id, at)
}

// AcceptInvitation marks an open invitation accepted by userID; otherwise KindNotFound.
func (r *InvitationRepo) AcceptInvitation(ctx context.Context, workspaceID, id, userID domain.ID, at time.Time) error {
	return r.close(ctx, `accepted_at = $3, accepted_by = $4`, workspaceID, id, at, userID)
}

func (r *InvitationRepo) close(ctx context.Context, set string, workspaceID, id domain.ID, args ...any) error {
	tag, err := r.q.Exec(ctx, `UPDATE invitations SET `+set+` WHERE workspace_id = $1 AND id = $2 AND `+invitationOpen,
		append([]any{workspaceID, id}, args...)...)
	if err == nil && tag.RowsAffected() == 0 {
		return domain.NotFound("invitation")
	}
	return err
}
