package riveradapter

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/wabaplatform/waba/application/onboarding"
	"github.com/wabaplatform/waba/domain"
	"github.com/wabaplatform/waba/domain/access"
)

// OnboardingArgs runs one onboarding step for a number.
type OnboardingArgs struct {
	WorkspaceID domain.ID       `json:"workspace_id"`
	NumberID    domain.ID       `json:"number_id"`
	Step        onboarding.Step `json:"step"`
	// Who started it, for the audit entry written when it ends.
	ActorType string    `json:"actor_type"`
	ActorID   domain.ID `json:"actor_id"`
	ActorRole string    `json:"actor_role,omitempty"`
	IP        string    `json:"ip,omitempty"`
	UserAgent string    `json:"user_agent,omitempty"`
	RequestID string    `json:"request_id,omitempty"`
}

// Kind is stored in job rows: never change it.
func (OnboardingArgs) Kind() string { return "whatsapp.onboarding_step" }

// InsertOpts gives every step our retry budget.
func (OnboardingArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueDefault, MaxAttempts: MaxAttempts}
}

func (a OnboardingArgs) actor() domain.Caller {
	return domain.Caller{Type: domain.ActorType(a.ActorType), ID: a.ActorID, WorkspaceID: a.WorkspaceID,
		Role: access.Role(a.ActorRole), Meta: domain.RequestMeta{IP: a.IP, UserAgent: a.UserAgent, RequestID: a.RequestID}}
}

// OnboardingWorker runs onboarding steps.
type OnboardingWorker struct {
	river.WorkerDefaults[OnboardingArgs]
	Onboarding *onboarding.Service
}

// Work runs the step; a final failure cancels the job (it stays visible), throttling snoozes.
func (w *OnboardingWorker) Work(ctx context.Context, job *river.Job[OnboardingArgs]) error {
	a := job.Args
	err := w.Onboarding.RunStep(ctx, a.WorkspaceID, a.NumberID, a.Step, a.actor(), job.Attempt >= job.MaxAttempts)
	var me *domain.MetaError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, onboarding.ErrGaveUp):
		return river.JobCancel(err)
	case errors.As(err, &me) && me.Class == domain.MetaThrottled && me.RetryAfter > 0 && me.RetryAfter < time.Hour:
		return river.JobSnooze(me.RetryAfter)
	}
	return err
}

// NextRetry follows the product's schedule (1s, 5s, 30s, 2m, 10m).
func (w *OnboardingWorker) NextRetry(job *river.Job[OnboardingArgs]) time.Time {
	return NextRetry(job.Errors)
}

// PhoneSyncArgs queues a sync of every connected number.
type PhoneSyncArgs struct{}

// Kind is stored in job rows: never change it.
func (PhoneSyncArgs) Kind() string { return "whatsapp.sync_all" }

// PhoneSyncWorker fans out one sync step per connected number.
type PhoneSyncWorker struct {
	river.WorkerDefaults[PhoneSyncArgs]
	Onboarding *onboarding.Service
}

// Work enqueues the syncs.
func (w *PhoneSyncWorker) Work(ctx context.Context, _ *river.Job[PhoneSyncArgs]) error {
	_, err := w.Onboarding.SyncAll(ctx)
	return err
}

// PhoneSyncPeriodic syncs number metadata every six hours, on the leader only.
func PhoneSyncPeriodic() *river.PeriodicJob {
	return periodic("phone-sync", 6*time.Hour, PhoneSyncArgs{}, false)
}

// Inserter is an insert-only River client for enqueuing inside our transactions. It is
// separate from the working client so use cases (which the workers call) do not depend on
// the client that depends on the workers.
type Inserter struct{ client *river.Client[pgx.Tx] }

// NewInserter returns an inserter; it needs no pool since it only inserts in a given tx.
func NewInserter() (*Inserter, error) {
	c, err := river.NewClient(riverpgxv5.New(nil), &river.Config{})
	if err != nil {
		return nil, err
	}
	return &Inserter{client: c}, nil
}

// TxJobs enqueues jobs inside a transaction: they become visible only if it commits.
type TxJobs struct {
	client *river.Client[pgx.Tx]
	tx     pgx.Tx
}

// Bind returns an enqueuer bound to tx.
func (i *Inserter) Bind(tx pgx.Tx) *TxJobs { return &TxJobs{client: i.client, tx: tx} }

// EnqueueStep inserts an onboarding step.
func (j *TxJobs) EnqueueStep(ctx context.Context, ws, id domain.ID, step onboarding.Step, c domain.Caller) error {
	_, err := j.client.InsertTx(ctx, j.tx, OnboardingArgs{WorkspaceID: ws, NumberID: id, Step: step,
		ActorType: string(c.Type), ActorID: c.ID, ActorRole: string(c.Role),
		IP: c.Meta.IP, UserAgent: c.Meta.UserAgent, RequestID: c.Meta.RequestID}, nil)
	return err
}
