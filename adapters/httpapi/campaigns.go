package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/wabaplatform/waba/application/campaigns"
	"github.com/wabaplatform/waba/domain"
)

// Campaigns serves the broadcast campaign routes (API.md "Campaigns").
type Campaigns struct {
	API       *API
	Campaigns *campaigns.Service
}

// Register adds the routes to e.
func (h *Campaigns) Register(e *echo.Echo) {
	ws := func(method, path string, fn echo.HandlerFunc) { h.API.WorkspaceRoute(e, method, "/campaigns"+path, fn) }
	ws(http.MethodPost, "", h.create)
	ws(http.MethodGet, "", h.list)
	ws(http.MethodGet, "/:id", h.get)
	ws(http.MethodPatch, "/:id", h.update)
	ws(http.MethodPost, "/:id/launch", h.launch)
	ws(http.MethodPost, "/:id/pause", h.move(h.Campaigns.Pause))
	ws(http.MethodPost, "/:id/resume", h.move(h.Campaigns.Resume))
	ws(http.MethodPost, "/:id/cancel", h.move(h.Campaigns.Cancel))
	ws(http.MethodGet, "/:id/recipients", h.recipients)
	ws(http.MethodPost, "/:id/recipients", h.uploadRecipients)
	e.GET(RecipientsExportPath, h.exportRecipients, h.API.member)
}

type campaignTemplateDTO struct {
	Name       string          `json:"name"`
	Language   string          `json:"language"`
	Components json.RawMessage `json:"components"`
}

type audienceDTO struct {
	All        bool        `json:"all"`
	Tags       []string    `json:"tags"`
	ContactIDs []domain.ID `json:"contact_ids"`
}

type campaignStatsDTO struct {
	Recipients     int `json:"recipients"`
	Pending        int `json:"pending"`
	Sent           int `json:"sent"`
	Delivered      int `json:"delivered"`
	Read           int `json:"read"`
	Replied        int `json:"replied"`
	Failed         int `json:"failed"`
	Skipped        int `json:"skipped"`
	RetryScheduled int `json:"retry_scheduled"`
}

type moneyDTO struct {
	Currency     string `json:"currency"`
	AmountMicros int64  `json:"amount_micros"`
}

// campaignDTO is a campaign as API.md shows it. estimated_cost is null until it first
// starts.
type campaignDTO struct {
	ID            domain.ID           `json:"id"`
	Name          string              `json:"name"`
	PhoneNumberID string              `json:"phone_number_id"`
	Template      campaignTemplateDTO `json:"template"`
	Audience      audienceDTO         `json:"audience"`
	Status        string              `json:"status"`
	PauseReason   *string             `json:"pause_reason"`
	ScheduledAt   *time.Time          `json:"scheduled_at"`
	StartedAt     *time.Time          `json:"started_at"`
	CompletedAt   *time.Time          `json:"completed_at"`
	Stats         campaignStatsDTO    `json:"stats"`
	EstimatedCost *moneyDTO           `json:"estimated_cost"`
	CreatedBy     *domain.ID          `json:"created_by"`
	CreatedAt     time.Time           `json:"created_at"`
	UpdatedAt     time.Time           `json:"updated_at"`
	Split         bool                `json:"split"` // launched with split:true
}

func moneyOf(m *domain.Money) *moneyDTO {
	if m == nil {
		return nil
	}
	return &moneyDTO{Currency: m.Currency, AmountMicros: m.Micros}
}

func toCampaign(c domain.Campaign) campaignDTO {
	comps := c.Template.Components
	if len(comps) == 0 {
		comps = json.RawMessage(`[]`)
	}
	a := audienceDTO{All: c.Audience.All, Tags: c.Audience.Tags, ContactIDs: c.Audience.ContactIDs}
	if a.Tags == nil {
		a.Tags = []string{}
	}
	if a.ContactIDs == nil {
		a.ContactIDs = []domain.ID{}
	}
	s := c.Stats
	return campaignDTO{ID: c.ID, Name: c.Name, PhoneNumberID: c.PhoneNumberID,
		Template: campaignTemplateDTO{Name: c.Template.Name, Language: c.Template.Language, Components: comps},
		Audience: a, Status: string(c.Status), PauseReason: strOrNil(string(c.PauseReason)),
		ScheduledAt: utcOrNil(c.ScheduledAt), StartedAt: utcOrNil(c.StartedAt), CompletedAt: utcOrNil(c.CompletedAt),
		Stats: campaignStatsDTO{Recipients: s.Recipients, Pending: s.Pending, Sent: s.Sent, Delivered: s.Delivered, Read: s.Read,
			Replied: s.Replied, Failed: s.Failed, Skipped: s.Skipped, RetryScheduled: s.RetryScheduled},
		CreatedBy: c.CreatedBy, CreatedAt: c.CreatedAt.UTC(), UpdatedAt: c.UpdatedAt.UTC(), Split: c.Split,
		EstimatedCost: moneyOf(c.EstimatedCost)}
}

type recipientErrorDTO struct {
	Code  int    `json:"code"`
	Title string `json:"title"`
}

type recipientDTO struct {
	ContactID     domain.ID          `json:"contact_id"`
	Phone         *string            `json:"phone"`
	Status        string             `json:"status"`
	Reason        *string            `json:"reason"`
	MessageID     *domain.ID         `json:"message_id"`
	Error         *recipientErrorDTO `json:"error"`
	Attempts      int                `json:"attempts"`
	NextAttemptAt *time.Time         `json:"next_attempt_at"`
	UpdatedAt     time.Time          `json:"updated_at"`
}

func toRecipient(r domain.Recipient) recipientDTO {
	out := recipientDTO{ContactID: r.ContactID, Phone: strOrNil(r.Phone), Status: string(r.Status), Reason: strOrNil(r.Reason),
		MessageID: r.MessageID, Attempts: r.Attempts, NextAttemptAt: utcOrNil(r.NextAttemptAt), UpdatedAt: r.UpdatedAt.UTC()}
	if r.Error != nil {
		out.Error = &recipientErrorDTO{Code: r.Error.Code, Title: r.Error.Title}
	}
	return out
}

// campaignBody is the body of a create or an edit. scheduled_at is kept raw: absent leaves
// it, null clears it.
type campaignBody struct {
	Name          *string `json:"name"`
	PhoneNumberID string  `json:"phone_number_id"`
	Template      *struct {
		Name       string          `json:"name"`
		Language   json.RawMessage `json:"language"`
		Components json.RawMessage `json:"components"`
	} `json:"template"`
	Audience *struct {
		All        bool     `json:"all"`
		Tags       []string `json:"tags"`
		ContactIDs []string `json:"contact_ids"`
	} `json:"audience"`
	ScheduledAt json.RawMessage `json:"scheduled_at"`
}

func (b campaignBody) template() *campaigns.TemplateInput {
	if b.Template == nil {
		return nil
	}
	return &campaigns.TemplateInput{Name: b.Template.Name, Language: b.Template.Language, Components: b.Template.Components}
}

func (b campaignBody) audience() *campaigns.AudienceInput {
	if b.Audience == nil {
		return nil
	}
	return &campaigns.AudienceInput{All: b.Audience.All, Tags: b.Audience.Tags, ContactIDs: b.Audience.ContactIDs}
}

// scheduledAt reads scheduled_at: set is false when absent; at is nil for null.
func (b campaignBody) scheduledAt() (at *time.Time, set bool, err error) {
	raw := bytes.TrimSpace(b.ScheduledAt)
	if len(raw) == 0 {
		return nil, false, nil
	}
	if string(raw) == "null" {
		return nil, true, nil
	}
	var t time.Time
	if json.Unmarshal(raw, &t) != nil {
		var v domain.Validator
		v.Add("scheduled_at", "must be a time in RFC 3339 (2026-01-10T09:00:00Z) or null")
		return nil, true, v.Err()
	}
	return &t, true, nil
}

func (h *Campaigns) create(c echo.Context) error {
	var req campaignBody
	if err := bind(c, &req); err != nil {
		return err
	}
	at, _, err := req.scheduledAt()
	if err != nil {
		return err
	}
	in := campaigns.CreateInput{PhoneNumberID: req.PhoneNumberID, Audience: req.audience(), ScheduledAt: at}
	if req.Name != nil {
		in.Name = *req.Name
	}
	if t := req.template(); t != nil {
		in.Template = *t
	}
	cp, err := h.Campaigns.Create(c.Request().Context(), caller(c), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, toCampaign(cp))
}

func (h *Campaigns) list(c echo.Context) error {
	limit, cursor, err := paging(c)
	if err != nil {
		return err
	}
	page, err := h.Campaigns.List(c.Request().Context(), caller(c),
		campaigns.Filter{Status: domain.CampaignStatus(c.QueryParam("status")), Cursor: cursor}, limit)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, listOf(page, toCampaign))
}

func (h *Campaigns) get(c echo.Context) error {
	id, err := pathID(c, "id", "campaign")
	if err != nil {
		return err
	}
	cp, err := h.Campaigns.Get(c.Request().Context(), caller(c), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toCampaign(cp))
}

func (h *Campaigns) update(c echo.Context) error {
	id, err := pathID(c, "id", "campaign")
	if err != nil {
		return err
	}
	var req campaignBody
	if err := bind(c, &req); err != nil {
		return err
	}
	at, set, err := req.scheduledAt()
	if err != nil {
		return err
	}
	cp, err := h.Campaigns.Update(c.Request().Context(), caller(c), id, campaigns.UpdateInput{Name: req.Name,
		Template: req.template(), Audience: req.audience(), SetScheduledAt: set, ScheduledAt: at})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toCampaign(cp))
}

// launch answers 202: the campaign runs (its messages are queued by its job) or waits for
// its time. split:true sends what fits in the number's messaging limit and the rest as it
// frees, instead of 409 capacity_exceeded.
func (h *Campaigns) launch(c echo.Context) error {
	id, err := pathID(c, "id", "campaign")
	if err != nil {
		return err
	}
	var req struct {
		Split *bool `json:"split"`
	}
	if err := bind(c, &req); err != nil {
		return err
	}
	cp, err := h.Campaigns.LaunchWith(c.Request().Context(), caller(c), id, campaigns.LaunchOptions{Split: req.Split != nil && *req.Split})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, toCampaign(cp))
}

// move serves pause, resume and cancel.
func (h *Campaigns) move(fn func(ctx context.Context, c domain.Caller, id domain.ID) (domain.Campaign, error)) echo.HandlerFunc {
	return func(c echo.Context) error {
		id, err := pathID(c, "id", "campaign")
		if err != nil {
			return err
		}
		cp, err := fn(c.Request().Context(), caller(c), id)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, toCampaign(cp))
	}
}

func (h *Campaigns) recipients(c echo.Context) error {
	id, err := pathID(c, "id", "campaign")
	if err != nil {
		return err
	}
	limit, cursor, err := paging(c)
	if err != nil {
		return err
	}
	page, err := h.Campaigns.Recipients(c.Request().Context(), caller(c), id,
		campaigns.RecipientFilter{Status: domain.RecipientStatus(c.QueryParam("status")), Cursor: cursor}, limit)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, listOf(page, toRecipient))
}

// uploadResultDTO is a contact import's result and the recipients the campaign gained.
type uploadResultDTO struct {
	importResultDTO
	Added int `json:"added"`
}

// uploadRecipients streams a CSV body into the upload use case (csvUpload).
func (h *Campaigns) uploadRecipients(c echo.Context) error {
	cl := caller(c)
	id, err := pathID(c, "id", "campaign")
	if err != nil {
		return err
	}
	var res campaigns.UploadResult
	err = csvUpload(c, h.Campaigns.UploadAllowed(cl), func(ctx context.Context, body io.Reader) (err error) {
		res, err = h.Campaigns.UploadRecipients(ctx, cl, id, body)
		return err
	})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, uploadResultDTO{importResultDTO: toImportResult(res.ImportResult), Added: res.Added})
}

const (
	// RecipientsExportPath is the route of a campaign's recipients as CSV, which skips the
	// request timeout for exportTimeout: a million rows take longer to send.
	RecipientsExportPath = "/v1/workspaces/:ws/campaigns/:id/recipients/export"
	exportTimeout        = 10 * time.Minute
)

var recipientsCSVHeader = []string{"contact_id", "phone", "name", "status", "reason", "message_id", "error_code",
	"error_title", "attempts", "next_attempt_at", "updated_at"}

// exportRecipients streams a campaign's recipients as CSV (streamCSV), the columns of the
// list's and the contact's name.
func (h *Campaigns) exportRecipients(c echo.Context) error {
	id, err := pathID(c, "id", "campaign")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), exportTimeout)
	defer cancel()
	return streamCSV(c, "campaign-"+id.String()+"-recipients.csv", recipientsCSVHeader, func(write func([]string) error) error {
		return h.Campaigns.ExportRecipients(ctx, caller(c), id, func(r domain.Recipient) error {
			var messageID, code, title, next string
			if r.MessageID != nil {
				messageID = r.MessageID.String()
			}
			if r.Error != nil {
				title = r.Error.Title
				if r.Error.Code != 0 {
					code = strconv.Itoa(r.Error.Code)
				}
			}
			if r.NextAttemptAt != nil {
				next = r.NextAttemptAt.UTC().Format(time.RFC3339Nano)
			}
			return write([]string{r.ContactID.String(), r.Phone, r.Name, string(r.Status), r.Reason, messageID, code, title,
				strconv.Itoa(r.Attempts), next, r.UpdatedAt.UTC().Format(time.RFC3339Nano)})
		})
	})
}
