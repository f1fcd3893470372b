// Package riveradapter holds the River client set-up, the job argument types and the
// workers that drive the application's use cases, and the enqueuer use cases call.
package riveradapter

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"
)

// Queue names.
const (
	QueueDefault  = river.QueueDefault
	QueueWebhooks = "webhooks"
	QueueEvents   = "events"
	QueueMedia    = "media"
)

// ClientConfig sizes the client. Work false makes an insert-only client (the `api` role).
type ClientConfig struct {
	// ID is the client id River records in each attempt (Liveness.ID); empty: River's own.
	ID              string
	Work            bool
	WebhookWorkers  int
	SoftStopTimeout time.Duration
}

// NewClient builds the River client over pool.
func NewClient(pool *pgxpool.Pool, cfg ClientConfig, workers *river.Workers, periodic []*river.PeriodicJob, log *slog.Logger) (*river.Client[pgx.Tx], error) {
	rc := &river.Config{
		Workers:      workers,
		Logger:       slog.New(infoAsDebug{log.Handler()}).With("component", "river"),
		ErrorHandler: &errorHandler{log: log},
		ID:           cfg.ID,
		// The jobs of a process that died are made available again within a second or two
		// by DeadClientRescuer. River's rescue is the fallback for what it cannot see (a
		// partition): our jobs are short, so after a minute (or the worker's longer
		// Timeout) instead of River's default hour.
		JobTimeout:           30 * time.Second,
		RescueStuckJobsAfter: time.Minute,
		SoftStopTimeout:      cfg.SoftStopTimeout,
		// waba migrate drops River's GIN indexes (GINIndexes).
		ReindexerIndexNames: reindexed(),
	}
	if cfg.Work {
		// A queue fetches at most once per FetchCooldown (100 ms by default), so it runs
		// at most MaxWorkers jobs per cooldown: 10 workers would cap webhooks at 100 jobs/s.
		// The busy queues fetch far more often; fetching is one indexed query.
		rc.Queues = map[string]river.QueueConfig{
			// A campaign's send job snoozes campaigns.BatchInterval between batches; a short
			// snooze makes it available again without a notification, so the queue looks for
			// it every 100 ms, not every second (River's default).
			QueueDefault:  {MaxWorkers: 10, FetchPollInterval: 100 * time.Millisecond},
			QueueWebhooks: {MaxWorkers: max(1, cfg.WebhookWorkers), FetchCooldown: 2 * time.Millisecond},
			QueueOutbound: {MaxWorkers: 100, FetchCooldown: 5 * time.Millisecond},
			// One job per endpoint at a time: 50 endpoints sending at once per process,
			// each with its own slots (hooks.Concurrency).
			QueueHooks: {MaxWorkers: 50, FetchCooldown: 5 * time.Millisecond},
			// The event log's subscribers, one job each at a time: no other work waits in
			// front of them (a burst of media downloads once held every default worker and
			// stopped webhooks to customers and automations for as long as it lasted).
			QueueEvents: {MaxWorkers: 10, FetchCooldown: 20 * time.Millisecond},
			// Downloads hold a worker while they stream.
			QueueMedia: {MaxWorkers: 10},
		}
		rc.PeriodicJobs = periodic
	}
	return river.NewClient(riverpgxv5.New(pool), rc)
}

// Backoff is the retry schedule of our jobs: 1s, 5s, 30s, 2m, 10m, then the job is
// discarded (MaxAttempts 6) and stays visible.
var Backoff = []time.Duration{time.Second, 5 * time.Second, 30 * time.Second, 2 * time.Minute, 10 * time.Minute}

// MaxAttempts is one first try plus one per Backoff step.
const MaxAttempts = 6

// NextRetry implements the schedule for a job with the given earlier errors.
func NextRetry(errs []rivertype.AttemptError) time.Time {
	// River passes the failures before the current one, so 0 on the first failure.
	i := min(len(errs), len(Backoff)-1)
	return time.Now().Add(Backoff[i])
}

type errorHandler struct{ log *slog.Logger }

func (h *errorHandler) HandleError(ctx context.Context, job *rivertype.JobRow, err error) *river.ErrorHandlerResult {
	h.log.WarnContext(ctx, "job failed", "kind", job.Kind, "job_id", job.ID, "attempt", job.Attempt, "err", err)
	return nil
}

func (h *errorHandler) HandlePanic(ctx context.Context, job *rivertype.JobRow, v any, trace string) *river.ErrorHandlerResult {
	h.log.ErrorContext(ctx, "job panicked", "kind", job.Kind, "job_id", job.ID, "panic", v, "trace", trace)
	return &river.ErrorHandlerResult{SetCancelled: true}
}

// infoAsDebug logs River's info lines at debug: River reports each producer's job counts
// at info every few seconds, which is no news to a person running the service. Its
// warnings and errors stay as they are.
type infoAsDebug struct{ slog.Handler }

func (h infoAsDebug) Enabled(ctx context.Context, l slog.Level) bool {
	if l == slog.LevelInfo {
		l = slog.LevelDebug
	}
	return h.Handler.Enabled(ctx, l)
}

func (h infoAsDebug) Handle(ctx context.Context, r slog.Record) error {
	if r.Level == slog.LevelInfo {
		r.Level = slog.LevelDebug
	}
	return h.Handler.Handle(ctx, r)
}

func (h infoAsDebug) WithAttrs(as []slog.Attr) slog.Handler {
	return infoAsDebug{h.Handler.WithAttrs(as)}
}
func (h infoAsDebug) WithGroup(name string) slog.Handler {
	return infoAsDebug{h.Handler.WithGroup(name)}
}
