package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/wabaplatform/waba/domain"
)

// PhoneNumberRepo stores connected WhatsApp numbers with their sealed secrets.
type PhoneNumberRepo struct{ q Querier }

// NewPhoneNumberRepo returns the repository over q (a pool or a transaction).
func NewPhoneNumberRepo(q Querier) *PhoneNumberRepo { return &PhoneNumberRepo{q: q} }

const phoneColumns = `workspace_id, id, phone_number_id, waba_id, display_phone_number, verified_name, status,
	failure_reason, webhook_subscribed, registered, quality_rating, messaging_limit_tier, throughput_level,
	name_status, last_synced_at, token_ciphertext, token_nonce, token_wrapped_key, token_key_id,
	pin_ciphertext, pin_nonce, pin_wrapped_key, pin_key_id, created_at, updated_at`

func scanPhone(row pgx.CollectableRow) (domain.PhoneNumber, error) {
	var p domain.PhoneNumber
	var status string
	var pin domain.Sealed
	var pinKey *string
	err := row.Scan(&p.WorkspaceID, &p.ID, &p.PhoneNumberID, &p.WABAID, &p.DisplayPhoneNumber, &p.VerifiedName, &status,
		&p.FailureReason, &p.WebhookSubscribed, &p.Registered, &p.QualityRating, &p.MessagingLimitTier, &p.ThroughputLevel,
		&p.NameStatus, &p.LastSyncedAt, &p.Token.Ciphertext, &p.Token.Nonce, &p.Token.WrappedKey, &p.Token.KeyID,
		&pin.Ciphertext, &pin.Nonce, &pin.WrappedKey, &pinKey, &p.CreatedAt, &p.UpdatedAt)
	p.Status = domain.NumberStatus(status)
	if pinKey != nil {
		pin.KeyID = *pinKey
		p.PIN = &pin
	}
	return p, err
}

func pinArgs(p domain.PhoneNumber) []any {
	if p.PIN == nil {
		return []any{nil, nil, nil, nil}
	}
	return []any{p.PIN.Ciphertext, p.PIN.Nonce, p.PIN.WrappedKey, p.PIN.KeyID}
}

// Create inserts a number; a phone_number_id connected anywhere is KindConflict.
func (r *PhoneNumberRepo) Create(ctx context.Context, p domain.PhoneNumber) error {
	args := append([]any{p.WorkspaceID, p.ID, p.PhoneNumberID, p.WABAID, string(p.Status),
		p.Token.Ciphertext, p.Token.Nonce, p.Token.WrappedKey, p.Token.KeyID, p.CreatedAt, p.UpdatedAt}, pinArgs(p)...)
	_, err := r.q.Exec(ctx, `
		INSERT INTO phone_numbers (workspace_id, id, phone_number_id, waba_id, status, token_ciphertext, token_nonce,
			token_wrapped_key, token_key_id, created_at, updated_at, pin_ciphertext, pin_nonce, pin_wrapped_key, pin_key_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`, args...)
	if uniqueViolation(err, "phone_numbers_phone_number_id_key") {
		return domain.Errorf(domain.KindConflict, "that phone number is connected to another workspace")
	}
	return err
}

func (r *PhoneNumberRepo) one(ctx context.Context, sql string, args ...any) (domain.PhoneNumber, error) {
	rows, err := r.q.Query(ctx, sql, args...)
	if err != nil {
		return domain.PhoneNumber{}, err
	}
	p, err := pgx.CollectExactlyOneRow(rows, scanPhone)
	return p, notFound(err, "phone number")
}

// ByPhoneNumberID finds a number by Meta's id, in any workspace.
func (r *PhoneNumberRepo) ByPhoneNumberID(ctx context.Context, phoneNumberID string) (domain.PhoneNumber, error) {
	return r.one(ctx, `SELECT `+phoneColumns+` FROM phone_numbers WHERE phone_number_id = $1`, phoneNumberID)
}

// Get reads one number of a workspace, optionally locking it.
func (r *PhoneNumberRepo) Get(ctx context.Context, ws, id domain.ID, forUpdate bool) (domain.PhoneNumber, error) {
	sql := `SELECT ` + phoneColumns + ` FROM phone_numbers WHERE workspace_id = $1 AND id = $2`
	if forUpdate {
		sql += ` FOR UPDATE`
	}
	return r.one(ctx, sql, ws, id)
}

// List returns every number of a workspace, oldest first (the send path picks one of them;
// the API pages with ListPage).
func (r *PhoneNumberRepo) List(ctx context.Context, ws domain.ID) ([]domain.PhoneNumber, error) {
	rows, err := r.q.Query(ctx, `SELECT `+phoneColumns+` FROM phone_numbers WHERE workspace_id = $1 ORDER BY id`, ws)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scanPhone)
}

// ListPage returns up to limit numbers of a workspace, oldest first (by id), with ids above
// after (from the oldest when after is the zero id).
func (r *PhoneNumberRepo) ListPage(ctx context.Context, ws, after domain.ID, limit int) ([]domain.PhoneNumber, error) {
	w := &where{}
	w.add("workspace_id = $?", ws)
	w.cursor("id > $?", after)
	rows, err := r.q.Query(ctx, `SELECT `+phoneColumns+` FROM phone_numbers WHERE `+w.sql()+` ORDER BY id LIMIT `+w.next(),
		append(w.args, limit)...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scanPhone)
}

// Update writes every mutable field, secrets included.
func (r *PhoneNumberRepo) Update(ctx context.Context, p domain.PhoneNumber) error {
	args := append([]any{p.WorkspaceID, p.ID, p.DisplayPhoneNumber, p.VerifiedName, string(p.Status), p.FailureReason,
		p.WebhookSubscribed, p.Registered, p.QualityRating, p.MessagingLimitTier, p.ThroughputLevel, p.NameStatus,
		p.LastSyncedAt, p.Token.Ciphertext, p.Token.Nonce, p.Token.WrappedKey, p.Token.KeyID, p.UpdatedAt, p.WABAID}, pinArgs(p)...)
	_, err := r.q.Exec(ctx, `
		UPDATE phone_numbers SET display_phone_number = $3, verified_name = $4, status = $5, failure_reason = $6,
			webhook_subscribed = $7, registered = $8, quality_rating = $9, messaging_limit_tier = $10,
			throughput_level = $11, name_status = $12, last_synced_at = $13, token_ciphertext = $14, token_nonce = $15,
			token_wrapped_key = $16, token_key_id = $17, updated_at = $18, waba_id = $19, pin_ciphertext = $20,
			pin_nonce = $21, pin_wrapped_key = $22, pin_key_id = $23
		WHERE workspace_id = $1 AND id = $2`, args...)
	return err
}

// Connected lists (workspace id, id) of every connected number.
func (r *PhoneNumberRepo) Connected(ctx context.Context) ([][2]domain.ID, error) {
	rows, err := r.q.Query(ctx, `SELECT workspace_id, id FROM phone_numbers WHERE status = 'connected' ORDER BY id`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) ([2]domain.ID, error) {
		var ids [2]domain.ID
		err := row.Scan(&ids[0], &ids[1])
		return ids, err
	})
}

// SealedAfter returns up to limit numbers whose secrets are not all sealed under keyID,
// after the given id (for resumable key rotation).
func (r *PhoneNumberRepo) SealedAfter(ctx context.Context, keyID string, after domain.ID, limit int) ([]domain.PhoneNumber, error) {
	rows, err := r.q.Query(ctx, `SELECT `+phoneColumns+` FROM phone_numbers
		WHERE (token_key_id <> $1 OR (pin_key_id IS NOT NULL AND pin_key_id <> $1)) AND id > $2
		ORDER BY id LIMIT $3 FOR UPDATE`, keyID, after, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scanPhone)
}
