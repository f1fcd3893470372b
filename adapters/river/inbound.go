package riveradapter

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"

	"github.com/wabaplatform/waba/application/inbound"
	"github.com/wabaplatform/waba/domain/webhook"
)

// WebhookWorker processes queued Meta webhooks with the inbound use case.
type WebhookWorker struct {
	river.WorkerDefaults[WebhookArgs]
	Inbound *inbound.Service
	Metrics *InboundMetrics // optional
}

// Work processes one body. A body that can never be parsed is cancelled at once (it stays
// visible in the River UI); other failures are retried on our schedule, then discarded.
func (w *WebhookWorker) Work(ctx context.Context, job *river.Job[WebhookArgs]) error {
	start := time.Now()
	err := w.Inbound.Process(ctx, job.Args.Body())
	outcome := "ok"
	switch {
	case errors.Is(err, webhook.ErrMalformed):
		outcome = "malformed"
		err = river.JobCancel(err)
	case err != nil:
		outcome = "error"
	}
	if w.Metrics != nil {
		w.Metrics.processed.WithLabelValues(outcome).Observe(time.Since(start).Seconds())
		if outcome == "ok" && !job.CreatedAt.IsZero() {
			w.Metrics.lag.Observe(time.Since(job.CreatedAt).Seconds())
		}
	}
	return err
}

// NextRetry follows the product's schedule (1s, 5s, 30s, 2m, 10m).
func (w *WebhookWorker) NextRetry(job *river.Job[WebhookArgs]) time.Time {
	return NextRetry(job.Errors)
}

// Timeout allows a 1,000-update body to be processed in one transaction.
func (w *WebhookWorker) Timeout(*river.Job[WebhookArgs]) time.Duration { return 2 * time.Minute }

// InboundMetrics are the Prometheus metrics of webhook processing. It implements
// inbound.Metrics.
type InboundMetrics struct {
	processed *prometheus.HistogramVec
	lag       prometheus.Histogram
	unrouted  *prometheus.CounterVec
	unknown   prometheus.Counter
	optOuts   prometheus.Counter
	optIns    prometheus.Counter
	notifErrs *prometheus.CounterVec
}

// NewInboundMetrics registers the metrics on reg.
func NewInboundMetrics(reg prometheus.Registerer) *InboundMetrics {
	buckets := []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}
	m := &InboundMetrics{
		processed: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "webhook_processing_seconds", Help: "Time to process one queued webhook body, by outcome (ok, error, malformed).",
			Buckets: buckets}, []string{"outcome"}),
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
	reg.MustRegister(m.processed, m.lag, m.unrouted, m.unknown, m.optOuts, m.optIns, m.notifErrs)
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

// NotificationError implements inbound.Metrics.
func (m *InboundMetrics) NotificationError(code int) {
	m.notifErrs.WithLabelValues(strconv.Itoa(code)).Inc()
}
