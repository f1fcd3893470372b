package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wabaplatform/waba/application/messaging"
	"github.com/wabaplatform/waba/domain"
)

// IdempotencyRepo stores the outcome of requests made with an Idempotency-Key, so a retry
// replays it on any instance.
type IdempotencyRepo struct{ q Querier }

// NewIdempotencyRepo returns the repository over q (a pool or a transaction).
func NewIdempotencyRepo(q Querier) *IdempotencyRepo { return &IdempotencyRepo{q: q} }

// Find returns the unexpired record for key.
func (r *IdempotencyRepo) Find(ctx context.Context, ws domain.ID, key string) (messaging.IdempotencyRecord, bool, error) {
	rec := messaging.IdempotencyRecord{WorkspaceID: ws, Key: key}
	err := r.q.QueryRow(ctx, `
		SELECT request_hash, response_status, response_body, created_at, expires_at FROM idempotency_keys
		WHERE workspace_id = $1 AND key = $2 AND expires_at > now()`, ws, key).
		Scan(&rec.RequestHash, &rec.Status, &rec.Body, &rec.CreatedAt, &rec.ExpiresAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return rec, false, nil
	}
	return rec, err == nil, err
}

// Save stores a record; an unexpired record under the same key is KindConflict. A
// concurrent transaction saving the same key makes this one wait for its outcome.
func (r *IdempotencyRepo) Save(ctx context.Context, rec messaging.IdempotencyRecord) error {
	tag, err := r.q.Exec(ctx, `
		INSERT INTO idempotency_keys (workspace_id, key, request_hash, response_status, response_body, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (workspace_id, key) DO UPDATE SET request_hash = excluded.request_hash,
			response_status = excluded.response_status, response_body = excluded.response_body,
			created_at = excluded.created_at, expires_at = excluded.expires_at
		WHERE idempotency_keys.expires_at <= now()`,
		rec.WorkspaceID, rec.Key, rec.RequestHash, rec.Status, rec.Body, rec.CreatedAt, rec.ExpiresAt)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return domain.Errorf(domain.KindConflict, "the Idempotency-Key is in use")
	}
	return nil
}

// DeleteExpired removes records past their expiry, at most limit at a time.
func (r *IdempotencyRepo) DeleteExpired(ctx context.Context, now time.Time, limit int) (int, error) {
	tag, err := r.q.Exec(ctx, `DELETE FROM idempotency_keys WHERE ctid IN (
		SELECT ctid FROM idempotency_keys WHERE expires_at <= $1 LIMIT $2)`, now, limit)
	return int(tag.RowsAffected()), err
}
