package riveradapter

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/wabaplatform/waba/application/events"
)

// EventsArgs asks for the event log to be handed to one subscriber, from its position on.
type EventsArgs struct {
	Subscriber string `json:"subscriber"`
}

// Kind is stored in job rows: never change it.
func (EventsArgs) Kind() string { return "events.deliver" }

// InsertOpts keeps one job per subscriber waiting, running or retrying: the periodic
// insert adds nothing while one is, so a failing subscriber retries on its own schedule
// (Backoff) and holds back only itself.
func (EventsArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueEvents, MaxAttempts: MaxAttempts, UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{
		rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRetryable,
		rivertype.JobStateRunning, rivertype.JobStateScheduled,
	}}}
}

// eventBatchesPerJob bounds one job's run; a subscriber with more to read snoozes and
// goes on at once, so the queue's other jobs are not held behind a long backlog.
const eventBatchesPerJob = 20

// EventsWorker hands the log to subscribers through the dispatcher.
type EventsWorker struct {
	river.WorkerDefaults[EventsArgs]
	Dispatcher *events.Dispatcher
}

// Work delivers batches until the subscriber has caught up.
func (w *EventsWorker) Work(ctx context.Context, job *river.Job[EventsArgs]) error {
	for range eventBatchesPerJob {
		more, err := w.Dispatcher.Deliver(ctx, job.Args.Subscriber)
		if err != nil || !more {
			return err
		}
	}
	return river.JobSnooze(0)
}

// NextRetry follows the project's schedule (Backoff).
func (w *EventsWorker) NextRetry(job *river.Job[EventsArgs]) time.Time { return NextRetry(job.Errors) }

// EventsPurgeArgs asks for the events every subscriber has read, past their retention, to
// be deleted.
type EventsPurgeArgs struct{}

// Kind is stored in job rows: never change it.
func (EventsPurgeArgs) Kind() string { return "events.purge" }

// EventsPurgeWorker purges the event log in batches.
type EventsPurgeWorker struct {
	river.WorkerDefaults[EventsPurgeArgs]
	Dispatcher *events.Dispatcher
}

// Work runs one purge.
func (w *EventsPurgeWorker) Work(ctx context.Context, _ *river.Job[EventsPurgeArgs]) error {
	_, err := w.Dispatcher.Purge(ctx)
	return err
}

// Timeout allows a long first purge.
func (w *EventsPurgeWorker) Timeout(*river.Job[EventsPurgeArgs]) time.Duration {
	return 10 * time.Minute
}

// EventsPurgePeriodic runs the purge hourly on the leader.
func EventsPurgePeriodic() *river.PeriodicJob {
	return periodic("events-purge", time.Hour, EventsPurgeArgs{}, false)
}

// EventsEvery is how often the leader asks each subscriber to catch up: the delay of an
// event to its subscribers, at most (EventsNudger asks sooner after most commits).
const EventsEvery = time.Second

// EventsPeriodic asks each named subscriber to catch up every EventsEvery.
func EventsPeriodic(names []string) []*river.PeriodicJob {
	jobs := make([]*river.PeriodicJob, 0, len(names))
	for _, name := range names {
		jobs = append(jobs, river.NewPeriodicJob(river.PeriodicInterval(EventsEvery),
			func() (river.JobArgs, *river.InsertOpts) { return EventsArgs{Subscriber: name}, nil },
			&river.PeriodicJobOpts{ID: "events-" + name, RunOnStart: true}))
	}
	return jobs
}

// EventsNudgeEvery is the least time between two nudges of the subscribers.
const EventsNudgeEvery = 100 * time.Millisecond

// EventsNudger asks every subscriber to catch up soon after the log grows (the Announcer's
// notification), rather than at the leader's next periodic ask: a customer's webhook or
// an automatic reply follows its event within a fraction of a second. Nudges come at most
// every EventsNudgeEvery; a subscriber with a job waiting already gets no second one
// (EventsArgs is unique), so a busy log costs a few inserts a second, not one per commit.
type EventsNudger struct {
	client *river.Client[pgx.Tx]
	names  []string
	log    *slog.Logger
	wake   chan struct{}
}

// NewEventsNudger returns the nudger of the named subscribers.
func NewEventsNudger(client *river.Client[pgx.Tx], names []string, log *slog.Logger) *EventsNudger {
	return &EventsNudger{client: client, names: names, log: log, wake: make(chan struct{}, 1)}
}

// Wake asks for a nudge; it never blocks.
func (n *EventsNudger) Wake() {
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// Run nudges until ctx ends.
func (n *EventsNudger) Run(ctx context.Context) {
	params := make([]river.InsertManyParams, len(n.names))
	for i, name := range n.names {
		params[i] = river.InsertManyParams{Args: EventsArgs{Subscriber: name}}
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-n.wake:
		}
		if _, err := n.client.InsertMany(ctx, params); err != nil && ctx.Err() == nil {
			n.log.Warn("events: nudge subscribers", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(EventsNudgeEvery):
		}
	}
}
