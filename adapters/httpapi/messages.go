package httpapi

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/wabaplatform/waba/application/messaging"
	"github.com/wabaplatform/waba/domain"
)

// Messages serves the send and read routes.
type Messages struct {
	API       *API
	Messaging *messaging.Service
	rejected  prometheus.Counter
}

// NewMessages returns the handlers; rate-limit rejections are counted on reg.
func NewMessages(api *API, svc *messaging.Service, reg prometheus.Registerer) *Messages {
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "waba_rate_limit_rejections_total",
		Help:        "Requests refused with 429 by the workspace plan's message quota.",
		ConstLabels: prometheus.Labels{"limit": "workspace_messages"}})
	reg.MustRegister(c)
	return &Messages{API: api, Messaging: svc, rejected: c}
}

// Register adds the routes to e.
func (h *Messages) Register(e *echo.Echo) {
	ws := func(method, path string, fn echo.HandlerFunc) { h.API.WorkspaceRoute(e, method, path, fn) }
	ws(http.MethodPost, "/messages", h.send)
	ws(http.MethodGet, "/messages/:id", h.get)
	ws(http.MethodGet, "/contacts/:id/messages", h.listByContact)
}

type messageErrorDTO struct {
	Code   int    `json:"code"`
	Title  string `json:"title"`
	Detail string `json:"detail"`
}

type messageDTO struct {
	ID            domain.ID        `json:"id"`
	ContactID     domain.ID        `json:"contact_id"`
	PhoneNumberID string           `json:"phone_number_id"`
	Direction     string           `json:"direction"`
	Type          string           `json:"type"`
	Content       json.RawMessage  `json:"content"`
	Status        string           `json:"status"`
	WAMID         *string          `json:"wamid"`
	Error         *messageErrorDTO `json:"error"`
	CreatedAt     time.Time        `json:"created_at"`
	SentAt        *time.Time       `json:"sent_at"`
	DeliveredAt   *time.Time       `json:"delivered_at"`
	ReadAt        *time.Time       `json:"read_at"`
	FailedAt      *time.Time       `json:"failed_at"`
	// Media is the file an inbound media message brought (absent on other messages).
	Media *domain.MediaRef `json:"media,omitempty"`
}

func toMessage(m domain.Message) messageDTO {
	d := messageDTO{ID: m.ID, ContactID: m.ContactID, PhoneNumberID: m.PhoneNumberID, Direction: string(m.Direction),
		Type: m.Type, Content: m.Content, Status: string(m.Status), WAMID: strOrNil(m.WAMID), CreatedAt: m.CreatedAt.UTC(),
		SentAt: utcOrNil(m.SentAt), DeliveredAt: utcOrNil(m.DeliveredAt), ReadAt: utcOrNil(m.ReadAt), FailedAt: utcOrNil(m.FailedAt)}
	if len(bytes.TrimSpace(d.Content)) == 0 {
		d.Content = json.RawMessage(`{}`)
	}
	d.Media = m.Media
	if m.Error != nil {
		d.Error = &messageErrorDTO{Code: m.Error.Code, Title: m.Error.Title, Detail: m.Error.Detail}
	}
	return d
}

// sendBody is the request; the type objects stay raw for the use case to check.
type sendBody struct {
	To            string `json:"to"`
	PhoneNumberID string `json:"phone_number_id"`
	Type          string `json:"type"`
}

func (h *Messages) send(c echo.Context) error {
	raw, err := readBody(c)
	if err != nil {
		return err
	}
	var body sendBody
	var all map[string]json.RawMessage
	if json.Unmarshal(raw, &all) != nil || json.Unmarshal(raw, &body) != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "the body is not valid JSON for this endpoint")
	}
	in := messaging.SendInput{To: body.To, PhoneNumberID: body.PhoneNumberID, Type: body.Type,
		IdempotencyKey: c.Request().Header.Get("Idempotency-Key")}
	if body.Type != "" {
		in.Content = all[body.Type]
	}
	if in.IdempotencyKey != "" {
		in.RequestHash = requestHash(raw)
	}
	res, err := h.Messaging.Send(c.Request().Context(), caller(c), in)
	if q := res.Quota; q != nil {
		setRateLimitHeaders(c, q.Limit, q.Remaining, q.Reset)
	}
	if err != nil {
		if domain.IsKind(err, domain.KindRateLimited) {
			h.rejected.Inc()
		}
		return err
	}
	if res.Replayed {
		c.Response().Header().Set("Idempotent-Replayed", "true")
	}
	return c.JSON(http.StatusAccepted, toMessage(res.Message))
}

// requestHash digests the body after re-encoding, so whitespace and key order do not make
// the same request look different to Idempotency-Key.
func requestHash(raw []byte) []byte {
	var v any
	canonical := raw
	if json.Unmarshal(raw, &v) == nil {
		if b, err := json.Marshal(v); err == nil {
			canonical = b
		}
	}
	sum := sha256.Sum256(canonical)
	return sum[:]
}

func (h *Messages) get(c echo.Context) error {
	id, err := pathID(c, "id", "message")
	if err != nil {
		return err
	}
	m, err := h.Messaging.Get(c.Request().Context(), caller(c), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toMessage(m))
}

func (h *Messages) listByContact(c echo.Context) error {
	id, err := pathID(c, "id", "contact")
	if err != nil {
		return err
	}
	limit, cursor, err := paging(c)
	if err != nil {
		return err
	}
	page, err := h.Messaging.ListByContact(c.Request().Context(), caller(c), id, limit, cursor)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, listOf(page, toMessage))
}
