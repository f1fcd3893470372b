package riveradapter

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"

	"github.com/wabaplatform/waba/application/messaging"
	"github.com/wabaplatform/waba/domain"
)

// QueueOutbound is where send jobs run.
const QueueOutbound = "outbound"

// SendArgs sends one queued outbound message to Meta.
type SendArgs struct {
	WorkspaceID domain.ID `json:"workspace_id"`
	MessageID   domain.ID `json:"message_id"`
}

// Kind is stored in job rows: never change it.
func (SendArgs) Kind() string { return "message.send" }

// InsertOpts: our retry budget. No uniqueness: the job is inserted once, in the
// transaction that creates its message, and a message that has its wamid is never sent
// again; a unique insert would cost an index probe on the hottest insert for nothing.
func (SendArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueOutbound, MaxAttempts: MaxAttempts}
}

// EnqueueSend inserts the send job of a queued message in the current transaction, at the
// first priority (a single reply, such as an opt-out confirmation).
func (j *TxJobs) EnqueueSend(ctx context.Context, workspaceID, messageID domain.ID) error {
	return j.EnqueueSendPriority(ctx, workspaceID, messageID, 1)
}

// EnqueueSendPriority inserts the send job with a River priority from 1 (first) to 4: the
// send use case lowers it for workspaces sending in bulk, so their backlog never delays
// another workspace's replies (see messaging.Service).
func (j *TxJobs) EnqueueSendPriority(ctx context.Context, workspaceID, messageID domain.ID, priority int) error {
	_, err := j.client.InsertTx(ctx, j.tx, SendArgs{WorkspaceID: workspaceID, MessageID: messageID},
		&river.InsertOpts{Priority: min(max(priority, 1), 4)})
	return err
}

// SendMetrics counts what the send worker did.
type SendMetrics struct {
	sent      prometheus.Counter
	failed    *prometheus.CounterVec
	throttled *prometheus.CounterVec
	retried   prometheus.Counter
}

// NewSendMetrics registers the send counters on reg.
func NewSendMetrics(reg prometheus.Registerer) *SendMetrics {
	m := &SendMetrics{
		sent: prometheus.NewCounter(prometheus.CounterOpts{Name: "waba_messages_sent_total",
			Help: "Outbound messages Meta accepted."}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "waba_message_send_failures_total",
			Help: "Outbound messages that failed for good, by Meta error code (0: refused before Meta)."}, []string{"code"}),
		throttled: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "waba_message_send_throttled_total",
			Help: "Send attempts put off by pacing or a Meta rate limit, by Meta error code (0: our own pacing)."}, []string{"code"}),
		retried: prometheus.NewCounter(prometheus.CounterOpts{Name: "waba_message_send_retries_total",
			Help: "Send attempts that failed transiently and will be retried."}),
	}
	reg.MustRegister(m.sent, m.failed, m.throttled, m.retried)
	return m
}

// SendWorker delivers queued messages. Fair scheduling across workspaces comes from the
// job priority chosen at enqueue (see EnqueueSendPriority); per-number pacing snoozes jobs
// to their slot rather than holding a worker.
type SendWorker struct {
	river.WorkerDefaults[SendArgs]
	Dispatcher *messaging.Dispatcher
	Metrics    *SendMetrics
}

// ErrSendFailed marks a job whose message was recorded as failed: it is cancelled, not retried.
var ErrSendFailed = errors.New("message failed")

// Work delivers the message.
func (w *SendWorker) Work(ctx context.Context, job *river.Job[SendArgs]) error {
	out, err := w.Dispatcher.Deliver(ctx, job.Args.WorkspaceID, job.Args.MessageID, job.Attempt >= job.MaxAttempts)
	if err != nil {
		w.Metrics.retried.Inc()
		return err
	}
	switch out.Result {
	case messaging.ResultSent:
		w.Metrics.sent.Inc()
	case messaging.ResultFailed:
		w.Metrics.failed.WithLabelValues(strconv.Itoa(out.Code)).Inc()
		return river.JobCancel(fmt.Errorf("%w: %s (code %d)", ErrSendFailed, out.Reason, out.Code))
	case messaging.ResultSnoozed:
		w.Metrics.throttled.WithLabelValues(strconv.Itoa(out.Code)).Inc()
		return river.JobSnooze(out.Wait)
	}
	return nil
}

// NextRetry follows the product's schedule (1s, 5s, 30s, 2m, 10m).
func (w *SendWorker) NextRetry(job *river.Job[SendArgs]) time.Time { return NextRetry(job.Errors) }

// Timeout bounds one delivery (the Graph call has its own, shorter timeout).
func (w *SendWorker) Timeout(*river.Job[SendArgs]) time.Duration { return 30 * time.Second }
