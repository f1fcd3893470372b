package postgres

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wabaplatform/waba/domain"
)

// MediaRepo keeps media rows (media.Repo).
type MediaRepo struct{ q Querier }

// NewMediaRepo returns the repository over q (a pool or a transaction).
func NewMediaRepo(q Querier) *MediaRepo { return &MediaRepo{q: q} }

const mediaColumns = `workspace_id, id, phone_number_id, source, meta_media_id, mime_type, size, sha256, expected_sha256,
	filename, storage_key, status, failure_reason, message_id, contact_id, send_media_id, send_phone_number_id,
	send_uploaded_at, created_at, updated_at`

func scanMedia(row pgx.CollectableRow) (domain.Media, error) {
	var m domain.Media
	var source, status string
	err := row.Scan(&m.WorkspaceID, &m.ID, &m.PhoneNumberID, &source, &m.MetaMediaID, &m.MimeType, &m.Size, &m.SHA256,
		&m.ExpectedSHA256, &m.Filename, &m.StorageKey, &status, &m.FailureReason, &m.MessageID, &m.ContactID,
		&m.SendMediaID, &m.SendPhoneNumberID, &m.SendUploadedAt, &m.CreatedAt, &m.UpdatedAt)
	m.Source, m.Status = domain.MediaSource(source), domain.MediaStatus(status)
	return m, err
}

// Insert implements media.Repo.
func (r *MediaRepo) Insert(ctx context.Context, m domain.Media) error {
	_, err := r.q.Exec(ctx, `INSERT INTO media (`+mediaColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)`,
		m.WorkspaceID, m.ID, m.PhoneNumberID, string(m.Source), m.MetaMediaID, m.MimeType, m.Size, m.SHA256,
		m.ExpectedSHA256, m.Filename, m.StorageKey, string(m.Status), m.FailureReason, m.MessageID, m.ContactID,
		m.SendMediaID, m.SendPhoneNumberID, m.SendUploadedAt, m.CreatedAt, m.UpdatedAt)
	return err
}

// Get implements media.Repo.
func (r *MediaRepo) Get(ctx context.Context, ws, id domain.ID) (domain.Media, error) {
	rows, err := r.q.Query(ctx, `SELECT `+mediaColumns+` FROM media WHERE workspace_id = $1 AND id = $2`, ws, id)
	if err != nil {
		return domain.Media{}, err
	}
	m, err := pgx.CollectExactlyOneRow(rows, scanMedia)
	return m, notFound(err, "media")
}

// MarkStored implements media.Repo.
func (r *MediaRepo) MarkStored(ctx context.Context, ws, id domain.ID, size int64, sha256, mimeType string, at time.Time) error {
	_, err := r.q.Exec(ctx, `UPDATE media SET status = 'stored', size = $3, sha256 = $4, mime_type = $5, failure_reason = '',
		updated_at = $6 WHERE workspace_id = $1 AND id = $2 AND status = 'pending'`, ws, id, size, sha256, mimeType, at)
	return err
}

// MarkFailed implements media.Repo.
func (r *MediaRepo) MarkFailed(ctx context.Context, ws, id domain.ID, reason string, at time.Time) error {
	_, err := r.q.Exec(ctx, `UPDATE media SET status = 'failed', failure_reason = $3, updated_at = $4
		WHERE workspace_id = $1 AND id = $2 AND status = 'pending'`, ws, id, domain.TruncateRunes(reason, 500), at)
	return err
}

// SetSendable implements media.Repo.
func (r *MediaRepo) SetSendable(ctx context.Context, ws, id domain.ID, mediaID, phoneNumberID string, at time.Time) error {
	_, err := r.q.Exec(ctx, `UPDATE media SET send_media_id = $3, send_phone_number_id = $4, send_uploaded_at = $5, updated_at = $5
		WHERE workspace_id = $1 AND id = $2`, ws, id, mediaID, phoneNumberID, at)
	return err
}

// messageMediaColumn reads, beside messageColumns of a query FROM messages, the media an
// inbound message brought (media_message_key finds it), as JSON or NULL.
const messageMediaColumn = `(SELECT json_build_object('id', md.id, 'status', md.status, 'mime_type', md.mime_type, 'size', md.size)
	FROM media md WHERE md.workspace_id = messages.workspace_id AND md.message_id = messages.id)`

// scanMessageWithMedia reads messageColumns then messageMediaColumn.
func scanMessageWithMedia(row pgx.CollectableRow) (domain.Message, error) {
	var media []byte
	m, err := scanMessageInto(row, &media)
	if err != nil || len(media) == 0 {
		return m, err
	}
	var ref domain.MediaRef
	if err := json.Unmarshal(media, &ref); err != nil {
		return m, err
	}
	m.Media = &ref
	return m, nil
}
