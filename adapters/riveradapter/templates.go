package riveradapter

import (
	"context"
	"errors"
	"time"

	"github.com/riverqueue/river"

	"github.com/wabaplatform/waba/application/templates"
	"github.com/wabaplatform/waba/domain"
)

// TemplateSyncArgs reads every template of one WABA of a workspace from Meta.
type TemplateSyncArgs struct {
	WorkspaceID domain.ID `json:"workspace_id"`
	WABAID      string    `json:"waba_id"`
}

// Kind is stored in job rows: never change it.
func (TemplateSyncArgs) Kind() string { return "templates.sync_waba" }

// InsertOpts gives the sync our retry budget.
func (TemplateSyncArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueDefault, MaxAttempts: MaxAttempts}
}

// TemplateSyncWorker syncs one WABA's templates.
type TemplateSyncWorker struct {
	river.WorkerDefaults[TemplateSyncArgs]
	Templates *templates.Service
}

// Work runs the sync: a WABA without a connected number any more, or Meta's final
// refusal, cancels the job (it stays visible); throttling snoozes; the rest retries.
func (w *TemplateSyncWorker) Work(ctx context.Context, job *river.Job[TemplateSyncArgs]) error {
	err := w.Templates.SyncWABA(ctx, job.Args.WorkspaceID, job.Args.WABAID)
	var me *domain.MetaError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, templates.ErrNoNumber):
		return river.JobCancel(err)
	case errors.As(err, &me) && me.Class == domain.MetaThrottled && me.RetryAfter > 0 && me.RetryAfter < time.Hour:
		return river.JobSnooze(me.RetryAfter)
	case errors.As(err, &me) && (me.Class == domain.MetaFinal || me.Class == domain.MetaAuth || me.Class == domain.MetaStop):
		return river.JobCancel(err)
	}
	return err
}

// NextRetry follows the product's schedule (1s, 5s, 30s, 2m, 10m).
func (w *TemplateSyncWorker) NextRetry(job *river.Job[TemplateSyncArgs]) time.Time {
	return NextRetry(job.Errors)
}

// TemplateSyncAllArgs queues a sync of every WABA with a connected number.
type TemplateSyncAllArgs struct{}

// Kind is stored in job rows: never change it.
func (TemplateSyncAllArgs) Kind() string { return "templates.sync_all" }

// TemplateSyncAllWorker fans out one sync per WABA.
type TemplateSyncAllWorker struct {
	river.WorkerDefaults[TemplateSyncAllArgs]
	Templates *templates.Service
}

// Work enqueues the syncs.
func (w *TemplateSyncAllWorker) Work(ctx context.Context, _ *river.Job[TemplateSyncAllArgs]) error {
	_, err := w.Templates.SyncAll(ctx)
	return err
}

// TemplateSyncPeriodic reads every WABA's templates from Meta every six hours, on the
// leader only (webhooks keep them current in between; this catches what they missed).
func TemplateSyncPeriodic() *river.PeriodicJob {
	return periodic("template-sync", 6*time.Hour, TemplateSyncAllArgs{}, false)
}

// EnqueueTemplateSync inserts a sync of one WABA's templates (templates.Jobs and
// onboarding.Jobs).
func (j *TxJobs) EnqueueTemplateSync(ctx context.Context, ws domain.ID, wabaID string) error {
	_, err := j.client.InsertTx(ctx, j.tx, TemplateSyncArgs{WorkspaceID: ws, WABAID: wabaID}, nil)
	return err
}
