package httpapi

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/wabaplatform/waba/application/automation"
	"github.com/wabaplatform/waba/domain"
)

// Automation serves working hours, the away and welcome messages, and keyword rules.
type Automation struct {
	API        *API
	Automation *automation.Service
}

// Register adds the automation routes to e.
func (h *Automation) Register(e *echo.Echo) {
	ws := func(method, path string, fn echo.HandlerFunc) { h.API.WorkspaceRoute(e, method, path, fn) }
	ws(http.MethodGet, "/settings/working-hours", h.getHours)
	ws(http.MethodPut, "/settings/working-hours", h.putHours)
	ws(http.MethodGet, "/automation/away", h.getAuto(domain.AutomationAway))
	ws(http.MethodPut, "/automation/away", h.putAuto(domain.AutomationAway))
	ws(http.MethodGet, "/automation/welcome", h.getAuto(domain.AutomationWelcome))
	ws(http.MethodPut, "/automation/welcome", h.putAuto(domain.AutomationWelcome))
	ws(http.MethodGet, "/automation/rules", h.listRules)
	ws(http.MethodPost, "/automation/rules", h.createRule)
	ws(http.MethodPost, "/automation/rules/test", h.testRules)
	ws(http.MethodGet, "/automation/rules/:id", h.getRule)
	ws(http.MethodPatch, "/automation/rules/:id", h.updateRule)
	ws(http.MethodDelete, "/automation/rules/:id", h.deleteRule)
}

type intervalDTO struct {
	From string `json:"from"`
	To   string `json:"to"`
}

type workingHoursDTO struct {
	Timezone *string                  `json:"timezone"` // null: none set (never outside working hours)
	Days     map[string][]intervalDTO `json:"days"`
	Holidays []string                 `json:"holidays"`
}

func toWorkingHours(w domain.WorkingHours) workingHoursDTO {
	out := workingHoursDTO{Days: map[string][]intervalDTO{}, Holidays: []string{}}
	if !w.Configured() {
		return out
	}
	tz := w.Timezone
	out.Timezone = &tz
	for d, list := range w.Days {
		for _, iv := range list {
			out.Days[d] = append(out.Days[d], intervalDTO(iv))
		}
	}
	out.Holidays = append(out.Holidays, w.Holidays...)
	return out
}

func (h *Automation) getHours(c echo.Context) error {
	w, err := h.Automation.WorkingHours(c.Request().Context(), caller(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toWorkingHours(w))
}

func (h *Automation) putHours(c echo.Context) error {
	var req struct {
		Timezone string                   `json:"timezone"`
		Days     map[string][]intervalDTO `json:"days"`
		Holidays []string                 `json:"holidays"`
	}
	if err := bind(c, &req); err != nil {
		return err
	}
	days := map[string][]domain.Interval{}
	for d, list := range req.Days {
		for _, iv := range list {
			days[d] = append(days[d], domain.Interval(iv))
		}
	}
	w, err := h.Automation.SetWorkingHours(c.Request().Context(), caller(c), req.Timezone, days, req.Holidays)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toWorkingHours(w))
}

type autoReplyDTO struct {
	Enabled bool   `json:"enabled"`
	Text    string `json:"text"`
}

func (h *Automation) getAuto(name string) echo.HandlerFunc {
	return func(c echo.Context) error {
		a, err := h.Automation.AutoReply(c.Request().Context(), caller(c), name)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, autoReplyDTO(a))
	}
}

func (h *Automation) putAuto(name string) echo.HandlerFunc {
	return func(c echo.Context) error {
		var req struct {
			Enabled *bool  `json:"enabled"`
			Text    string `json:"text"`
		}
		if err := bind(c, &req); err != nil {
			return err
		}
		if req.Enabled == nil {
			var v domain.Validator
			v.Add("enabled", "is required (true or false)")
			return v.Err()
		}
		a, err := h.Automation.SetAutoReply(c.Request().Context(), caller(c), name, domain.AutoReply{Enabled: *req.Enabled, Text: req.Text})
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, autoReplyDTO(a))
	}
}

// actionDTO is a rule's action: the fields of its type.
type actionDTO struct {
	Type     string          `json:"type"`
	Text     string          `json:"text,omitempty"`
	Template json.RawMessage `json:"template,omitempty"`
	UserID   *string         `json:"user_id,omitempty"`
	Tag      string          `json:"tag,omitempty"`
	Key      string          `json:"key,omitempty"`
	Value    any             `json:"value,omitempty"`
}

type ruleDTO struct {
	ID        domain.ID   `json:"id"`
	Name      string      `json:"name"`
	Match     string      `json:"match"`
	Keywords  []string    `json:"keywords"`
	Actions   []actionDTO `json:"actions"`
	Priority  int         `json:"priority"`
	Enabled   bool        `json:"enabled"`
	CreatedAt time.Time   `json:"created_at"`
	UpdatedAt time.Time   `json:"updated_at"`
}

func toActions(as []domain.Action) []actionDTO {
	out := make([]actionDTO, len(as))
	for i, a := range as {
		d := actionDTO{Type: string(a.Type)}
		switch a.Type {
		case domain.ActionReplyText:
			d.Text = a.Text
		case domain.ActionReplyTemplate:
			d.Template = a.Template
		case domain.ActionAssign:
			if a.UserID != nil {
				s := a.UserID.String()
				d.UserID = &s
			}
		case domain.ActionAddTag:
			d.Tag = a.Tag
		case domain.ActionSetAttribute:
			d.Key, d.Value = a.Key, a.Value
		}
		out[i] = d
	}
	return out
}

func toRule(r domain.Rule) ruleDTO {
	return ruleDTO{ID: r.ID, Name: r.Name, Match: string(r.Match), Keywords: r.Keywords, Actions: toActions(r.Actions),
		Priority: r.Priority, Enabled: r.Enabled, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
}

// fromActions reads the actions of a request.
func fromActions(ds []actionDTO) []domain.Action {
	out := make([]domain.Action, len(ds))
	for i, d := range ds {
		a := domain.Action{Type: domain.ActionType(d.Type), Text: d.Text, Template: d.Template, Tag: d.Tag, Key: d.Key, Value: d.Value}
		if d.UserID != nil {
			// Not an id: the rule's validation reports it with the other fields.
			id, _ := domain.ParseID(*d.UserID)
			a.UserID = &id
		}
		out[i] = a
	}
	return out
}

type ruleRequest struct {
	Name     *string      `json:"name"`
	Match    *string      `json:"match"`
	Keywords *[]string    `json:"keywords"`
	Actions  *[]actionDTO `json:"actions"`
	Priority *int         `json:"priority"`
	Enabled  *bool        `json:"enabled"`
}

func (req ruleRequest) patch() automation.RulePatch {
	p := automation.RulePatch{Name: req.Name, Keywords: req.Keywords, Priority: req.Priority, Enabled: req.Enabled}
	if req.Match != nil {
		m := domain.MatchKind(*req.Match)
		p.Match = &m
	}
	if req.Actions != nil {
		as := fromActions(*req.Actions)
		p.Actions = &as
	}
	return p
}

func (h *Automation) listRules(c echo.Context) error {
	limit, cursor, err := paging(c)
	if err != nil {
		return err
	}
	page, err := h.Automation.Rules(c.Request().Context(), caller(c), limit, cursor)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, listOf(page, toRule))
}

func (h *Automation) createRule(c echo.Context) error {
	var req ruleRequest
	if err := bind(c, &req); err != nil {
		return err
	}
	r := domain.Rule{Enabled: true}
	req.patch().Apply(&r)
	r, err := h.Automation.CreateRule(c.Request().Context(), caller(c), r)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, toRule(r))
}

func (h *Automation) getRule(c echo.Context) error {
	id, err := pathID(c, "id", "rule")
	if err != nil {
		return err
	}
	r, err := h.Automation.Rule(c.Request().Context(), caller(c), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toRule(r))
}

func (h *Automation) updateRule(c echo.Context) error {
	id, err := pathID(c, "id", "rule")
	if err != nil {
		return err
	}
	var req ruleRequest
	if err := bind(c, &req); err != nil {
		return err
	}
	r, err := h.Automation.UpdateRule(c.Request().Context(), caller(c), id, req.patch())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toRule(r))
}

func (h *Automation) deleteRule(c echo.Context) error {
	id, err := pathID(c, "id", "rule")
	if err != nil {
		return err
	}
	if err := h.Automation.DeleteRule(c.Request().Context(), caller(c), id); err != nil {
		return err
	}
	return noContent(c)
}

func (h *Automation) testRules(c echo.Context) error {
	var req struct {
		Text *string `json:"text"`
	}
	if err := bind(c, &req); err != nil {
		return err
	}
	if req.Text == nil {
		var v domain.Validator
		v.Add("text", "is required")
		return v.Err()
	}
	res, err := h.Automation.Test(c.Request().Context(), caller(c), *req.Text)
	if err != nil {
		return err
	}
	out := map[string]any{"rule_id": nil, "actions": []actionDTO{}}
	if res.Rule != nil {
		out["rule_id"], out["actions"] = res.Rule.ID, toActions(res.Rule.Actions)
	}
	return c.JSON(http.StatusOK, out)
}
