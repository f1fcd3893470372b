package postgres

import (
	"context"
	"encoding/json"

	"github.com/wabaplatform/waba/domain"
)

// MessageRepo stores messages of both directions.
type MessageRepo struct{ q Querier }

// NewMessageRepo returns the repository over q (a pool or a transaction).
func NewMessageRepo(q Querier) *MessageRepo { return &MessageRepo{q: q} }

// CreateOutbound inserts a queued outbound message.
func (r *MessageRepo) CreateOutbound(ctx context.Context, m domain.Message) error {
	content := m.Content
	if len(content) == 0 {
		content = json.RawMessage(`{}`)
	}
	_, err := r.q.Exec(ctx, `
		INSERT INTO messages (workspace_id, id, contact_id, phone_number_id, direction, type, content, status, created_at)
		VALUES ($1, $2, $3, $4, 'outbound', $5, $6, $7, $8)`,
		m.WorkspaceID, m.ID, m.ContactID, m.PhoneNumberID, m.Type, []byte(content), string(m.Status), m.CreatedAt)
	return err
}
