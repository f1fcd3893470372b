package httpapi

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/wabaplatform/waba/domain"
)

// Problem is an RFC 9457 problem document with the `code` and `errors` members of API.md.
type Problem struct {
	Type      string         `json:"type"`
	Title     string         `json:"title"`
	Status    int            `json:"status"`
	Detail    string         `json:"detail,omitempty"`
	Instance  string         `json:"instance,omitempty"`
	Code      domain.Kind    `json:"code"`
	Errors    []problemField `json:"errors,omitempty"`
	RequestID string         `json:"request_id,omitempty"`
}

type problemField struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Transport-only problem codes: what HTTP itself refuses before a use case runs, so the
// domain has no kind for them.
const (
	// kindMethodNotAllowed: a known path asked with a method it does not have. The router
	// has set the Allow header by then.
	kindMethodNotAllowed domain.Kind = "method_not_allowed"
	kindPayloadTooLarge  domain.Kind = "payload_too_large"
	kindInvalidSignature domain.Kind = "invalid_signature" // a webhook not signed with the app secret
)

// statusOf is the one table from error kinds to HTTP statuses.
var statusOf = map[domain.Kind]int{
	domain.KindUnauthenticated:     http.StatusUnauthorized,
	domain.KindInvalidCredentials:  http.StatusUnauthorized,
	kindInvalidSignature:           http.StatusUnauthorized,
	domain.KindForbidden:           http.StatusForbidden,
	domain.KindOptedOut:            http.StatusForbidden,
	domain.KindNotFound:            http.StatusNotFound,
	domain.KindConflict:            http.StatusConflict,
	domain.KindEmailTaken:          http.StatusConflict,
	domain.KindContactExists:       http.StatusConflict,
	domain.KindLastOwner:           http.StatusConflict,
	domain.KindNotConnected:        http.StatusConflict,
	domain.KindInvalidState:        http.StatusConflict,
	domain.KindCapacityExceeded:    http.StatusConflict,
	domain.KindInsufficientBalance: http.StatusPaymentRequired,
	kindPayloadTooLarge:            http.StatusRequestEntityTooLarge,
	domain.KindValidation:          http.StatusUnprocessableEntity,
	domain.KindOutsideWindow:       http.StatusUnprocessableEntity,
	domain.KindIdempotencyMismatch: http.StatusUnprocessableEntity,
	domain.KindTemplateNotFound:    http.StatusUnprocessableEntity,
	domain.KindTemplateNotApproved: http.StatusUnprocessableEntity,
	domain.KindFrequencyCapped:     http.StatusTooManyRequests,
	domain.KindRateLimited:         http.StatusTooManyRequests,
	domain.KindUnavailable:         http.StatusServiceUnavailable,
	domain.KindInternal:            http.StatusInternalServerError,
}

// kindOfStatus maps the statuses Echo produces itself (routing, binding, body limit).
func kindOfStatus(status int) domain.Kind {
	switch status {
	case http.StatusUnauthorized:
		return domain.KindUnauthenticated
	case http.StatusForbidden:
		return domain.KindForbidden
	case http.StatusNotFound:
		return domain.KindNotFound
	case http.StatusMethodNotAllowed:
		return kindMethodNotAllowed
	case http.StatusRequestEntityTooLarge:
		return kindPayloadTooLarge
	case http.StatusTooManyRequests:
		return domain.KindRateLimited
	case http.StatusServiceUnavailable:
		return domain.KindUnavailable
	case http.StatusConflict:
		return domain.KindConflict
	}
	if status >= 500 {
		return domain.KindInternal
	}
	return domain.KindValidation
}

// toProblem turns any error a handler returns into the problem sent to the client.
func toProblem(err error) Problem {
	var de *domain.Error
	var be *echo.BindingError // before *echo.HTTPError: it embeds one that errors.As misses
	var he *echo.HTTPError
	var p Problem
	switch {
	case errors.As(err, &de):
		p = Problem{Code: de.Kind, Status: statusOf[de.Kind], Detail: de.Message}
		if p.Status == 0 {
			p.Status = http.StatusInternalServerError
		}
		for _, f := range de.Fields {
			p.Errors = append(p.Errors, problemField{f.Field, f.Message})
		}
	case errors.As(err, &be):
		p = Problem{Code: domain.KindValidation, Status: http.StatusUnprocessableEntity, Detail: "invalid value"}
		p.Errors = []problemField{{Field: be.Field, Message: "is not valid"}}
	case errors.As(err, &he):
		p = Problem{Code: kindOfStatus(he.Code), Status: he.Code}
		if msg, ok := he.Message.(string); ok {
			p.Detail = msg
		}
		if he.Code == http.StatusBadRequest {
			// Malformed JSON and the like: the body could not be read as the endpoint expects.
			p.Status, p.Code = http.StatusBadRequest, domain.KindValidation
		}
	default:
		p = Problem{Code: domain.KindInternal, Status: http.StatusInternalServerError}
	}
	if p.Status >= 500 {
		p.Detail = "" // never show internal error text; the log has it under the request id
	}
	p.Title = http.StatusText(p.Status)
	p.Type = "https://docs.waba.dev/problems/" + string(p.Code)
	return p
}

func problemHandler(log *slog.Logger) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			// Too late for a problem document (a stream broke off): leave a trace at least.
			log.WarnContext(c.Request().Context(), "request failed after the response started",
				"err", err, "request_id", c.Response().Header().Get(echo.HeaderXRequestID), "route", c.Path())
			return
		}
		p := toProblem(err)
		p.Instance = loggedPath(c)
		p.RequestID = c.Response().Header().Get(echo.HeaderXRequestID)
		if p.Status >= 500 {
			log.ErrorContext(c.Request().Context(), "request failed",
				"err", err, "request_id", p.RequestID, "route", c.Path())
		}
		var de *domain.Error
		if errors.As(err, &de) && de.RetryAfter > 0 {
			c.Response().Header().Set("Retry-After", strconv.Itoa(int(max(1, de.RetryAfter.Seconds()+0.999))))
		}
		c.Response().Header().Set(echo.HeaderContentType, "application/problem+json")
		if c.Request().Method == http.MethodHead {
			_ = c.NoContent(p.Status)
			return
		}
		_ = c.JSON(p.Status, p)
	}
}
