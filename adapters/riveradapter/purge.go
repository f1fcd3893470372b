package riveradapter

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/wabaplatform/waba/application/audit"
	"github.com/wabaplatform/waba/application/identity"
	"github.com/wabaplatform/waba/application/messaging"
	"github.com/wabaplatform/waba/domain"
)

// AuditPurgeArgs asks for expired audit entries to be deleted.
type AuditPurgeArgs struct{}

// Kind is stored in job rows: never change it.
func (AuditPurgeArgs) Kind() string { return "audit.purge" }

// AuditPurgeWorker deletes expired audit entries in batches.
type AuditPurgeWorker struct {
	river.WorkerDefaults[AuditPurgeArgs]
	Audit *audit.Service
}

// Work runs one purge.
func (w *AuditPurgeWorker) Work(ctx context.Context, _ *river.Job[AuditPurgeArgs]) error {
	_, err := w.Audit.Purge(ctx)
	return err
}

// Timeout allows a long first purge.
func (w *AuditPurgeWorker) Timeout(*river.Job[AuditPurgeArgs]) time.Duration { return 10 * time.Minute }

// AuditPurgePeriodic runs the purge hourly on the leader (and once at start).
func AuditPurgePeriodic() *river.PeriodicJob {
	return periodic("audit-purge", time.Hour, AuditPurgeArgs{}, true)
}

// IdempotencyPurgeArgs asks for expired idempotency keys to be deleted.
type IdempotencyPurgeArgs struct{}

// Kind is stored in job rows: never change it.
func (IdempotencyPurgeArgs) Kind() string { return "idempotency.purge" }

// IdempotencyPurgeWorker deletes expired idempotency keys in batches.
type IdempotencyPurgeWorker struct {
	river.WorkerDefaults[IdempotencyPurgeArgs]
	Messaging *messaging.Service
}

// Work runs one purge.
func (w *IdempotencyPurgeWorker) Work(ctx context.Context, _ *river.Job[IdempotencyPurgeArgs]) error {
	_, err := w.Messaging.PurgeIdempotencyKeys(ctx)
	return err
}

// IdempotencyPurgePeriodic runs the purge hourly on the leader.
func IdempotencyPurgePeriodic() *river.PeriodicJob {
	return periodic("idempotency-purge", time.Hour, IdempotencyPurgeArgs{}, false)
}

// periodic is a job the leader inserts every interval: unique over the interval, so a new
// leader (whose schedule starts afresh) cannot run it twice in one period.
func periodic(id string, every time.Duration, args river.JobArgs, runOnStart bool) *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(every),
		func() (river.JobArgs, *river.InsertOpts) {
			return args, &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: every}}
		},
		&river.PeriodicJobOpts{ID: id, RunOnStart: runOnStart})
}

// SessionPurgeArgs asks for expired sessions and reset tokens to be deleted.
type SessionPurgeArgs struct{}

// Kind is stored in job rows: never change it.
func (SessionPurgeArgs) Kind() string { return "auth.session_purge" }

// SessionPurgeWorker deletes expired sessions (with their refresh tokens) and reset tokens.
type SessionPurgeWorker struct {
	river.WorkerDefaults[SessionPurgeArgs]
	Identity *identity.Service
}

// Work runs one purge.
func (w *SessionPurgeWorker) Work(ctx context.Context, _ *river.Job[SessionPurgeArgs]) error {
	_, err := w.Identity.Purge(ctx)
	return err
}

// SessionPurgePeriodic runs the purge hourly on the leader.
func SessionPurgePeriodic() *river.PeriodicJob {
	return periodic("session-purge", time.Hour, SessionPurgeArgs{}, false)
}

// WebhookReceiptPurgeArgs asks for the hashes of webhook bodies older than
// WebhookDedupeWindow to be deleted.
type WebhookReceiptPurgeArgs struct{}

// Kind is stored in job rows: never change it.
func (WebhookReceiptPurgeArgs) Kind() string { return "webhook.receipt_purge" }

// WebhookReceiptPurgeWorker deletes expired webhook receipts in batches.
type WebhookReceiptPurgeWorker struct {
	river.WorkerDefaults[WebhookReceiptPurgeArgs]
	Pool *pgxpool.Pool
	Now  domain.Clock
}

// webhookReceiptPurgeBatch bounds one delete, so the purge never holds many locks at once.
const webhookReceiptPurgeBatch = 10_000

// Work runs one purge.
func (w *WebhookReceiptPurgeWorker) Work(ctx context.Context, _ *river.Job[WebhookReceiptPurgeArgs]) error {
	_, err := PurgeWebhookReceipts(ctx, w.Pool, w.Now().Add(-WebhookDedupeWindow))
	return err
}

// PurgeWebhookReceipts deletes the receipts of bodies received before cutoff and returns
// how many it deleted.
func PurgeWebhookReceipts(ctx context.Context, pool *pgxpool.Pool, cutoff time.Time) (int, error) {
	total := 0
	for {
		tag, err := pool.Exec(ctx, `DELETE FROM webhook_receipts WHERE sha256 IN (
			SELECT sha256 FROM webhook_receipts WHERE received_at < $1 LIMIT $2)`, cutoff, webhookReceiptPurgeBatch)
		n := int(tag.RowsAffected())
		total += n
		if err != nil || n < webhookReceiptPurgeBatch {
			return total, err
		}
	}
}

// WebhookReceiptPurgePeriodic runs the purge hourly on the leader.
func WebhookReceiptPurgePeriodic() *river.PeriodicJob {
	return periodic("webhook-receipt-purge", time.Hour, WebhookReceiptPurgeArgs{}, false)
}
