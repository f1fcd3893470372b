package httpapi

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/wabaplatform/waba/application/audit"
	"github.com/wabaplatform/waba/domain"
)

type auditDTO struct {
	ID           domain.ID      `json:"id"`
	ActorType    string         `json:"actor_type"`
	ActorID      *string        `json:"actor_id"`
	Action       string         `json:"action"`
	ResourceType string         `json:"resource_type"`
	ResourceID   *string        `json:"resource_id"`
	Details      map[string]any `json:"details"`
	IP           string         `json:"ip"`
	UserAgent    string         `json:"user_agent"`
	RequestID    string         `json:"request_id"`
	CreatedAt    time.Time      `json:"created_at"`
	ExpiresAt    time.Time      `json:"expires_at"`
}

func toAudit(e domain.AuditEntry) auditDTO {
	d := e.Details
	if d == nil {
		d = map[string]any{}
	}
	return auditDTO{ID: e.ID, ActorType: string(e.ActorType), ActorID: strOrNil(e.ActorID), Action: e.Action,
		ResourceType: e.ResourceType, ResourceID: strOrNil(e.ResourceID), Details: d, IP: e.IP,
		UserAgent: e.UserAgent, RequestID: e.RequestID, CreatedAt: e.CreatedAt.UTC(), ExpiresAt: e.ExpiresAt.UTC()}
}

func auditFilter(c echo.Context) (audit.Filter, error) {
	f := audit.Filter{Action: c.QueryParam("action"), ActorID: c.QueryParam("actor_id"),
		ResourceType: c.QueryParam("resource_type"), ResourceID: c.QueryParam("resource_id")}
	var v domain.Validator
	for name, dst := range map[string]*time.Time{"from": &f.From, "to": &f.To} {
		if s := c.QueryParam(name); s != "" {
			t, err := time.Parse(time.RFC3339, s)
			v.Check(err == nil, name, "must be an RFC 3339 time")
			*dst = t
		}
	}
	return f, v.Err()
}

func (a *API) listAuditLogs(c echo.Context) error {
	f, err := auditFilter(c)
	if err != nil {
		return err
	}
	if f.Limit, f.Cursor, err = paging(c); err != nil {
		return err
	}
	page, err := a.Audit.List(c.Request().Context(), caller(c), f)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, listOf(page, toAudit))
}

var auditCSVHeader = []string{"id", "created_at", "actor_type", "actor_id", "action", "resource_type",
	"resource_id", "details", "ip", "user_agent", "request_id", "expires_at"}

// exportAuditLogs streams CSV row by row (streamCSV): rows go to the client as the
// database produces them.
func (a *API) exportAuditLogs(c echo.Context) error {
	f, err := auditFilter(c)
	if err != nil {
		return err
	}
	return streamCSV(c, "audit-logs.csv", auditCSVHeader, func(write func([]string) error) error {
		return a.Audit.Export(c.Request().Context(), caller(c), f, func(e domain.AuditEntry) error {
			details, _ := json.Marshal(e.Details)
			return write([]string{e.ID.String(), e.CreatedAt.UTC().Format(time.RFC3339Nano), string(e.ActorType),
				e.ActorID, e.Action, e.ResourceType, e.ResourceID, string(details), e.IP, e.UserAgent, e.RequestID,
				e.ExpiresAt.UTC().Format(time.RFC3339Nano)})
		})
	})
}
