package riveradapter

import (
	"context"

	"github.com/riverqueue/river"

	"github.com/wabaplatform/waba/domain"
)

// QueueOutbound is where send jobs run.
const QueueOutbound = "outbound"

// SendArgs sends one queued outbound message to Meta.
type SendArgs struct {
	WorkspaceID domain.ID `json:"workspace_id"`
	MessageID   domain.ID `json:"message_id" river:"unique"`
}

// Kind is stored in job rows: never change it.
func (SendArgs) Kind() string { return "message.send" }

// InsertOpts: one job per message (unique on the message id), our retry budget.
func (SendArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueOutbound, MaxAttempts: MaxAttempts, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// EnqueueSend inserts the send job of a queued message in the current transaction.
func (j *TxJobs) EnqueueSend(ctx context.Context, workspaceID, messageID domain.ID) error {
	_, err := j.client.InsertTx(ctx, j.tx, SendArgs{WorkspaceID: workspaceID, MessageID: messageID}, nil)
	return err
}
