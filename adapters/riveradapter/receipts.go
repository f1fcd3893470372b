package riveradapter

import (
	"context"

	"github.com/riverqueue/river"

	"github.com/wabaplatform/waba/application/conversations"
	"github.com/wabaplatform/waba/domain"
)

var _ conversations.Receipts = (*TxJobs)(nil)

// ReadReceiptArgs tells Meta that the business read an inbound message (Graph's
// status "read" on the message's wamid). Its worker is not registered yet: nothing
// enqueues the job until it is (bootstrap leaves conversations.Repos.Receipts nil).
type ReadReceiptArgs struct {
	WorkspaceID domain.ID `json:"workspace_id"`
	MessageID   domain.ID `json:"message_id"`
}

// Kind is stored in job rows: never change it.
func (ReadReceiptArgs) Kind() string { return "message.read_receipt" }

// InsertOpts: on the outbound queue, with the sends' retry budget.
func (ReadReceiptArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueOutbound, MaxAttempts: MaxAttempts}
}

// EnqueueReadReceipt implements conversations.Receipts: the job, in the transaction.
func (j *TxJobs) EnqueueReadReceipt(ctx context.Context, workspaceID, messageID domain.ID) error {
	_, err := j.client.InsertTx(ctx, j.tx, ReadReceiptArgs{WorkspaceID: workspaceID, MessageID: messageID}, nil)
	return err
}
