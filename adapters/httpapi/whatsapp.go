package httpapi

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/wabaplatform/waba/application/onboarding"
	"github.com/wabaplatform/waba/domain"
)

// WhatsApp serves the number onboarding routes.
type WhatsApp struct {
	API        *API
	Onboarding *onboarding.Service
}

// Register adds the routes to e.
func (h *WhatsApp) Register(e *echo.Echo) {
	ws := func(method, path string, fn echo.HandlerFunc) { h.API.WorkspaceRoute(e, method, "/whatsapp"+path, fn) }
	ws(http.MethodPost, "/connect", h.connect)
	ws(http.MethodGet, "/phone-numbers", h.list)
	ws(http.MethodGet, "/phone-numbers/:id", h.get)
	ws(http.MethodPost, "/phone-numbers/:id/sync", h.sync)
}

// phoneNumberDTO never carries the token or PIN, sealed or not.
type phoneNumberDTO struct {
	ID                 domain.ID  `json:"id"`
	PhoneNumberID      string     `json:"phone_number_id"`
	WABAID             string     `json:"waba_id"`
	DisplayPhoneNumber string     `json:"display_phone_number"`
	VerifiedName       string     `json:"verified_name"`
	Status             string     `json:"status"`
	FailureReason      *string    `json:"failure_reason"`
	WebhookSubscribed  bool       `json:"webhook_subscribed"`
	Registered         bool       `json:"registered"`
	QualityRating      *string    `json:"quality_rating"`
	MessagingLimitTier *string    `json:"messaging_limit_tier"`
	ThroughputLevel    *string    `json:"throughput_level"`
	LastSyncedAt       *time.Time `json:"last_synced_at"`
	CreatedAt          time.Time  `json:"created_at"`
}

func toPhoneNumber(p domain.PhoneNumber) phoneNumberDTO {
	return phoneNumberDTO{ID: p.ID, PhoneNumberID: p.PhoneNumberID, WABAID: p.WABAID, DisplayPhoneNumber: p.DisplayPhoneNumber,
		VerifiedName: p.VerifiedName, Status: string(p.Status), FailureReason: strOrNil(p.FailureReason),
		WebhookSubscribed: p.WebhookSubscribed, Registered: p.Registered, QualityRating: strOrNil(p.QualityRating),
		MessagingLimitTier: strOrNil(p.MessagingLimitTier), ThroughputLevel: strOrNil(p.ThroughputLevel),
		LastSyncedAt: utcOrNil(p.LastSyncedAt), CreatedAt: p.CreatedAt.UTC()}
}

func (h *WhatsApp) connect(c echo.Context) error {
	var req struct {
		Code          string `json:"code"`
		AccessToken   string `json:"access_token"`
		WABAID        string `json:"waba_id"`
		PhoneNumberID string `json:"phone_number_id"`
		PIN           string `json:"pin"`
	}
	if err := bind(c, &req); err != nil {
		return err
	}
	p, err := h.Onboarding.Connect(c.Request().Context(), caller(c), onboarding.ConnectInput{
		Code: req.Code, AccessToken: req.AccessToken, WABAID: req.WABAID, PhoneNumberID: req.PhoneNumberID, PIN: req.PIN})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, map[string]any{"phone_number": toPhoneNumber(p)})
}

func (h *WhatsApp) list(c echo.Context) error {
	limit, cursor, err := paging(c)
	if err != nil {
		return err
	}
	page, err := h.Onboarding.List(c.Request().Context(), caller(c), limit, cursor)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, listOf(page, toPhoneNumber))
}

func (h *WhatsApp) get(c echo.Context) error {
	id, err := pathID(c, "id", "phone number")
	if err != nil {
		return err
	}
	p, err := h.Onboarding.Get(c.Request().Context(), caller(c), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toPhoneNumber(p))
}

func (h *WhatsApp) sync(c echo.Context) error {
	id, err := pathID(c, "id", "phone number")
	if err != nil {
		return err
	}
	if err := h.Onboarding.RequestSync(c.Request().Context(), caller(c), id); err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, map[string]string{"status": "queued"})
}
