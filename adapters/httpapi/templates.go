package httpapi

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/wabaplatform/waba/application/templates"
	"github.com/wabaplatform/waba/domain"
)

// Templates serves the message template routes.
type Templates struct {
	API       *API
	Templates *templates.Service
}

// Register adds the routes to e.
func (h *Templates) Register(e *echo.Echo) {
	ws := func(method, path string, fn echo.HandlerFunc) { h.API.WorkspaceRoute(e, method, "/templates"+path, fn) }
	ws(http.MethodPost, "", h.create)
	ws(http.MethodGet, "", h.list)
	ws(http.MethodPost, "/sync", h.sync)
	ws(http.MethodGet, "/:id", h.get)
	ws(http.MethodDelete, "/:id", h.delete)
}

// templateDTO is a template as API.md shows it; components keep the Graph API's shape.
type templateDTO struct {
	ID              domain.ID                  `json:"id"`
	WABAID          string                     `json:"waba_id"`
	MetaTemplateID  string                     `json:"meta_template_id"`
	Name            string                     `json:"name"`
	Language        string                     `json:"language"`
	Category        string                     `json:"category"`
	Status          string                     `json:"status"`
	RejectedReason  *string                    `json:"rejected_reason"`
	QualityRating   *string                    `json:"quality_rating"`
	ParameterFormat string                     `json:"parameter_format"`
	Components      []domain.TemplateComponent `json:"components"`
	CreatedAt       time.Time                  `json:"created_at"`
	UpdatedAt       time.Time                  `json:"updated_at"`
}

func toTemplate(t domain.Template) templateDTO {
	comps := t.Components
	if comps == nil {
		comps = []domain.TemplateComponent{}
	}
	return templateDTO{ID: t.ID, WABAID: t.WABAID, MetaTemplateID: t.MetaTemplateID, Name: t.Name, Language: t.Language,
		Category: t.Category, Status: t.Status, RejectedReason: strOrNil(t.RejectedReason), QualityRating: strOrNil(t.QualityRating),
		ParameterFormat: t.ParameterFormat, Components: comps, CreatedAt: t.CreatedAt.UTC(), UpdatedAt: t.UpdatedAt.UTC()}
}

func (h *Templates) create(c echo.Context) error {
	var req struct {
		WABAID          string                     `json:"waba_id"`
		Name            string                     `json:"name"`
		Language        string                     `json:"language"`
		Category        string                     `json:"category"`
		ParameterFormat string                     `json:"parameter_format"`
		Components      []domain.TemplateComponent `json:"components"`
	}
	if err := bind(c, &req); err != nil {
		return err
	}
	t, err := h.Templates.Create(c.Request().Context(), caller(c), templates.CreateInput{WABAID: req.WABAID,
		TemplateDraft: domain.TemplateDraft{Name: req.Name, Language: req.Language, Category: req.Category,
			ParameterFormat: req.ParameterFormat, Components: req.Components}})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, toTemplate(t))
}

func (h *Templates) list(c echo.Context) error {
	limit, cursor, err := paging(c)
	if err != nil {
		return err
	}
	f := templates.Filter{Status: c.QueryParam("status"), Category: c.QueryParam("category"), Name: c.QueryParam("name"),
		Language: c.QueryParam("language"), WABAID: c.QueryParam("waba_id"), Cursor: cursor}
	page, err := h.Templates.List(c.Request().Context(), caller(c), f, limit)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, listOf(page, toTemplate))
}

func (h *Templates) get(c echo.Context) error {
	id, err := pathID(c, "id", "template")
	if err != nil {
		return err
	}
	t, err := h.Templates.Get(c.Request().Context(), caller(c), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toTemplate(t))
}

func (h *Templates) delete(c echo.Context) error {
	id, err := pathID(c, "id", "template")
	if err != nil {
		return err
	}
	if err := h.Templates.Delete(c.Request().Context(), caller(c), id); err != nil {
		return err
	}
	return noContent(c)
}

func (h *Templates) sync(c echo.Context) error {
	if err := h.Templates.RequestSync(c.Request().Context(), caller(c)); err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, map[string]string{"status": "queued"})
}
