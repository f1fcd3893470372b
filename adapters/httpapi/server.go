// Package httpapi is the HTTP adapter: the Echo server, its middleware, the REST handlers
// and the Meta webhook endpoint. Errors from every handler go through one problem mapper.
package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// ServerConfig holds what the server needs from the process configuration.
type ServerConfig struct {
	CORSAllowedOrigins []string
}

const (
	// bodyLimit caps request bodies on every route but the webhook, CSV and media uploads,
	// which have their own caps.
	bodyLimit = "1M"
	// requestTimeout bounds a request's context.
	requestTimeout = 30 * time.Second
)

// ReadyFunc reports nil when the service can do its work (database reachable, migrated).
type ReadyFunc func(ctx context.Context) error

// NewEcho builds the Echo instance with the middleware every route shares and the
// operational endpoints. Feature handlers register their routes on it afterwards.
func NewEcho(cfg ServerConfig, log *slog.Logger, reg *prometheus.Registry, ready ReadyFunc) *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = problemHandler(log)
	// Clients reach us directly or through our own load balancer on loopback/private
	// addresses; only trust X-Forwarded-For from those.
	e.IPExtractor = echo.ExtractIPFromXFFHeader()

	metrics := newHTTPMetrics(reg)
	e.Pre(middleware.RemoveTrailingSlashWithConfig(middleware.TrailingSlashConfig{
		// The River UI redirects /admin/river to /admin/river/ itself.
		Skipper: func(c echo.Context) bool { return strings.HasPrefix(c.Request().URL.Path, "/admin/") },
	}))
	e.Use(middleware.RequestID())
	e.Use(requestLogger(log, metrics))
	e.Use(middleware.Recover())
	e.Use(middleware.BodyLimitWithConfig(middleware.BodyLimitConfig{
		Limit: bodyLimit,
		Skipper: func(c echo.Context) bool {
			// The webhook and CSV uploads read their bodies under caps of their own.
			return strings.HasPrefix(c.Request().URL.Path, "/webhooks/") || uploadRoute(c) || mediaRoute(c)
		},
	}))
	if len(cfg.CORSAllowedOrigins) > 0 {
		e.Use(middleware.CORSWithConfig(middleware.CORSConfig{
			AllowOrigins:  cfg.CORSAllowedOrigins,
			AllowHeaders:  []string{echo.HeaderAuthorization, echo.HeaderContentType, "Idempotency-Key"},
			ExposeHeaders: []string{"X-Request-Id", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "Retry-After"},
		}))
	}
	e.Use(middleware.ContextTimeoutWithConfig(middleware.ContextTimeoutConfig{
		Timeout: requestTimeout,
		// A stream lasts; an upload and the long exports have longer timeouts of their own.
		Skipper: func(c echo.Context) bool {
			return c.Path() == EventsPath || uploadRoute(c) || mediaRoute(c) || c.Path() == RecipientsExportPath || c.Path() == UsageExportPath
		},
	}))
	e.Use(cleanQuery)

	e.GET("/healthz", func(c echo.Context) error {
		return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
	})
	e.GET("/readyz", func(c echo.Context) error {
		ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
		defer cancel()
		if err := ready(ctx); err != nil {
			log.WarnContext(ctx, "not ready", "err", err)
			return c.JSON(http.StatusServiceUnavailable, map[string]string{"status": "unavailable"})
		}
		return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
	})
	e.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})))
	e.GET("/v1/openapi.json", func(c echo.Context) error {
		return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, OpenAPIDocument)
	})
	return e
}

type httpMetrics struct {
	duration *prometheus.HistogramVec
}

func newHTTPMetrics(reg *prometheus.Registry) *httpMetrics {
	m := &httpMetrics{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "http_request_duration_seconds",
			Help:    "HTTP request latency by route, method and status.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route", "method", "status"}),
	}
	reg.MustRegister(m.duration)
	return m
}

// requestLogger logs one line per request and records its latency. It logs the route and
// path but never the query string or headers: those can carry tokens, and neither can
// the path where the route has a :token parameter (loggedPath).
func requestLogger(log *slog.Logger, m *httpMetrics) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			err := next(c)
			if err != nil {
				c.Error(err) // write the problem now so the status below is the real one
			}
			status := c.Response().Status
			route := c.Path()
			if route == "" {
				route = "unmatched"
			}
			elapsed := time.Since(start)
			m.duration.WithLabelValues(route, c.Request().Method, statusLabel(status)).Observe(elapsed.Seconds())
			level := slog.LevelInfo
			if status >= 500 {
				level = slog.LevelError
			}
			log.LogAttrs(c.Request().Context(), level, "http request",
				slog.String("method", c.Request().Method),
				slog.String("route", route),
				slog.String("path", loggedPath(c)),
				slog.Int("status", status),
				slog.Float64("latency_ms", float64(elapsed.Microseconds())/1000),
				slog.String("request_id", c.Response().Header().Get(echo.HeaderXRequestID)),
				slog.String("ip", c.RealIP()),
			)
			return nil
		}
	}
}

// loggedPath is the request's path, or its route when the route has a :token parameter
// (an invitation's token: a bearer secret), so that logs and problem documents never hold
// the secret. The route, not the matched parameters: a 405 has the one but not the others.
func loggedPath(c echo.Context) string {
	if strings.Contains(c.Path(), "/:token") {
		return c.Path()
	}
	return c.Request().URL.Path
}

func statusLabel(code int) string {
	const digits = "0123456789"
	if code < 100 || code > 999 {
		return "000"
	}
	return string([]byte{digits[code/100], digits[code/10%10], digits[code%10]})
}
