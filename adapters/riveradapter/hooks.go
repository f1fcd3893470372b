package riveradapter

import (
	"context"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/wabaplatform/waba/application/hooks"
	"github.com/wabaplatform/waba/domain"
)

// QueueHooks runs the customer webhook deliveries, one job per endpoint: a slow endpoint
// holds one of its workers, never the others' (nor another queue's).
const QueueHooks = "hooks"

// HookDeliverArgs asks for an endpoint's due deliveries to be sent.
type HookDeliverArgs struct {
	WorkspaceID domain.ID `json:"workspace_id"`
	EndpointID  domain.ID `json:"endpoint_id"`
	// Follow marks the job woken while the endpoint's job was running: that one may have
	// looked for due deliveries for the last time already, so the new ones get a job of
	// their own (one at most); the claim's lease (held by one job) keeps the two from sending a delivery twice.
	Follow bool `json:"follow,omitempty"`
}

// Kind is stored in job rows: never change it.
func (HookDeliverArgs) Kind() string { return "hooks.deliver" }

// InsertOpts: one job per endpoint waiting, running or retrying (waking it again while
// it runs adds nothing: the job loops until nothing is due, and the leader's wake-up
// catches what came after).
func (HookDeliverArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueHooks, MaxAttempts: MaxAttempts, UniqueOpts: river.UniqueOpts{ByArgs: true,
		ByState: []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRetryable,
			rivertype.JobStateRunning, rivertype.JobStateScheduled}}}
}

// WakeEndpoints implements hooks.Jobs: one statement, endpoints with a job waiting
// skipped; an endpoint whose job is running gets a follow-up job (HookDeliverArgs.Follow).
func (j *TxJobs) WakeEndpoints(ctx context.Context, refs []hooks.EndpointRef) error {
	if len(refs) == 0 {
		return nil
	}
	seen := make(map[hooks.EndpointRef]bool, len(refs))
	params := make([]river.InsertManyParams, 0, len(refs))
	for _, r := range refs {
		if seen[r] {
			continue // two rows with one unique key would fail the whole insert
		}
		seen[r] = true
		params = append(params, river.InsertManyParams{Args: HookDeliverArgs{WorkspaceID: r.WorkspaceID, EndpointID: r.EndpointID}})
	}
	results, err := j.client.InsertManyTx(ctx, j.tx, params)
	if err != nil {
		return err
	}
	var follow []river.InsertManyParams
	for i, r := range results {
		if r.UniqueSkippedAsDuplicate && r.Job != nil && r.Job.State == rivertype.JobStateRunning {
			args := params[i].Args.(HookDeliverArgs)
			args.Follow = true
			follow = append(follow, river.InsertManyParams{Args: args})
		}
	}
	if len(follow) == 0 {
		return nil
	}
	_, err = j.client.InsertManyTx(ctx, j.tx, follow)
	return err
}

// HookDeliverWorker sends an endpoint's deliveries.
type HookDeliverWorker struct {
	river.WorkerDefaults[HookDeliverArgs]
	Deliverer *hooks.Deliverer
}

// Work sends until nothing is due; past the time budget it snoozes to go on at once,
// after the queue's other jobs.
func (w *HookDeliverWorker) Work(ctx context.Context, job *river.Job[HookDeliverArgs]) error {
	// The job's id and attempt hold the leases of what this run claims: rescued after its
	// process died (DeadClientRescuer), the job runs again with the same id and a higher
	// attempt, and takes back at once what the dead run had claimed.
	more, err := w.Deliverer.Run(ctx, hooks.EndpointRef{WorkspaceID: job.Args.WorkspaceID, EndpointID: job.Args.EndpointID},
		hooks.Holder{Job: job.ID, Attempt: job.Attempt})
	if err != nil {
		return err
	}
	if more {
		return river.JobSnooze(0)
	}
	return nil
}

// Timeout outlasts a whole claimed batch against an endpoint that times out on every
// request (hooks.Lease is longer still).
func (w *HookDeliverWorker) Timeout(*river.Job[HookDeliverArgs]) time.Duration {
	return 2 * time.Minute
}

// NextRetry follows the project's schedule (Backoff); the deliveries keep their own.
func (w *HookDeliverWorker) NextRetry(job *river.Job[HookDeliverArgs]) time.Time {
	return NextRetry(job.Errors)
}

// HookWakeArgs asks the leader to wake the endpoints with deliveries due (retries).
type HookWakeArgs struct{}

// Kind is stored in job rows: never change it.
func (HookWakeArgs) Kind() string { return "hooks.wake" }

// HookWakeWorker runs the wake-up.
type HookWakeWorker struct {
	river.WorkerDefaults[HookWakeArgs]
	Deliverer *hooks.Deliverer
}

// hookWakeLimit bounds the endpoints one wake-up wakes; the next second takes the rest.
const hookWakeLimit = 1000

// Work wakes the due endpoints.
func (w *HookWakeWorker) Work(ctx context.Context, _ *river.Job[HookWakeArgs]) error {
	return w.Deliverer.Wake(ctx, hookWakeLimit)
}

// HookWakeEvery is how often the leader looks for due retries: a retry is sent at most
// this late.
const HookWakeEvery = time.Second

// HookWakePeriodic wakes due endpoints every second, on the leader only.
func HookWakePeriodic() *river.PeriodicJob {
	return periodic("hooks-wake", HookWakeEvery, HookWakeArgs{}, true)
}
