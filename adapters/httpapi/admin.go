package httpapi

import (
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

// MountAdmin serves the operator pages (River UI) under /admin/river, behind ADMIN_TOKEN.
// Without a token nothing is mounted and the paths are 404.
func MountAdmin(e *echo.Echo, token string, riverUI http.Handler) {
	if token == "" {
		return
	}
	h := echo.WrapHandler(riverUI)
	e.Any("/admin/river", h, operator(token))
	e.Any("/admin/river/*", h, operator(token))
}

// RegisterOperator adds the operator's API under /admin/ behind ADMIN_TOKEN; without a
// token the paths are 404. Plans are the operator's: no member of a workspace changes one.
func (a *API) RegisterOperator(e *echo.Echo, token string) {
	if token == "" {
		return
	}
	e.PUT("/admin/workspaces/:ws/plan", a.setPlan, operator(token))
}

func (a *API) setPlan(c echo.Context) error {
	ws, err := pathID(c, "ws", "workspace")
	if err != nil {
		return err
	}
	var req struct {
		Plan string `json:"plan"`
	}
	if err := bind(c, &req); err != nil {
		return err
	}
	w, err := a.Workspaces.SetPlan(c.Request().Context(), ws, req.Plan, requestMeta(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toWorkspace(w))
}

// operator admits the platform's operator: ADMIN_TOKEN as the password of HTTP basic auth
// (browsers) or as a bearer token.
func operator(token string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if adminAllowed(c.Request(), token) {
				return next(c)
			}
			c.Response().Header().Set("WWW-Authenticate", `Basic realm="waba admin"`)
			return echo.NewHTTPError(http.StatusUnauthorized, "admin token required")
		}
	}
}

func adminAllowed(r *http.Request, token string) bool {
	given := ""
	if _, pw, ok := r.BasicAuth(); ok {
		given = pw
	} else if b, ok := strings.CutPrefix(r.Header.Get(echo.HeaderAuthorization), "Bearer "); ok {
		given = b
	}
	return given != "" && subtle.ConstantTimeCompare([]byte(given), []byte(token)) == 1
}
