package riveradapter

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/wabaplatform/waba/application/campaigns"
	"github.com/wabaplatform/waba/domain"
)

// CampaignSendArgs runs a campaign's batches: one job per campaign, which snoozes between
// batches (campaigns.Service.SendBatch) and ends when the campaign no longer runs.
type CampaignSendArgs struct {
	WorkspaceID domain.ID `json:"workspace_id"`
	CampaignID  domain.ID `json:"campaign_id"`
}

// Kind is stored in job rows: never change it.
func (CampaignSendArgs) Kind() string { return "campaign.send" }

// campaignSendStates are the states in which a campaign's send job blocks another: every
// state of a job still to run (River requires the first four). A completed, cancelled or
// discarded job does not, so a resumed campaign, or the leader's tick, can queue a new one.
var campaignSendStates = []rivertype.JobState{
	rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
	rivertype.JobStateScheduled, rivertype.JobStateRetryable,
}

// InsertOpts: one job per campaign at a time (by args), on the default queue: it only
// writes rows, the outbound queue's workers do the sending.
func (CampaignSendArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueDefault, MaxAttempts: MaxAttempts,
		UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: campaignSendStates}}
}

// EnqueueCampaignSend inserts the campaign's send job unless it has one to run already.
func (j *TxJobs) EnqueueCampaignSend(ctx context.Context, ws, id domain.ID) error {
	_, err := j.client.InsertTx(ctx, j.tx, CampaignSendArgs{WorkspaceID: ws, CampaignID: id}, nil)
	return err
}

// EnqueueSends inserts the send jobs of a campaign batch's messages in one statement.
func (j *TxJobs) EnqueueSends(ctx context.Context, ws domain.ID, ids []domain.ID, priority int) error {
	if len(ids) == 0 {
		return nil
	}
	opts := &river.InsertOpts{Priority: min(max(priority, 1), 4)}
	params := make([]river.InsertManyParams, len(ids))
	for i, id := range ids {
		params[i] = river.InsertManyParams{Args: SendArgs{WorkspaceID: ws, MessageID: id}, InsertOpts: opts}
	}
	_, err := j.client.InsertManyFastTx(ctx, j.tx, params)
	return err
}

// CampaignSendWorker runs a campaign's batches.
type CampaignSendWorker struct {
	river.WorkerDefaults[CampaignSendArgs]
	Campaigns *campaigns.Service
	Log       *slog.Logger
}

// campaignProgress is what a campaign's send job keeps between its runs, as River's
// recorded output (the job's metadata): when its last batch was taken and how long it then
// chose to wait, which size the next (campaigns.Behind).
type campaignProgress struct {
	LastBatchAt time.Time     `json:"last_batch_at"`
	Waited      time.Duration `json:"waited"`
}

// Work queues one batch, then snoozes until the next (not an attempt: a campaign of a
// million recipients is a million seconds of snoozes at worst, never a failure).
func (w *CampaignSendWorker) Work(ctx context.Context, job *river.Job[CampaignSendArgs]) error {
	var kept struct {
		Output campaignProgress `json:"output"`
	}
	_ = json.Unmarshal(job.Metadata, &kept) // none yet, or unreadable: the batch takes one interval's worth
	start := time.Now()
	var since time.Duration
	if !kept.Output.LastBatchAt.IsZero() {
		since = campaigns.Behind(start.Sub(kept.Output.LastBatchAt), kept.Output.Waited)
	}
	step, err := w.Campaigns.SendBatchAfter(ctx, job.Args.WorkspaceID, job.Args.CampaignID, since)
	if err != nil {
		return err
	}
	if err := river.RecordOutput(ctx, campaignProgress{LastBatchAt: start, Waited: step.Wait}); err != nil {
		return err
	}
	if step.Queued > 0 || step.Skipped > 0 || step.Done {
		w.Log.DebugContext(ctx, "campaign batch", "campaign_id", job.Args.CampaignID.String(), "queued", step.Queued,
			"skipped", step.Skipped, "done", step.Done, "reason", step.Reason)
	}
	if step.Done {
		return nil
	}
	if step.Wait >= campaigns.BlockedWait {
		w.Log.WarnContext(ctx, "campaign cannot send", "campaign_id", job.Args.CampaignID.String(), "reason", step.Reason)
	}
	return river.JobSnooze(step.Wait)
}

// NextRetry follows the product's schedule (1s, 5s, 30s, 2m, 10m); a job discarded after
// that is queued again by the leader's tick.
func (w *CampaignSendWorker) NextRetry(job *river.Job[CampaignSendArgs]) time.Time {
	return NextRetry(job.Errors)
}

// CampaignTickArgs asks the leader to start due scheduled campaigns and to make sure every
// running one has its send job.
type CampaignTickArgs struct{}

// Kind is stored in job rows: never change it.
func (CampaignTickArgs) Kind() string { return "campaign.tick" }

// CampaignTickWorker runs the tick.
type CampaignTickWorker struct {
	river.WorkerDefaults[CampaignTickArgs]
	Campaigns *campaigns.Service
}

// Work runs one tick.
func (w *CampaignTickWorker) Work(ctx context.Context, _ *river.Job[CampaignTickArgs]) error {
	_, err := w.Campaigns.Tick(ctx)
	return err
}

// CampaignTickEvery is how often the leader ticks: a scheduled campaign starts at most
// this late.
const CampaignTickEvery = 15 * time.Second

// CampaignTickPeriodic ticks on the leader only (one instance starts a scheduled
// campaign; its lock on the campaign makes a second start a no-op anyway).
func CampaignTickPeriodic() *river.PeriodicJob {
	return periodic("campaign-tick", CampaignTickEvery, CampaignTickArgs{}, true)
}
