package riveradapter

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"

	"github.com/wabaplatform/waba/adapters/meta/webhook"
	"github.com/wabaplatform/waba/application/inbound"
	"github.com/wabaplatform/waba/domain"
)

// WebhookWorker processes queued Meta webhooks with the inbound use case. The jobs River
// runs at the same time are processed together, in one transaction per batch
// (inbound.Service.ProcessAll): under load, a batch forms while the previous one commits.
// Build it with NewWebhookWorker; Close it after the River client has stopped.
type WebhookWorker struct {
	river.WorkerDefaults[WebhookArgs]
	inbound *inbound.Service
	metrics *InboundMetrics // optional
	group   *group[*processReq]
	ctx     context.Context // of every batch; Close cancels it
	cancel  context.CancelFunc
}

type processReq struct {
	body domain.Notification
	size int // of the raw body
	done chan error
}

// How jobs are processed together: up to 50 bodies or 1 MiB a transaction (a larger body,
// Meta sends up to 3 MB, goes alone within the batch timeout), 4 transactions at once.
const (
	webhookBatchMax      = 50
	webhookBatchMaxBytes = 1 << 20
	webhookTransactions  = 4
)

// WebhookTransactionsShared is how many processing transactions run at once in a process
// that also serves the webhook endpoint (`--role=all`). One, not four: processing then
// leaves the webhook endpoint most of the CPUs (acknowledging is what Meta waits for), and
// fuller batches cost less per body, so a backlog still drains. docs/ARCHITECTURE.md has
// the measurements. A worker-role process keeps four.
const WebhookTransactionsShared = 1

// NewWebhookWorker returns a worker over svc, counting into m (optional), running up to
// transactions batches at once (0: webhookTransactions, 4).
func NewWebhookWorker(svc *inbound.Service, m *InboundMetrics, transactions int) *WebhookWorker {
	if transactions <= 0 {
		transactions = webhookTransactions
	}
	w := &WebhookWorker{inbound: svc, metrics: m}
	w.ctx, w.cancel = context.WithCancel(context.Background())
	// No window: a job never waits for company, it takes what is already waiting.
	w.group = newGroup(groupConfig{MaxBatch: webhookBatchMax, MaxBatchBytes: webhookBatchMaxBytes, Flushers: transactions},
		func(r *processReq) int { return r.size }, w.process)
	return w
}

// Close stops the batching once the River client has stopped: River has then given up
// on the jobs still in a batch (they are retried), so their processing is cancelled.
func (w *WebhookWorker) Close() {
	w.cancel()
	w.group.close()
}

// Work translates one body (adapters/meta) and processes it. A body that can never be
// parsed, or whose processing panics, is cancelled at once (it stays visible in the River
// UI); other failures are retried on our schedule, then discarded.
func (w *WebhookWorker) Work(ctx context.Context, job *river.Job[WebhookArgs]) error {
	start := time.Now()
	raw := job.Args.Body()
	r, err := w.start(ctx, raw)
	if err == nil {
		err = r.wait(ctx)
	}
	return w.observe(job.CreatedAt, start, err)
}

// start translates raw and hands it to a processing batch; wait on the result.
func (w *WebhookWorker) start(ctx context.Context, raw []byte) (*processReq, error) {
	body, err := webhook.Translate(raw) // fails only for a body that can never be processed
	if err != nil {
		return nil, err
	}
	r := &processReq{body: body, size: len(raw), done: make(chan error, 1)}
	if err := w.group.submit(ctx, r); err != nil {
		return nil, err
	}
	return r, nil
}

// wait returns r's outcome once its batch has run.
func (r *processReq) wait(ctx context.Context) error {
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		return ctx.Err() // the batch may still commit; the retry is then idempotent
	}
}

// observe counts one body's outcome and returns err as its job should end: a body that can
// never be processed (malformed, or its processing panics) is cancelled.
func (w *WebhookWorker) observe(queued, start time.Time, err error) error {
	outcome := "ok"
	switch {
	case errors.Is(err, webhook.ErrMalformed):
		outcome = "malformed"
		err = river.JobCancel(err)
	case errors.Is(err, errPanicked):
		outcome = "panic"
		err = river.JobCancel(err)
	case err != nil:
		outcome = "error"
	}
	if w.metrics != nil {
		w.metrics.processed.WithLabelValues(outcome).Observe(time.Since(start).Seconds())
		if outcome == "ok" && !queued.IsZero() {
			w.metrics.lag.Observe(time.Since(queued).Seconds())
		}
	}
	return err
}

// WebhookBatchWorker processes the bodies of one ingest transaction: each goes to the
// WebhookWorker's batches as a job of its own would. A body that fails while others of the
// job succeed is split out into its own job (WebhookArgs), which River retries, or cancels,
// on its own; when every body fails the same way (the database is down), the whole job is
// retried instead of becoming one job per body.
type WebhookBatchWorker struct {
	river.WorkerDefaults[WebhookBatchArgs]
	w *WebhookWorker
}

// Batches returns the worker of batch jobs, sharing w's processing.
func (w *WebhookWorker) Batches() *WebhookBatchWorker { return &WebhookBatchWorker{w: w} }

// Work processes every body and splits out the ones that failed.
func (b *WebhookBatchWorker) Work(ctx context.Context, job *river.Job[WebhookBatchArgs]) error {
	start := time.Now()
	bodies := job.Args.Bodies
	reqs := make([]*processReq, len(bodies))
	errs := make([]error, len(bodies))
	for i, body := range bodies { // all submitted before any wait, so they share transactions
		reqs[i], errs[i] = b.w.start(ctx, body.Raw)
	}
	for i, r := range reqs {
		if r != nil {
			errs[i] = r.wait(ctx)
		}
	}
	if err := ctx.Err(); err != nil {
		return err // stopping or out of time: the whole job again, idempotently
	}
	// A body split out is counted by its own job; the others here.
	var failed []river.InsertManyParams
	var retryable []error
	for i, err := range errs {
		if err == nil {
			b.w.observe(job.CreatedAt, start, nil)
			continue
		}
		// A body that can never be processed runs at once, to be cancelled by its own job
		// (where it stays visible); another waits as River would retry it.
		opts := bodies[i].InsertOpts()
		if !errors.Is(err, webhook.ErrMalformed) && !errors.Is(err, errPanicked) {
			retryable = append(retryable, err)
			opts.ScheduledAt = NextRetry(nil)
		}
		failed = append(failed, river.InsertManyParams{Args: bodies[i], InsertOpts: &opts})
	}
	switch {
	case len(failed) == 0:
		return nil
	case len(retryable) == len(bodies):
		for _, err := range retryable {
			b.w.observe(job.CreatedAt, start, err)
		}
		return retryable[0]
	}
	client := river.ClientFromContext[pgx.Tx](ctx)
	if _, err := client.InsertMany(ctx, failed); err != nil {
		return fmt.Errorf("split out %d failed webhook bodies: %w", len(failed), err)
	}
	return nil
}

// NextRetry follows the product's schedule (1s, 5s, 30s, 2m, 10m).
func (b *WebhookBatchWorker) NextRetry(job *river.Job[WebhookBatchArgs]) time.Time {
	return NextRetry(job.Errors)
}

// Timeout is a body's (WebhookWorker.Timeout): the bodies wait for their batches together.
func (b *WebhookBatchWorker) Timeout(*river.Job[WebhookBatchArgs]) time.Duration {
	return webhookJobTimeout
}

// process runs one batch, bounded by webhookTimeout, and answers each job once.
func (w *WebhookWorker) process(batch []*processReq) {
	bodies := make([]domain.Notification, len(batch))
	for i, r := range batch {
		bodies[i] = r.body
	}
	ctx, cancel := context.WithTimeout(w.ctx, webhookTimeout)
	defer cancel()
	if w.metrics != nil {
		w.metrics.batch.Observe(float64(len(batch)))
	}
	var errs []error
	if err := recovered(func() { errs = w.inbound.ProcessAll(ctx, bodies) }); err != nil {
		// A panic (a bug) runs here, not in River's job goroutine where River would catch
		// it: find the body that causes it, alone, and let the others through.
		errs = make([]error, len(bodies))
		for i, body := range bodies {
			if perr := recovered(func() { errs[i] = w.inbound.Process(ctx, body) }); perr != nil {
				errs[i] = perr
			}
		}
	}
	for i, err := range errs {
		batch[i].done <- err
	}
}

// errPanicked marks a body whose processing panicked; its job is cancelled, as River
// cancels a job whose worker panics (bootstrap's error handler), and stays visible.
var errPanicked = errors.New("webhook processing panicked")

// recovered runs fn and returns its panic as an error wrapping errPanicked.
func recovered(fn func()) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("%w: %v\n%s", errPanicked, v, debug.Stack())
		}
	}()
	fn()
	return nil
}

// webhookTimeout bounds one batch's processing (up to MaxBatchBytes of bodies, or one
// larger body, and their one-body retries): seconds at most, normally milliseconds.
const webhookTimeout = time.Minute

// NextRetry follows the product's schedule (1s, 5s, 30s, 2m, 10m).
func (w *WebhookWorker) NextRetry(job *river.Job[WebhookArgs]) time.Time {
	return NextRetry(job.Errors)
}

// Timeout leaves a job time to wait for the batches ahead of it and then for its own. It
// is also how long River's own rescue waits for the job of a process it cannot see die
// (DeadClientRescuer takes a dead process's jobs back within seconds).
func (w *WebhookWorker) Timeout(*river.Job[WebhookArgs]) time.Duration {
	return webhookJobTimeout
}

// webhookJobTimeout is a webhook job's time: a batch's, and the wait for the batches ahead.
const webhookJobTimeout = webhookTimeout + 30*time.Second

// InboundMetrics are the Prometheus metrics of webhook processing. It implements
// inbound.Metrics.
type InboundMetrics struct {
	processed *prometheus.HistogramVec
	lag       prometheus.Histogram
	batch     prometheus.Histogram
	unrouted  *prometheus.CounterVec
	unknown   prometheus.Counter
	optOuts   prometheus.Counter
	optIns    prometheus.Counter
	notifErrs *prometheus.CounterVec
	charged   *prometheus.CounterVec
	spend     *prometheus.CounterVec
}

// NewInboundMetrics registers the metrics on reg.
func NewInboundMetrics(reg prometheus.Registerer) *InboundMetrics {
	buckets := []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}
	m := &InboundMetrics{
		processed: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "webhook_processing_seconds", Help: "Time to process one queued webhook body, by outcome (ok, error, malformed, panic).",
			Buckets: buckets}, []string{"outcome"}),
		batch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "webhook_processing_batch_size", Help: "Webhook bodies processed per transaction.",
			Buckets: []float64{1, 2, 5, 10, 20, 50, 100}}),
		lag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "webhook_processing_lag_seconds", Help: "Time from a webhook's acknowledgement to the end of its processing.",
			Buckets: buckets}),
		unrouted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "webhook_events_unrouted_total", Help: "Webhook events dropped because no workspace owns them, by what was unknown (phone_number, waba, number, sender)."},
			[]string{"kind"}),
		unknown: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "webhook_statuses_unknown_total", Help: "Status reports for a wamid no outbound message has (recorded, not applied)."}),
		optOuts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "contact_opt_outs_total", Help: "Contacts opted out by keyword."}),
		optIns: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "contact_opt_ins_total", Help: "Contacts opted back in by keyword."}),
		notifErrs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "webhook_notification_errors_total", Help: "Notification-level errors (value.errors[]) Meta reported, by code."},
			[]string{"code"}),
	}
	m.charged = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "billing_messages_total", Help: "Messages Meta priced that the usage ledger recorded, by pricing category and whether Meta charged them."},
		[]string{"category", "billable"})
	m.spend = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "billing_spend_micros_total", Help: "What the recorded charges cost the workspaces, in micros, by pricing category and currency."},
		[]string{"category", "currency"})
	reg.MustRegister(m.processed, m.lag, m.batch, m.unrouted, m.unknown, m.optOuts, m.optIns, m.notifErrs, m.charged, m.spend)
	return m
}

// Unrouted implements inbound.Metrics.
func (m *InboundMetrics) Unrouted(kind string) { m.unrouted.WithLabelValues(kind).Inc() }

// UnknownStatus implements inbound.Metrics.
func (m *InboundMetrics) UnknownStatus() { m.unknown.Inc() }

// OptedOut implements inbound.Metrics.
func (m *InboundMetrics) OptedOut() { m.optOuts.Inc() }

// OptedIn implements inbound.Metrics.
func (m *InboundMetrics) OptedIn() { m.optIns.Inc() }

// Charged implements inbound.Metrics.
func (m *InboundMetrics) Charged(s domain.Spend) {
	m.charged.WithLabelValues(s.Category, strconv.FormatBool(s.Billable)).Inc()
	m.spend.WithLabelValues(s.Category, s.Currency).Add(float64(s.Amount))
}

// NotificationError implements inbound.Metrics.
func (m *InboundMetrics) NotificationError(code int) {
	m.notifErrs.WithLabelValues(strconv.Itoa(code)).Inc()
}
