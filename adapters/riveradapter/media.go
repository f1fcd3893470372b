package riveradapter

import (
	"context"
	"errors"
	"time"

	"github.com/riverqueue/river"

	"github.com/wabaplatform/waba/application/media"
	"github.com/wabaplatform/waba/domain"
)

// MediaDownloadArgs downloads one inbound media file from Meta into the media store.
type MediaDownloadArgs struct {
	WorkspaceID domain.ID `json:"workspace_id"`
	MediaID     domain.ID `json:"media_id"`
}

// Kind is stored in job rows: never change it.
func (MediaDownloadArgs) Kind() string { return "media.download" }

// InsertOpts: our retry budget, on a queue of their own (a download holds a worker while it
// streams; no other queue waits behind a burst of them).
func (MediaDownloadArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueMedia, MaxAttempts: MaxAttempts}
}

// EnqueueMediaDownload inserts the download of an inbound file in the current transaction
// (media.Jobs), the one that stores its message.
func (j *TxJobs) EnqueueMediaDownload(ctx context.Context, ws, id domain.ID) error {
	_, err := j.client.InsertTx(ctx, j.tx, MediaDownloadArgs{WorkspaceID: ws, MediaID: id}, nil)
	return err
}

// MediaDownloadWorker runs downloads.
type MediaDownloadWorker struct {
	river.WorkerDefaults[MediaDownloadArgs]
	Media *media.Service
}

// Work downloads the file: what cannot succeed is recorded failed by the use case; Meta's
// throttling snoozes; other errors retry on the product's schedule, and the last attempt
// records the failure.
func (w *MediaDownloadWorker) Work(ctx context.Context, job *river.Job[MediaDownloadArgs]) error {
	err := w.Media.Download(ctx, job.Args.WorkspaceID, job.Args.MediaID, job.Attempt >= job.MaxAttempts)
	var me *domain.MetaError
	if errors.As(err, &me) && me.Class == domain.MetaThrottled && me.RetryAfter > 0 && me.RetryAfter < time.Hour {
		return river.JobSnooze(me.RetryAfter)
	}
	return err
}

// NextRetry follows the product's schedule (1s, 5s, 30s, 2m, 10m).
func (w *MediaDownloadWorker) NextRetry(job *river.Job[MediaDownloadArgs]) time.Time {
	return NextRetry(job.Errors)
}

// Timeout allows a 100 MB document on a slow link.
func (w *MediaDownloadWorker) Timeout(*river.Job[MediaDownloadArgs]) time.Duration {
	return 10 * time.Minute
}
