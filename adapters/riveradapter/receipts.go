package riveradapter

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"github.com/wabaplatform/waba/application/conversations"
	"github.com/wabaplatform/waba/application/messaging"
	"github.com/wabaplatform/waba/domain"
)

// ReadReceiptArgs sends Meta a read receipt for an inbound message (marking a conversation
// read: its last inbound message).
type ReadReceiptArgs struct {
	WorkspaceID domain.ID `json:"workspace_id"`
	MessageID   domain.ID `json:"message_id"` // our id of the inbound message
}

var _ conversations.Receipts = (*TxJobs)(nil)

// Kind is stored in job rows: never change it.
func (ReadReceiptArgs) Kind() string { return "message.read_receipt" }

// InsertOpts: the outbound queue (a Graph call on the number, like a send) with our retry
// budget, unique by message while one is waiting or done: a message read once needs no
// second receipt (a cancelled or discarded one may be inserted again).
func (ReadReceiptArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueOutbound, MaxAttempts: MaxAttempts, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// EnqueueReadReceipt inserts the read-receipt job of an inbound message in the current
// transaction (it runs only if the transaction commits).
func (j *TxJobs) EnqueueReadReceipt(ctx context.Context, workspaceID, messageID domain.ID) error {
	_, err := j.client.InsertTx(ctx, j.tx, ReadReceiptArgs{WorkspaceID: workspaceID, MessageID: messageID}, nil)
	return err
}

// ReadReceipter is the use case the worker drives (messaging.Receipts).
type ReadReceipter interface {
	SendReadReceipt(ctx context.Context, ws, messageID domain.ID) (messaging.Outcome, error)
}

// ErrReceiptRefused marks a read receipt Meta refused for good: the job is cancelled.
var ErrReceiptRefused = errors.New("read receipt refused")

// ReadReceiptWorker sends read receipts: a transient failure retries on our schedule, a
// permanent refusal (invalid or too old message id) cancels the job, a throttle snoozes
// it, and a message that is gone (its contact erased) ends it.
type ReadReceiptWorker struct {
	river.WorkerDefaults[ReadReceiptArgs]
	Receipts ReadReceipter
}

// Work sends the receipt.
func (w *ReadReceiptWorker) Work(ctx context.Context, job *river.Job[ReadReceiptArgs]) error {
	out, err := w.Receipts.SendReadReceipt(ctx, job.Args.WorkspaceID, job.Args.MessageID)
	if err != nil {
		return err
	}
	switch out.Result {
	case messaging.ResultFailed:
		return river.JobCancel(fmt.Errorf("%w: %s (code %d)", ErrReceiptRefused, out.Reason, out.Code))
	case messaging.ResultSnoozed:
		return river.JobSnooze(out.Wait)
	}
	return nil
}

// NextRetry follows the product's schedule (1s, 5s, 30s, 2m, 10m).
func (w *ReadReceiptWorker) NextRetry(job *river.Job[ReadReceiptArgs]) time.Time {
	return NextRetry(job.Errors)
}

// Timeout bounds one attempt (the Graph call has its own, shorter timeout).
func (w *ReadReceiptWorker) Timeout(*river.Job[ReadReceiptArgs]) time.Duration {
	return 30 * time.Second
}
