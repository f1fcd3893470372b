package httpapi

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/wabaplatform/waba/application/hooks"
	"github.com/wabaplatform/waba/domain"
)

// Hooks serves the customer webhook routes (API.md "Outbound webhooks").
type Hooks struct {
	API   *API
	Hooks *hooks.Service
}

// Register adds the routes to e.
func (h *Hooks) Register(e *echo.Echo) {
	ws := func(method, path string, fn echo.HandlerFunc) { h.API.WorkspaceRoute(e, method, path, fn) }
	ws(http.MethodPost, "/webhook-endpoints", h.create)
	ws(http.MethodGet, "/webhook-endpoints", h.list)
	ws(http.MethodGet, "/webhook-endpoints/:id", h.get)
	ws(http.MethodPatch, "/webhook-endpoints/:id", h.update)
	ws(http.MethodDelete, "/webhook-endpoints/:id", h.delete)
	ws(http.MethodPost, "/webhook-endpoints/:id/rotate-secret", h.rotate)
	ws(http.MethodPost, "/webhook-endpoints/:id/test", h.test)
	ws(http.MethodGet, "/webhook-endpoints/:id/deliveries", h.deliveries)
	ws(http.MethodPost, "/webhook-deliveries/:id/retry", h.retry)
}

// endpointDTO is an endpoint as API.md shows it; Secret only in the answer to create.
type endpointDTO struct {
	ID           domain.ID              `json:"id"`
	URL          string                 `json:"url"`
	Events       []domain.HookEventType `json:"events"`
	Description  string                 `json:"description"`
	Enabled      bool                   `json:"enabled"`
	Secret       string                 `json:"secret,omitempty"`
	FailingSince *time.Time             `json:"failing_since"`
	DisabledAt   *time.Time             `json:"disabled_at"`
	CreatedAt    time.Time              `json:"created_at"`
	UpdatedAt    time.Time              `json:"updated_at"`
}

func toEndpoint(e domain.HookEndpoint) endpointDTO {
	events := e.Events
	if events == nil {
		events = []domain.HookEventType{}
	}
	return endpointDTO{ID: e.ID, URL: e.URL, Events: events, Description: e.Description, Enabled: e.Enabled,
		FailingSince: utcOrNil(e.FailingSince), DisabledAt: utcOrNil(e.DisabledAt), CreatedAt: e.CreatedAt.UTC(), UpdatedAt: e.UpdatedAt.UTC()}
}

type deliveryDTO struct {
	ID             domain.ID                 `json:"id"`
	EndpointID     domain.ID                 `json:"endpoint_id"`
	EventID        string                    `json:"event_id"`
	EventType      domain.HookEventType      `json:"event_type"`
	Status         domain.HookDeliveryStatus `json:"status"`
	Attempts       int                       `json:"attempts"`
	ResponseStatus *int                      `json:"response_status"`
	ResponseBody   *string                   `json:"response_body"`
	Error          *string                   `json:"error"`
	DurationMS     *int                      `json:"duration_ms"`
	NextAttemptAt  *time.Time                `json:"next_attempt_at"`
	CreatedAt      time.Time                 `json:"created_at"`
	UpdatedAt      time.Time                 `json:"updated_at"`
}

func toDelivery(d domain.HookDelivery) deliveryDTO {
	next := utcOrNil(d.NextAttemptAt)
	if d.Status == domain.HookSucceeded || d.Status == domain.HookDead {
		next = nil
	}
	return deliveryDTO{ID: d.ID, EndpointID: d.EndpointID, EventID: d.EventID, EventType: d.EventType, Status: d.Status,
		Attempts: d.Attempts, ResponseStatus: d.ResponseStatus, ResponseBody: strOrNil(d.ResponseBody), Error: strOrNil(d.Error),
		DurationMS: d.DurationMS, NextAttemptAt: next, CreatedAt: d.CreatedAt.UTC(), UpdatedAt: d.UpdatedAt.UTC()}
}

// endpointRequest is the body of create and patch; absent members are nil.
type endpointRequest struct {
	URL         *string         `json:"url"`
	Events      json.RawMessage `json:"events"`
	Description *string         `json:"description"`
	Enabled     *bool           `json:"enabled"`
}

func (r endpointRequest) input() (hooks.EndpointInput, error) {
	in := hooks.EndpointInput{URL: r.URL, Description: r.Description, Enabled: r.Enabled}
	if len(r.Events) > 0 && string(r.Events) != "null" {
		if err := json.Unmarshal(r.Events, &in.Events); err != nil {
			var v domain.Validator
			v.Add("events", "must be a list of event types")
			return in, v.Err()
		}
		if in.Events == nil {
			in.Events = []string{}
		}
	}
	return in, nil
}

func (h *Hooks) create(c echo.Context) error {
	var req endpointRequest
	if err := bind(c, &req); err != nil {
		return err
	}
	in, err := req.input()
	if err != nil {
		return err
	}
	out, err := h.Hooks.Create(c.Request().Context(), caller(c), in)
	if err != nil {
		return err
	}
	dto := toEndpoint(out.Endpoint)
	dto.Secret = out.Secret
	return c.JSON(http.StatusCreated, dto)
}

func (h *Hooks) list(c echo.Context) error {
	es, err := h.Hooks.List(c.Request().Context(), caller(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, listOf(domain.Page[domain.HookEndpoint]{Items: es}, toEndpoint))
}

func (h *Hooks) get(c echo.Context) error {
	id, err := pathID(c, "id", "webhook endpoint")
	if err != nil {
		return err
	}
	e, err := h.Hooks.Get(c.Request().Context(), caller(c), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toEndpoint(e))
}

func (h *Hooks) update(c echo.Context) error {
	id, err := pathID(c, "id", "webhook endpoint")
	if err != nil {
		return err
	}
	var req endpointRequest
	if err := bind(c, &req); err != nil {
		return err
	}
	in, err := req.input()
	if err != nil {
		return err
	}
	e, err := h.Hooks.Update(c.Request().Context(), caller(c), id, in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toEndpoint(e))
}

func (h *Hooks) delete(c echo.Context) error {
	id, err := pathID(c, "id", "webhook endpoint")
	if err != nil {
		return err
	}
	if err := h.Hooks.Delete(c.Request().Context(), caller(c), id); err != nil {
		return err
	}
	return noContent(c)
}

func (h *Hooks) rotate(c echo.Context) error {
	id, err := pathID(c, "id", "webhook endpoint")
	if err != nil {
		return err
	}
	secret, err := h.Hooks.RotateSecret(c.Request().Context(), caller(c), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]string{"secret": secret})
}

func (h *Hooks) test(c echo.Context) error {
	id, err := pathID(c, "id", "webhook endpoint")
	if err != nil {
		return err
	}
	d, err := h.Hooks.Test(c.Request().Context(), caller(c), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, toDelivery(d))
}

func (h *Hooks) deliveries(c echo.Context) error {
	id, err := pathID(c, "id", "webhook endpoint")
	if err != nil {
		return err
	}
	limit, cursor, err := paging(c)
	if err != nil {
		return err
	}
	f := hooks.DeliveryFilter{Cursor: cursor}
	if s := c.QueryParam("status"); s != "" {
		st, ok := domain.ParseHookDeliveryStatus(s)
		if !ok {
			var v domain.Validator
			v.Add("status", "must be pending, succeeded, failed or dead")
			return v.Err()
		}
		f.Status = st
	}
	page, err := h.Hooks.Deliveries(c.Request().Context(), caller(c), id, f, limit)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, listOf(page, toDelivery))
}

func (h *Hooks) retry(c echo.Context) error {
	id, err := pathID(c, "id", "webhook delivery")
	if err != nil {
		return err
	}
	if err := h.Hooks.Retry(c.Request().Context(), caller(c), id); err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, map[string]string{"status": "queued"})
}
