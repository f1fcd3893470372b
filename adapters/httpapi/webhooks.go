package httpapi

import (
	"bytes"
	"context"
	"crypto/subtle"
	"errors"
	"io"
	"net/http"
	"sync"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/wabaplatform/waba/adapters/meta/webhook"
	"github.com/wabaplatform/waba/domain"
)

// MaxWebhookBody caps a webhook body: Meta sends up to 3 MB.
const MaxWebhookBody = 4 << 20

// WebhookQueue durably queues a verified webhook body; duplicate reports an identical body
// already queued. It returns only once the body is committed (or with an error).
type WebhookQueue interface {
	Ingest(ctx context.Context, raw []byte) (duplicate bool, err error)
}

// Webhooks is Meta's webhook endpoint: the subscription handshake and event delivery. The
// POST path does only what acknowledging requires: read the capped raw body, verify its
// signature, queue it. Parsing, routing and everything else happen in the worker.
type Webhooks struct {
	AppSecret   []byte
	VerifyToken string
	Queue       WebhookQueue
	Metrics     *WebhookMetrics
}

// Register adds GET and POST /webhooks/meta (no authentication: the signature is the
// authentication of the POST, the verify token that of the GET).
func (h *Webhooks) Register(e *echo.Echo) {
	e.GET("/webhooks/meta", h.verify)
	e.POST("/webhooks/meta", h.receive)
}

// verify answers Meta's handshake with the challenge when the token matches.
func (h *Webhooks) verify(c echo.Context) error {
	q := c.QueryParams()
	token := q.Get("hub.verify_token")
	if q.Get("hub.mode") != "subscribe" || h.VerifyToken == "" ||
		subtle.ConstantTimeCompare([]byte(token), []byte(h.VerifyToken)) != 1 {
		return domain.Errorf(domain.KindForbidden, "verification token mismatch")
	}
	return c.String(http.StatusOK, q.Get("hub.challenge"))
}

var bodyBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// receive acknowledges one delivery: 200 once queued, 401 on a bad signature, 413 over
// the cap, 503 when the queue (Postgres) is unavailable, so Meta retries.
func (h *Webhooks) receive(c echo.Context) error {
	req := c.Request()
	if req.ContentLength > MaxWebhookBody {
		h.Metrics.outcome("too_large")
		return domain.Errorf(kindPayloadTooLarge, "the body exceeds 4 MiB")
	}
	buf := bodyBuffers.Get().(*bytes.Buffer)
	buf.Reset()
	recycle := true // false once the queue may still hold the bytes
	defer func() {
		if recycle && buf.Cap() <= 1<<20 { // keep small buffers only
			bodyBuffers.Put(buf)
		}
	}()
	if req.ContentLength > 0 {
		buf.Grow(int(req.ContentLength))
	}
	if _, err := buf.ReadFrom(io.LimitReader(req.Body, MaxWebhookBody+1)); err != nil {
		h.Metrics.outcome("read_error")
		return echo.NewHTTPError(http.StatusBadRequest, "could not read the body").SetInternal(err)
	}
	if buf.Len() > MaxWebhookBody {
		h.Metrics.outcome("too_large")
		return domain.Errorf(kindPayloadTooLarge, "the body exceeds 4 MiB")
	}
	raw := buf.Bytes()
	header := req.Header.Get("X-Hub-Signature-256")
	if !webhook.VerifySignature(h.AppSecret, raw, header) {
		reason := "mismatch"
		if header == "" {
			reason = "missing"
		}
		h.Metrics.signatureFailed(reason)
		return domain.Errorf(kindInvalidSignature, "X-Hub-Signature-256 is missing or does not match the body")
	}
	// A successful Ingest has written the bytes to Postgres and keeps no reference; after
	// an error (a cancelled request) the batch may still read them, so the buffer is dropped.
	dup, err := h.Queue.Ingest(req.Context(), raw)
	if err != nil {
		recycle = false
		h.Metrics.outcome("unavailable")
		if errors.Is(err, context.Canceled) {
			return &domain.Error{Kind: domain.KindUnavailable, Message: "the request ended before the webhook was queued"}
		}
		return &unavailableError{err: err}
	}
	if dup {
		h.Metrics.outcome("duplicate")
	} else {
		h.Metrics.outcome("accepted")
	}
	return c.NoContent(http.StatusOK)
}

// unavailableError is a 503 whose cause is logged but never shown.
type unavailableError struct{ err error }

func (e *unavailableError) Error() string { return "webhook not queued: " + e.err.Error() }
func (e *unavailableError) Unwrap() error {
	return &domain.Error{Kind: domain.KindUnavailable, Message: "the webhook could not be queued; retry"}
}

// WebhookMetrics count webhook deliveries.
type WebhookMetrics struct {
	received  *prometheus.CounterVec
	sigFailed *prometheus.CounterVec
}

// NewWebhookMetrics registers the webhook endpoint's metrics on reg.
func NewWebhookMetrics(reg prometheus.Registerer) *WebhookMetrics {
	m := &WebhookMetrics{
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "webhooks_received_total",
			Help: "Meta webhook deliveries by outcome: accepted, duplicate, invalid_signature, too_large, unavailable, read_error."},
			[]string{"outcome"}),
		sigFailed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "webhook_signature_failures_total",
			Help: "Webhook deliveries rejected for their X-Hub-Signature-256, by reason (missing, mismatch)."},
			[]string{"reason"}),
	}
	for _, o := range []string{"accepted", "duplicate", "invalid_signature", "too_large", "unavailable", "read_error"} {
		m.received.WithLabelValues(o)
	}
	reg.MustRegister(m.received, m.sigFailed)
	return m
}

func (m *WebhookMetrics) outcome(o string) {
	if m != nil {
		m.received.WithLabelValues(o).Inc()
	}
}

func (m *WebhookMetrics) signatureFailed(reason string) {
	if m != nil {
		m.received.WithLabelValues("invalid_signature").Inc()
		m.sigFailed.WithLabelValues(reason).Inc()
	}
}
