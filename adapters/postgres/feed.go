package postgres

import (
	"context"
	"encoding/json"

	"github.com/wabaplatform/waba/domain"
)

// FeedRepo appends to the inbox feed (inbox_events) in the transaction of the change that
// caused the entry, whichever use case made it.
type FeedRepo struct{ q Querier }

// NewFeedRepo returns the feed over q (a pool or a transaction).
func NewFeedRepo(q Querier) *FeedRepo { return &FeedRepo{q: q} }

// Append adds e to the feed: the row and a NOTIFY on channel inbox_events (payload
// {"workspace_id","id","kind"}), both delivered only if the transaction commits.
func (r *FeedRepo) Append(ctx context.Context, e domain.FeedEvent) error {
	raw, err := eventPayload(e)
	if err != nil {
		return err
	}
	_, err = r.q.Exec(ctx, `
		INSERT INTO inbox_events (workspace_id, kind, contact_id, message_id, payload)
		VALUES ($1, $2, $3, $4, $5) RETURNING `+notifyInboxEvent,
		e.WorkspaceID, e.Kind, e.ContactID, e.MessageID, raw)
	return err
}

// notifyInboxEvent, in the RETURNING clause of an insert into inbox_events, announces
// each row on channel inbox_events; Postgres delivers it at commit. RETURNING runs for
// every row even in a WITH query nobody reads.
const notifyInboxEvent = `pg_notify('inbox_events', json_build_object('workspace_id', workspace_id, 'id', id, 'kind', kind)::text)`

func eventPayload(e domain.FeedEvent) ([]byte, error) {
	if e.Payload == nil {
		return []byte(`{}`), nil
	}
	return json.Marshal(e.Payload)
}
