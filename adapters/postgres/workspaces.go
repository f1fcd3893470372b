package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wabaplatform/waba/domain"
	"github.com/wabaplatform/waba/domain/access"
)

// WorkspaceRepo stores users, workspaces, memberships and API keys.
type WorkspaceRepo struct{ q Querier }

// NewWorkspaceRepo returns the repository over q (a pool or a transaction).
func NewWorkspaceRepo(q Querier) *WorkspaceRepo { return &WorkspaceRepo{q: q} }

// optionalRow collects at most one row: ok is false, with no error, when there is none.
func optionalRow[T any](rows pgx.Rows, err error, scan pgx.RowToFunc[T]) (T, bool, error) {
	var zero T
	if err != nil {
		return zero, false, err
	}
	v, err := pgx.CollectExactlyOneRow(rows, scan)
	if errors.Is(err, pgx.ErrNoRows) {
		return zero, false, nil
	}
	return v, err == nil, err
}

func notFound(err error, what string) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return domain.NotFound(what)
	}
	return err
}

// CreateUser inserts a user; a taken email (any case) is KindEmailTaken.
func (r *WorkspaceRepo) CreateUser(ctx context.Context, u domain.User) error {
	_, err := r.q.Exec(ctx, `INSERT INTO users (id, email, name, password_hash, created_at) VALUES ($1, $2, $3, $4, $5)`,
		u.ID, u.Email, u.Name, u.PasswordHash, u.CreatedAt)
	if uniqueViolation(err, "users_email_key") {
		return domain.Errorf(domain.KindEmailTaken, "that email is already registered")
	}
	return err
}

func (r *WorkspaceRepo) user(ctx context.Context, where string, arg any) (domain.User, error) {
	var u domain.User
	err := r.q.QueryRow(ctx, `SELECT id, email, name, password_hash, created_at FROM users WHERE `+where, arg).
		Scan(&u.ID, &u.Email, &u.Name, &u.PasswordHash, &u.CreatedAt)
	return u, notFound(err, "user")
}

// UserByEmail finds a user by email, case-insensitively.
func (r *WorkspaceRepo) UserByEmail(ctx context.Context, email string) (domain.User, error) {
	return r.user(ctx, `lower(email) = lower($1)`, email)
}

// UserByID finds a user.
func (r *WorkspaceRepo) UserByID(ctx context.Context, id domain.ID) (domain.User, error) {
	return r.user(ctx, `id = $1`, id)
}

// Memberships lists the workspaces a user belongs to, in the order they joined (ties by
// workspace id, so the order is stable).
func (r *WorkspaceRepo) Memberships(ctx context.Context, userID domain.ID) ([]domain.Membership, error) {
	rows, err := r.q.Query(ctx, `
		SELECT m.workspace_id, w.name, m.role FROM memberships m JOIN workspaces w ON w.id = m.workspace_id
		WHERE m.user_id = $1 AND w.deleted_at IS NULL ORDER BY m.created_at, m.workspace_id`, userID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (domain.Membership, error) {
		var m domain.Membership
		var role string
		err := row.Scan(&m.WorkspaceID, &m.WorkspaceName, &role)
		m.Role = access.Role(role)
		return m, err
	})
}

// ActiveAPIKey finds an unrevoked key of a workspace that is not deleted by its hash.
func (r *WorkspaceRepo) ActiveAPIKey(ctx context.Context, hash []byte) (domain.APIKey, error) {
	var k domain.APIKey
	var role string
	err := r.q.QueryRow(ctx, `
		SELECT k.workspace_id, k.id, k.name, k.role, k.created_by, k.created_at FROM api_keys k
		JOIN workspaces w ON w.id = k.workspace_id AND w.deleted_at IS NULL
		WHERE k.key_hash = $1 AND k.revoked_at IS NULL`, hash).
		Scan(&k.WorkspaceID, &k.ID, &k.Name, &role, &k.CreatedBy, &k.CreatedAt)
	k.Role = access.Role(role)
	return k, notFound(err, "api key")
}

// CreateWorkspace inserts a workspace.
func (r *WorkspaceRepo) CreateWorkspace(ctx context.Context, w domain.Workspace) error {
	_, err := r.q.Exec(ctx, `INSERT INTO workspaces (id, name, plan, created_at, updated_at) VALUES ($1, $2, $3, $4, $5)`,
		w.ID, w.Name, string(w.Plan), w.CreatedAt, w.UpdatedAt)
	return err
}

// Workspace reads one workspace; a deleted one is not found.
func (r *WorkspaceRepo) Workspace(ctx context.Context, id domain.ID) (domain.Workspace, error) {
	return r.workspace(ctx, id, "")
}

func (r *WorkspaceRepo) workspace(ctx context.Context, id domain.ID, lock string) (domain.Workspace, error) {
	var w domain.Workspace
	var plan string
	err := r.q.QueryRow(ctx, `SELECT id, name, plan, created_at, updated_at FROM workspaces
		WHERE id = $1 AND deleted_at IS NULL `+lock, id).
		Scan(&w.ID, &w.Name, &plan, &w.CreatedAt, &w.UpdatedAt)
	w.Plan = domain.Plan(plan)
	return w, notFound(err, "workspace")
}

// UpdateWorkspace writes name and plan.
func (r *WorkspaceRepo) UpdateWorkspace(ctx context.Context, w domain.Workspace) error {
	_, err := r.q.Exec(ctx, `UPDATE workspaces SET name = $2, plan = $3, updated_at = $4 WHERE id = $1`,
		w.ID, w.Name, string(w.Plan), w.UpdatedAt)
	return err
}

// AddMember inserts a membership; an existing one is KindConflict.
func (r *WorkspaceRepo) AddMember(ctx context.Context, workspaceID, userID domain.ID, role access.Role, at time.Time) error {
	_, err := r.q.Exec(ctx, `INSERT INTO memberships (workspace_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)`,
		workspaceID, userID, string(role), at)
	if uniqueViolation(err, "memberships_pkey") {
		return domain.Errorf(domain.KindConflict, "that user is already a member")
	}
	return err
}

const memberSelect = `SELECT m.workspace_id, m.user_id, u.email, u.name, m.role, m.created_at
	FROM memberships m JOIN users u ON u.id = m.user_id`

func scanMember(row pgx.CollectableRow) (domain.Member, error) {
	var m domain.Member
	var role string
	err := row.Scan(&m.WorkspaceID, &m.UserID, &m.Email, &m.Name, &role, &m.CreatedAt)
	m.Role = access.Role(role)
	return m, err
}

// Member reads one membership with the user's details.
func (r *WorkspaceRepo) Member(ctx context.Context, workspaceID, userID domain.ID) (domain.Member, error) {
	rows, err := r.q.Query(ctx, memberSelect+` WHERE m.workspace_id = $1 AND m.user_id = $2`, workspaceID, userID)
	if err != nil {
		return domain.Member{}, err
	}
	m, err := pgx.CollectExactlyOneRow(rows, scanMember)
	return m, notFound(err, "member")
}

// Members returns up to limit members of a workspace by user id (UUIDv7: sign-up order),
// with user ids above after (all from the first when after is the zero id). The key is the
// membership's primary key, so a page boundary survives role changes and removals.
func (r *WorkspaceRepo) Members(ctx context.Context, workspaceID, after domain.ID, limit int) ([]domain.Member, error) {
	w := &where{}
	w.add("m.workspace_id = $?", workspaceID)
	w.cursor("m.user_id > $?", after)
	rows, err := r.q.Query(ctx, memberSelect+` WHERE `+w.sql()+` ORDER BY m.user_id LIMIT `+w.next(), append(w.args, limit)...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scanMember)
}

// SetMemberRole changes a role.
func (r *WorkspaceRepo) SetMemberRole(ctx context.Context, workspaceID, userID domain.ID, role access.Role) error {
	_, err := r.q.Exec(ctx, `UPDATE memberships SET role = $3 WHERE workspace_id = $1 AND user_id = $2`, workspaceID, userID, string(role))
	return err
}

// RemoveMember deletes a membership.
func (r *WorkspaceRepo) RemoveMember(ctx context.Context, workspaceID, userID domain.ID) error {
	_, err := r.q.Exec(ctx, `DELETE FROM memberships WHERE workspace_id = $1 AND user_id = $2`, workspaceID, userID)
	return err
}

// LockOwners locks the owner rows of the workspace (FOR UPDATE) and counts them.
func (r *WorkspaceRepo) LockOwners(ctx context.Context, workspaceID domain.ID) (int, error) {
	rows, err := r.q.Query(ctx, `SELECT user_id FROM memberships WHERE workspace_id = $1 AND role = 'owner' FOR UPDATE`, workspaceID)
	if err != nil {
		return 0, err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[domain.ID])
	return len(ids), err
}

// CreateAPIKey inserts a key (its hash only).
func (r *WorkspaceRepo) CreateAPIKey(ctx context.Context, k domain.APIKey) error {
	_, err := r.q.Exec(ctx, `
		INSERT INTO api_keys (workspace_id, id, name, role, key_hash, created_by, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		k.WorkspaceID, k.ID, k.Name, string(k.Role), k.Hash, k.CreatedBy, k.CreatedAt)
	return err
}

// APIKeys returns up to limit active keys of a workspace, newest first, with ids below
// before (from the newest when before is the zero id).
func (r *WorkspaceRepo) APIKeys(ctx context.Context, workspaceID, before domain.ID, limit int) ([]domain.APIKey, error) {
	w := &where{}
	w.add("workspace_id = $?", workspaceID)
	w.cursor("id < $?", before)
	rows, err := r.q.Query(ctx, `SELECT workspace_id, id, name, role, created_by, created_at FROM api_keys
		WHERE revoked_at IS NULL AND `+w.sql()+` ORDER BY id DESC LIMIT `+w.next(), append(w.args, limit)...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (domain.APIKey, error) {
		var k domain.APIKey
		var role string
		err := row.Scan(&k.WorkspaceID, &k.ID, &k.Name, &role, &k.CreatedBy, &k.CreatedAt)
		k.Role = access.Role(role)
		return k, err
	})
}

// RevokeAPIKey marks a key revoked; absent or already revoked is KindNotFound.
func (r *WorkspaceRepo) RevokeAPIKey(ctx context.Context, workspaceID, id domain.ID, at time.Time) error {
	tag, err := r.q.Exec(ctx, `UPDATE api_keys SET revoked_at = $3 WHERE workspace_id = $1 AND id = $2 AND revoked_at IS NULL`,
		workspaceID, id, at)
	if err == nil && tag.RowsAffected() == 0 {
		return domain.NotFound("api key")
	}
	return err
}

// SetPassword replaces a user's password hash.
func (r *WorkspaceRepo) SetPassword(ctx context.Context, userID domain.ID, hash string) error {
	tag, err := r.q.Exec(ctx, `UPDATE users SET password_hash = $2 WHERE id = $1`, userID, hash)
	if err == nil && tag.RowsAffected() == 0 {
		return domain.NotFound("user")
	}
	return err
}
