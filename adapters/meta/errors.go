package meta

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ErrInvalidRequest marks a call the client refused to send (a payload that does not
// marshal, a media URL it will not hand the token to). Classify treats it as final.
var ErrInvalidRequest = errors.New("meta: invalid request")

// ErrUnexpectedResponse marks a 2xx answer the client could not understand (not JSON, or
// missing the field the call exists for). Classify treats it as retryable: the platform
// answered, so the next attempt will most likely be understood.
var ErrUnexpectedResponse = errors.New("meta: unexpected response")

// Error is a Graph API error answer: every non-2xx response becomes one, parsed from
// `{"error":{...}}`. Decide on Code (plus Details), never on Message: Meta rewords messages.
type Error struct {
	HTTPStatus  int
	Code        int
	Subcode     int
	Type        string
	Message     string
	Details     string // error.error_data.details
	UserTitle   string // error.error_user_title
	UserMessage string // error.error_user_msg
	FBTraceID   string
	IsTransient bool

	// unparsed is set when the body was not a Graph error object (a proxy's HTML page, an
	// empty body); Code then means nothing and Classify falls back to the HTTP status.
	unparsed bool
	// regainAfter is Meta's estimated_time_to_regain_access from the usage headers.
	regainAfter time.Duration
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("graph error")
	if e.unparsed {
		b.WriteString(" (no error body)")
	} else {
		b.WriteString(" code ")
		b.WriteString(strconv.Itoa(e.Code))
		if e.Subcode != 0 {
			b.WriteString("/")
			b.WriteString(strconv.Itoa(e.Subcode))
		}
	}
	if e.HTTPStatus != 0 {
		b.WriteString(" (http ")
		b.WriteString(strconv.Itoa(e.HTTPStatus))
		b.WriteString(")")
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.Details != "" && e.Details != e.Message {
		b.WriteString(": ")
		b.WriteString(e.Details)
	}
	if e.FBTraceID != "" {
		b.WriteString(" [fbtrace_id ")
		b.WriteString(e.FBTraceID)
		b.WriteString("]")
	}
	return b.String()
}

// graphErrorBody is the wire shape of a Graph error.
type graphErrorBody struct {
	Error *struct {
		Message      string          `json:"message"`
		Type         string          `json:"type"`
		Code         flexInt         `json:"code"`
		Subcode      flexInt         `json:"error_subcode"`
		UserTitle    string          `json:"error_user_title"`
		UserMessage  string          `json:"error_user_msg"`
		IsTransient  bool            `json:"is_transient"`
		FBTraceID    string          `json:"fbtrace_id"`
		ErrorData    json.RawMessage `json:"error_data"`
		ErrorDetails string          `json:"details"`
	} `json:"error"`
}

// parseError turns a non-2xx answer into an *Error. It never fails: a body that is not a
// Graph error yields an Error carrying only the HTTP status and a short excerpt.
func parseError(status int, header http.Header, body []byte) *Error {
	e := &Error{HTTPStatus: status, regainAfter: regainFromHeaders(header)}
	var ge graphErrorBody
	if err := json.Unmarshal(body, &ge); err != nil || ge.Error == nil {
		e.unparsed = true
		e.Message = excerpt(body)
		if e.Message == "" {
			e.Message = http.StatusText(status)
		}
		return e
	}
	g := ge.Error
	e.Code = int(g.Code)
	e.Subcode = int(g.Subcode)
	e.Type = g.Type
	e.Message = g.Message
	e.UserTitle = g.UserTitle
	e.UserMessage = g.UserMessage
	e.IsTransient = g.IsTransient
	e.FBTraceID = g.FBTraceID
	e.Details = errorDataDetails(g.ErrorData)
	if e.Details == "" {
		e.Details = g.ErrorDetails
	}
	return e
}

// errorDataDetails reads error_data.details. error_data is usually an object, but older Graph
// endpoints send it as a JSON-encoded string (sometimes of an object): accept all three.
func errorDataDetails(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var obj struct {
		Details string `json:"details"`
	}
	if json.Unmarshal(raw, &obj) == nil {
		return obj.Details
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return ""
	}
	if json.Unmarshal([]byte(s), &obj) == nil && obj.Details != "" {
		return obj.Details
	}
	return s
}

// regainFromHeaders reads estimated_time_to_regain_access (minutes) from the Business Use
// Case usage header Meta sends with rate-limit errors.
func regainFromHeaders(h http.Header) time.Duration {
	raw := h.Get("X-Business-Use-Case-Usage")
	if raw == "" {
		return 0
	}
	var usage map[string][]struct {
		Regain flexInt `json:"estimated_time_to_regain_access"`
	}
	if json.Unmarshal([]byte(raw), &usage) != nil {
		return 0
	}
	var longest time.Duration
	for _, entries := range usage {
		for _, u := range entries {
			if d := time.Duration(u.Regain) * time.Minute; d > longest {
				longest = d
			}
		}
	}
	return longest
}

func excerpt(body []byte) string {
	s := strings.TrimSpace(string(body))
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return strings.ToValidUTF8(s, "")
}

// Class says what a caller should do after a failed Graph call.
type Class int

const (
	// ClassNone is the class of a nil error.
	ClassNone Class = iota
	// ClassRetry: a transient platform or network failure; retry soon with backoff.
	ClassRetry
	// ClassThrottled: a rate limit or temporary block; retry only after RetryAfter(err).
	ClassThrottled
	// ClassFinal: this request will never succeed as is; do not retry, surface it.
	ClassFinal
	// ClassAuth: the credentials are broken (expired, revoked, permission removed); the
	// number must be reconnected before anything else is sent with its token.
	ClassAuth
	// ClassStop: the number or WABA cannot send (locked, unregistered, billing, spam
	// limits); stop sending for it and alert.
	ClassStop
)

func (c Class) String() string {
	switch c {
	case ClassNone:
		return "none"
	case ClassRetry:
		return "retry"
	case ClassThrottled:
		return "throttled"
	case ClassFinal:
		return "final"
	case ClassAuth:
		return "auth"
	case ClassStop:
		return "stop"
	default:
		return "Class(" + strconv.Itoa(int(c)) + ")"
	}
}

// classByCode is the table of meta-cloud-api.md section 6. Codes 200-299 (permissions) are
// handled in Classify; codes absent here are classified by HTTP status.
var classByCode = map[int]Class{
	// Transient platform failures.
	1: ClassRetry, 2: ClassRetry, 131000: ClassRetry, 131016: ClassRetry, 133004: ClassRetry,

	// Rate limits and temporary blocks.
	4: ClassThrottled, 80007: ClassThrottled, 130429: ClassThrottled, 131056: ClassThrottled,
	131057: ClassThrottled, 132015: ClassThrottled,
	133008: ClassThrottled, 133009: ClassThrottled, 133015: ClassThrottled, 133016: ClassThrottled,

	// Requests that will never succeed as sent.
	3: ClassFinal, 100: ClassFinal, 131008: ClassFinal, 131009: ClassFinal, 131021: ClassFinal,
	131026: ClassFinal, 131030: ClassFinal, 131037: ClassFinal, 131047: ClassFinal,
	131049: ClassFinal, 131050: ClassFinal, 131051: ClassFinal, 131052: ClassFinal,
	131053: ClassFinal, 130472: ClassFinal, 130497: ClassFinal,
	131062: ClassFinal, 131063: ClassFinal, 131064: ClassFinal,
	132000: ClassFinal, 132001: ClassFinal, 132005: ClassFinal, 132007: ClassFinal,
	132008: ClassFinal, 132012: ClassFinal, 132016: ClassFinal, 132068: ClassFinal,
	132069: ClassFinal, 133005: ClassFinal, 133006: ClassFinal, 135000: ClassFinal,
	137000: ClassFinal,

	// Broken credentials.
	0: ClassAuth, 190: ClassAuth, 10: ClassAuth,

	// The number or account cannot send.
	131031: ClassStop, 131042: ClassStop, 131045: ClassStop, 131048: ClassStop,
	133010: ClassStop, 368: ClassStop,
}

// Classify maps an error from this package to what the caller should do. Graph errors are
// classified by Meta's code, never by HTTP status (throttling arrives as HTTP 400); an
// unknown code is retryable on a 5xx or when Meta flags it transient, final otherwise.
// Errors that are not Graph answers (network failures, timeouts, unreadable 2xx bodies) are
// ClassRetry, except ErrInvalidRequest, which is ClassFinal.
func Classify(err error) Class {
	if err == nil {
		return ClassNone
	}
	var ge *Error
	if !errors.As(err, &ge) {
		if errors.Is(err, ErrInvalidRequest) {
			return ClassFinal
		}
		return ClassRetry
	}
	if ge.unparsed {
		switch {
		case ge.HTTPStatus == http.StatusTooManyRequests:
			return ClassThrottled
		case ge.HTTPStatus == http.StatusUnauthorized:
			return ClassAuth
		case ge.HTTPStatus >= 400 && ge.HTTPStatus < 500:
			return ClassFinal
		default:
			return ClassRetry
		}
	}
	if c, ok := classByCode[ge.Code]; ok {
		return c
	}
	if ge.Code >= 200 && ge.Code <= 299 {
		return ClassAuth
	}
	if ge.IsTransient || ge.HTTPStatus >= 500 {
		return ClassRetry
	}
	if ge.HTTPStatus == http.StatusTooManyRequests {
		return ClassThrottled
	}
	return ClassFinal
}

// RetryAfter is the wait Meta asks for before the failed request may be tried again; zero
// means no particular wait (use your own backoff). For the pair rate limit (131056) it is
// the first step of Meta's 4^X advice: callers back off per recipient with
// PairLimitBackoff(attempt). A usage header's estimated_time_to_regain_access, when Meta
// sends one, wins over the per-code defaults.
func RetryAfter(err error) time.Duration {
	var ge *Error
	if !errors.As(err, &ge) {
		return 0
	}
	if ge.regainAfter > 0 {
		return ge.regainAfter
	}
	if ge.unparsed {
		if ge.HTTPStatus == http.StatusTooManyRequests {
			return time.Minute
		}
		return 0
	}
	switch ge.Code {
	case 130429:
		return time.Second
	case 131056:
		return PairLimitBackoff(0)
	case 4, 80007:
		return 5 * time.Minute
	case 131057:
		return time.Minute
	case 132015:
		return 3 * time.Hour // first pause is 3 h, the second 6 h
	case 133009:
		return time.Minute
	case 133008, 133016:
		return time.Hour
	case 133015:
		return 5 * time.Minute
	}
	return 0
}

// PairLimitBackoff is Meta's advice after 131056 (pair rate limit): wait 4^attempt seconds
// before messaging the same user again (attempt 0, 1, 2, ...), capped at 15 minutes.
func PairLimitBackoff(attempt int) time.Duration {
	const maxWait = 15 * time.Minute
	if attempt < 0 {
		attempt = 0
	}
	d := time.Second
	for range attempt {
		d *= 4
		if d >= maxWait {
			return maxWait
		}
	}
	return d
}

// transportError is a failure below HTTP (dial, TLS, timeout, reset). Its message is scrubbed
// of secrets; Unwrap keeps the chain (net.Error, context errors) for callers.
type transportError struct {
	msg string
	err error
}

func (e *transportError) Error() string { return e.msg }
func (e *transportError) Unwrap() error { return e.err }

// Timeout reports whether the failure was a timeout.
func (e *transportError) Timeout() bool {
	var t interface{ Timeout() bool }
	return errors.Is(e.err, context.DeadlineExceeded) || (errors.As(e.err, &t) && t.Timeout())
}

// MayHaveActed reports whether a failed request may still have been carried out by Meta:
// no answer came once the request could have been sent (only a failure to connect
// proves it was not), or a 2xx answer could not be read. Meta's error answers and
// requests refused before sending say it was not.
func MayHaveActed(err error) bool {
	if errors.Is(err, ErrUnexpectedResponse) {
		return true
	}
	var te *transportError
	if !errors.As(err, &te) {
		return false
	}
	var oe *net.OpError
	return !errors.As(te.err, &oe) || oe.Op != "dial"
}

func wrapf(op string, err error) error { return fmt.Errorf("meta: %s: %w", op, err) }

// flexInt decodes a JSON number or a numeric string (Meta is not always consistent).
type flexInt int64

func (n *flexInt) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "" || s == "null" {
		*n = 0
		return nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil {
			return err
		}
		v = int64(f)
	}
	*n = flexInt(v)
	return nil
}
