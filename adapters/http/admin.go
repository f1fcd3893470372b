package httpapi

import (
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

// MountAdmin serves the operator pages (River UI) under /admin/river, behind ADMIN_TOKEN:
// HTTP basic auth whose password is the token (browsers), or the token as a bearer token.
// Without a token nothing is mounted and the paths are 404.
func MountAdmin(e *echo.Echo, token string, riverUI http.Handler) {
	if token == "" {
		return
	}
	guard := func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if adminAllowed(c.Request(), token) {
				return next(c)
			}
			c.Response().Header().Set("WWW-Authenticate", `Basic realm="waba admin"`)
			return echo.NewHTTPError(http.StatusUnauthorized, "admin token required")
		}
	}
	h := echo.WrapHandler(riverUI)
	e.Any("/admin/river", h, guard)
	e.Any("/admin/river/*", h, guard)
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
