package riveradapter

import (
	"context"
	"errors"
	"time"

	"github.com/riverqueue/river"

	"github.com/wabaplatform/waba/application/workspaces"
	"github.com/wabaplatform/waba/domain"
)

// WorkspaceEraseArgs erases a deleted workspace.
type WorkspaceEraseArgs struct {
	WorkspaceID domain.ID `json:"workspace_id" river:"unique"`
}

// Kind is stored in job rows: never change it.
func (WorkspaceEraseArgs) Kind() string { return "workspace.erase" }

// InsertOpts: our retry budget, and one erasure per workspace at a time.
func (WorkspaceEraseArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueDefault, MaxAttempts: MaxAttempts, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// EnqueueErasure inserts the erasure of a workspace in the current transaction
// (workspaces.ErasureJobs).
func (j *TxJobs) EnqueueErasure(ctx context.Context, workspaceID domain.ID) error {
	_, err := j.client.InsertTx(ctx, j.tx, WorkspaceEraseArgs{WorkspaceID: workspaceID}, nil)
	return err
}

// WorkspaceEraseWorker runs erasures. Each one resumes where the last attempt stopped.
type WorkspaceEraseWorker struct {
	river.WorkerDefaults[WorkspaceEraseArgs]
	Eraser *workspaces.Eraser
}

// Work erases the workspace; a live one is refused for good, Meta's throttling snoozes.
func (w *WorkspaceEraseWorker) Work(ctx context.Context, job *river.Job[WorkspaceEraseArgs]) error {
	err := w.Eraser.Erase(ctx, job.Args.WorkspaceID, job.Attempt >= job.MaxAttempts)
	var me *domain.MetaError
	switch {
	case errors.Is(err, workspaces.ErrNotDeleted):
		return river.JobCancel(err)
	case errors.As(err, &me) && me.Class == domain.MetaThrottled && me.RetryAfter > 0 && me.RetryAfter < time.Hour:
		return river.JobSnooze(me.RetryAfter)
	}
	return err
}

// NextRetry follows the product's schedule (1s, 5s, 30s, 2m, 10m).
func (w *WorkspaceEraseWorker) NextRetry(job *river.Job[WorkspaceEraseArgs]) time.Time {
	return NextRetry(job.Errors)
}

// Timeout allows a large workspace: its rows go in short batches, and a timed-out attempt
// keeps what it erased.
func (w *WorkspaceEraseWorker) Timeout(*river.Job[WorkspaceEraseArgs]) time.Duration {
	return time.Hour
}
