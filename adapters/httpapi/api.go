package httpapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/wabaplatform/waba/application/audit"
	"github.com/wabaplatform/waba/application/contacts"
	"github.com/wabaplatform/waba/application/identity"
	"github.com/wabaplatform/waba/application/workspaces"
	"github.com/wabaplatform/waba/domain"
)

// API holds the use cases behind the REST routes.
type API struct {
	Identity   *identity.Service
	Workspaces *workspaces.Service
	Contacts   *contacts.Service
	Audit      *audit.Service
}

// Register adds the REST routes to e. Middleware is attached per route rather than to
// groups: an Echo group with middleware also claims every unknown path under it, which
// would turn a 404 into a 401.
func (a *API) Register(e *echo.Echo) {
	e.POST("/v1/auth/signup", a.signup)
	e.POST("/v1/auth/login", a.login)
	e.POST("/v1/auth/refresh", a.refresh)
	e.POST("/v1/auth/logout", a.logout)
	e.POST("/v1/auth/password-reset", a.requestPasswordReset)
	e.POST("/v1/auth/password-reset/confirm", a.confirmPasswordReset)

	e.GET("/v1/me", a.me, a.authenticate)
	e.PUT("/v1/me/password", a.changePassword, a.authenticate)
	e.POST("/v1/workspaces", a.createWorkspace, a.authenticate)

	ws := func(method, path string, h echo.HandlerFunc) { a.WorkspaceRoute(e, method, path, h) }
	ws(http.MethodGet, "", a.getWorkspace)
	ws(http.MethodPatch, "", a.updateWorkspace)
	ws(http.MethodDelete, "", a.deleteWorkspace)
	ws(http.MethodGet, "/settings/messaging", a.getMessagingSettings)
	ws(http.MethodPut, "/settings/messaging", a.putMessagingSettings)
	ws(http.MethodGet, "/members", a.listMembers)
	ws(http.MethodPost, "/members", a.addMember)
	ws(http.MethodPatch, "/members/:user_id", a.changeMemberRole)
	ws(http.MethodDelete, "/members/:user_id", a.removeMember)
	ws(http.MethodPost, "/api-keys", a.createAPIKey)
	ws(http.MethodGet, "/api-keys", a.listAPIKeys)
	ws(http.MethodDelete, "/api-keys/:id", a.revokeAPIKey)
	ws(http.MethodPost, "/invitations", a.invite)
	ws(http.MethodGet, "/invitations", a.listInvitations)
	ws(http.MethodDelete, "/invitations/:id", a.revokeInvitation)
	e.POST("/v1/invitations/:token/accept", a.acceptInvitation, a.authenticate)

	ws(http.MethodPost, "/contacts", a.createContact)
	ws(http.MethodGet, "/contacts", a.listContacts)
	ws(http.MethodGet, "/contacts/:id", a.getContact)
	ws(http.MethodPatch, "/contacts/:id", a.updateContact)
	ws(http.MethodDelete, "/contacts/:id", a.deleteContact)
	ws(http.MethodPost, "/contacts/:id/opt-out", a.optOutContact)
	ws(http.MethodPost, "/contacts/:id/opt-in", a.optInContact)
	e.POST(ContactImportPath, a.importContacts, a.member)

	ws(http.MethodGet, "/audit-logs", a.listAuditLogs)
	ws(http.MethodGet, "/audit-logs/export", a.exportAuditLogs)
}

// WorkspaceRoute adds a route under /v1/workspaces/:ws for an authenticated member of
// that workspace.
func (a *API) WorkspaceRoute(e *echo.Echo, method, path string, h echo.HandlerFunc) {
	e.Add(method, "/v1/workspaces/:ws"+path, h, a.member)
}

const (
	ctxPrincipal = "principal"
	ctxCaller    = "caller"
)

func requestMeta(c echo.Context) domain.RequestMeta {
	return domain.RequestMeta{
		IP:        c.RealIP(),
		UserAgent: domain.TruncateRunes(c.Request().UserAgent(), 512),
		RequestID: c.Response().Header().Get(echo.HeaderXRequestID),
	}
}

// authenticate resolves the bearer credential into a principal, or answers 401.
func (a *API) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		p, err := a.Identity.Authenticate(c.Request().Context(), bearer(c))
		if err != nil {
			return err
		}
		c.Set(ctxPrincipal, p)
		return next(c)
	}
}

// member authenticates the caller and resolves their role in the workspace of the path:
// 401 (bad credentials) before 404 (no such workspace id) before 403 (not a member).
func (a *API) member(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx := c.Request().Context()
		ws, err := a.workspaceParam(c)
		if err != nil {
			return err
		}
		caller, err := a.Identity.CallerFor(ctx, bearer(c), ws, requestMeta(c))
		if err != nil {
			return err
		}
		c.Set(ctxCaller, caller)
		return next(c)
	}
}

// workspaceParam parses the :ws path parameter. A malformed id is no workspace: 404, but
// 401 first for bad credentials, so the answer does not depend on the id's form.
func (a *API) workspaceParam(c echo.Context) (domain.ID, error) {
	ws, err := domain.ParseID(c.Param("ws"))
	if err == nil {
		return ws, nil
	}
	if _, err := a.Identity.Authenticate(c.Request().Context(), bearer(c)); err != nil {
		return ws, err
	}
	return ws, domain.NotFound("workspace")
}

// bearer is the credential of the Authorization header ("" without one).
func bearer(c echo.Context) string {
	token, ok := strings.CutPrefix(c.Request().Header.Get(echo.HeaderAuthorization), "Bearer ")
	if !ok {
		return ""
	}
	return strings.TrimSpace(token)
}

func principal(c echo.Context) domain.Principal {
	p, _ := c.Get(ctxPrincipal).(domain.Principal)
	return p
}
func caller(c echo.Context) domain.Caller { v, _ := c.Get(ctxCaller).(domain.Caller); return v }

// nullableID reads a body member that is a user id or null: present is false when the
// member is absent, and id is nil for null.
func nullableID(raw json.RawMessage, field string) (present bool, id *domain.ID, err error) {
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) == 0:
		return false, nil, nil
	case string(raw) == "null":
		return true, nil, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		if uid, err := domain.ParseID(s); err == nil {
			return true, &uid, nil
		}
	}
	var v domain.Validator
	v.Add(field, "must be a user id or null")
	return true, nil, v.Err()
}

// pathID parses an id path parameter; a malformed id cannot exist, so it is 404.
func pathID(c echo.Context, name, what string) (domain.ID, error) {
	id, err := domain.ParseID(c.Param(name))
	if err != nil {
		return domain.NilID, domain.NotFound(what)
	}
	return id, nil
}

// bind decodes the JSON body; malformed JSON is a 400 validation problem.
func bind(c echo.Context, v any) error {
	raw, err := readBody(c)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "the body is not valid JSON for this endpoint")
	}
	return nil
}

// readBody reads a JSON request body ("{}" when empty). Text that Postgres cannot store
// (invalid UTF-8, NUL) is refused here, at the edge, rather than failing deep inside a
// transaction.
func readBody(c echo.Context) ([]byte, error) {
	raw, err := io.ReadAll(c.Request().Body)
	if err != nil {
		if errors.Is(err, echo.ErrStatusRequestEntityTooLarge) {
			return nil, err // the body limit, hit while reading a chunked body
		}
		return nil, echo.NewHTTPError(http.StatusBadRequest, "the body could not be read")
	}
	if !utf8.Valid(raw) || hasNULEscape(raw) {
		return nil, echo.NewHTTPError(http.StatusBadRequest, "the body must be UTF-8 text without NUL characters")
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		raw = []byte("{}")
	}
	return raw, nil
}

// hasNULEscape reports whether JSON text holds a \u0000 escape (not an escaped backslash
// followed by "u0000").
func hasNULEscape(b []byte) bool {
	for i := 0; i+5 < len(b); i++ {
		if b[i] != '\\' {
			continue
		}
		if b[i+1] == 'u' && string(b[i+2:i+6]) == "0000" {
			return true
		}
		i++ // skip the escaped character
	}
	return false
}

// cleanQuery refuses query strings with NUL or invalid UTF-8 in a name or value: no filter
// can match them, and Postgres would refuse them as parameters.
func cleanQuery(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		for k, vs := range c.QueryParams() {
			bad := !utf8.ValidString(k) || strings.IndexByte(k, 0) >= 0
			for _, v := range vs {
				bad = bad || !utf8.ValidString(v) || strings.IndexByte(v, 0) >= 0
			}
			if bad {
				return &domain.Error{Kind: domain.KindValidation, Message: "invalid query parameter",
					Fields: []domain.FieldError{{Field: k, Message: "must be UTF-8 text without NUL characters"}}}
			}
		}
		return next(c)
	}
}

// paging reads ?limit= (default 50, max 200) and ?cursor=.
func paging(c echo.Context) (limit int, cursor domain.ID, err error) {
	var v domain.Validator
	limit = 50
	if s := c.QueryParam("limit"); s != "" {
		n, perr := strconv.Atoi(s)
		v.Check(perr == nil && n >= 1 && n <= 200, "limit", "must be a whole number from 1 to 200")
		limit = n
	}
	if s := c.QueryParam("cursor"); s != "" {
		b, derr := base64.RawURLEncoding.DecodeString(s)
		var id domain.ID
		if derr == nil {
			id, derr = domain.ParseID(string(b))
		}
		v.Check(derr == nil, "cursor", "is not a cursor this API returned")
		cursor = id
	}
	return limit, cursor, v.Err()
}

func encodeCursor(id *domain.ID) *string {
	if id == nil {
		return nil
	}
	s := base64.RawURLEncoding.EncodeToString([]byte(id.String()))
	return &s
}

// listResponse is the shape of every list (API.md, Conventions).
type listResponse[T any] struct {
	Data       []T     `json:"data"`
	NextCursor *string `json:"next_cursor"`
}

// listOf renders a page of a use case's list with dto.
func listOf[T, D any](p domain.Page[T], dto func(T) D) listResponse[D] {
	out := make([]D, len(p.Items))
	for i, it := range p.Items {
		out[i] = dto(it)
	}
	return listResponse[D]{Data: out, NextCursor: encodeCursor(p.NextCursor)}
}

// setRateLimitHeaders sends the X-RateLimit-* headers every rate-limited endpoint sends.
func setRateLimitHeaders(c echo.Context, limit, remaining int, reset time.Time) {
	h := c.Response().Header()
	h.Set("X-RateLimit-Limit", strconv.Itoa(limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(remaining))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
}

func noContent(c echo.Context) error { return c.NoContent(http.StatusNoContent) }
