// Package domain holds the entities, value objects, policies and error kinds of the product.
// It imports only the standard library.
package domain

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Kind classifies a domain error: what a use case tells its caller went wrong, in business
// terms. Its values are the problem `code`s of API.md, so the HTTP adapter maps a kind to a
// status in one table and clients see the same word; what only HTTP refuses (a body too
// large, a bad webhook signature, a wrong method) has its codes in the HTTP adapter.
type Kind string

const (
	KindUnauthenticated     Kind = "unauthenticated"
	KindInvalidCredentials  Kind = "invalid_credentials"
	KindForbidden           Kind = "forbidden"
	KindNotFound            Kind = "not_found"
	KindValidation          Kind = "validation_failed"
	KindConflict            Kind = "conflict"
	KindEmailTaken          Kind = "email_taken"
	KindContactExists       Kind = "contact_exists"
	KindLastOwner           Kind = "last_owner"
	KindRateLimited         Kind = "rate_limited"
	KindOptedOut            Kind = "opted_out"
	KindOutsideWindow       Kind = "outside_service_window"
	KindNotConnected        Kind = "whatsapp_not_connected"
	KindIdempotencyMismatch Kind = "idempotency_mismatch"
	KindTemplateNotFound    Kind = "template_not_found"
	KindTemplateNotApproved Kind = "template_not_approved"
	// KindFrequencyCapped: a marketing template to a contact over the workspace's caps, or
	// held after Meta's 131049; RetryAfter says when it would pass.
	KindFrequencyCapped Kind = "frequency_capped"
	// KindInvalidState: the action does not apply to the resource as it stands (a running
	// campaign cannot be edited).
	KindInvalidState Kind = "invalid_state"
	// KindCapacityExceeded: a campaign's recipients would pass the number's messaging
	// limit for the rolling 24 hours.
	KindCapacityExceeded Kind = "capacity_exceeded"
	// KindInsufficientBalance: a prepaid wallet cannot cover the send.
	KindInsufficientBalance Kind = "insufficient_balance"
	// KindUnavailable: something the use case depends on (the rate limiter, Meta) is not
	// answering; the caller may retry. The use cases report it, whatever drives them.
	KindUnavailable Kind = "unavailable"
	KindInternal    Kind = "internal"
)

// FieldError names one invalid input field.
type FieldError struct {
	Field   string
	Message string
}

// Error is the error type every use case returns for an expected failure.
type Error struct {
	Kind    Kind
	Message string
	Fields  []FieldError
	// RetryAfter is set on KindRateLimited: how long until the caller may try again.
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	if len(e.Fields) == 0 {
		return string(e.Kind) + ": " + e.Message
	}
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Field + " " + f.Message
	}
	return fmt.Sprintf("%s: %s (%s)", e.Kind, e.Message, strings.Join(parts, "; "))
}

// Errorf builds an *Error of the given kind.
func Errorf(kind Kind, format string, args ...any) error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// KindOf reports the kind of err, KindInternal when err is not a domain error.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}

// IsKind reports whether err is a domain error of that kind.
func IsKind(err error, kind Kind) bool {
	var e *Error
	return errors.As(err, &e) && e.Kind == kind
}

// NotFound is the error for a resource that does not exist or is outside the caller's view.
func NotFound(what string) error { return Errorf(KindNotFound, "%s not found", what) }

// Validator collects field errors so a use case can report every bad field at once.
type Validator struct{ fields []FieldError }

// Add records a problem with field.
func (v *Validator) Add(field, message string) {
	v.fields = append(v.fields, FieldError{field, message})
}

// Check records message for field when ok is false.
func (v *Validator) Check(ok bool, field, message string) {
	if !ok {
		v.Add(field, message)
	}
}

// Len is how many problems were recorded.
func (v *Validator) Len() int { return len(v.fields) }

// Err returns a KindValidation error listing the fields, or nil when there were none.
func (v *Validator) Err() error {
	if len(v.fields) == 0 {
		return nil
	}
	return &Error{Kind: KindValidation, Message: "the request has invalid fields", Fields: v.fields}
}
