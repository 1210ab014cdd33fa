package fault

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/foyer-id/foyer/storage"
)

// Kind classifies a failure; each kind has exactly one HTTP status.
type Kind int

// The kinds of failure.
const (
	Internal         Kind = iota // 500: a bug or an unexpected state
	Invalid                      // 400: the request is malformed or breaks a rule
	Unauthenticated              // 401: no, or no valid, credentials
	Forbidden                    // 403: authenticated, not allowed
	NotFound                     // 404
	Conflict                     // 409: exists already, or lost a race
	TooLarge                     // 413: request body over its limit
	TooMany                      // 429: rate limited; RetryAfter says when to come back
	Unavailable                  // 503: a dependency (Redis, SMTP) is down
	UnsupportedMedia             // 415: the body is not of the media type the endpoint takes
	MethodNotAllowed             // 405
)

var statuses = [...]int{
	Internal:         http.StatusInternalServerError,
	Invalid:          http.StatusBadRequest,
	Unauthenticated:  http.StatusUnauthorized,
	Forbidden:        http.StatusForbidden,
	NotFound:         http.StatusNotFound,
	Conflict:         http.StatusConflict,
	TooLarge:         http.StatusRequestEntityTooLarge,
	TooMany:          http.StatusTooManyRequests,
	Unavailable:      http.StatusServiceUnavailable,
	UnsupportedMedia: http.StatusUnsupportedMediaType,
	MethodNotAllowed: http.StatusMethodNotAllowed,
}

// Error is a classified failure with a stable reason code and a message fit
// to show to the person or client that caused it.
type Error struct {
	Kind Kind
	// Code is a stable camelCase reason code, e.g. "signUpDisabled".
	Code string
	// Message is plain language, safe to show.
	Message string
	// RetryAfter, when set, is sent as Retry-After (TooMany, Unavailable).
	RetryAfter time.Duration
	// Err is the cause, for logs only.
	Err error
}

// New returns a fresh Error.
func New(k Kind, code, message string) *Error {
	return &Error{Kind: k, Code: code, Message: message}
}

// Wrap returns a fresh Error with cause err.
func Wrap(err error, k Kind, code, message string) *Error {
	return &Error{Kind: k, Code: code, Message: message, Err: err}
}

// Error implements error.
func (e *Error) Error() string {
	if e.Err != nil {
		return e.Code + ": " + e.Message + ": " + e.Err.Error()
	}
	return e.Code + ": " + e.Message
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// From classifies any error: an *Error in the chain is returned as is;
// storage sentinels and context errors get their kind; anything else is
// Internal with a generic message (the cause stays for the log).
func From(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	switch {
	case errors.Is(err, storage.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		return &Error{Kind: Unavailable, Code: "temporarilyUnavailable",
			Message: "The service is temporarily unavailable. Please try again shortly.", RetryAfter: 5 * time.Second, Err: err}
	case errors.Is(err, storage.ErrNotFound):
		return &Error{Kind: NotFound, Code: "notFound", Message: "The requested object does not exist.", Err: err}
	case errors.Is(err, storage.ErrExists):
		return &Error{Kind: Conflict, Code: "alreadyExists", Message: "The object already exists.", Err: err}
	case errors.Is(err, storage.ErrConflict):
		return &Error{Kind: Conflict, Code: "conflict", Message: "The object was changed concurrently; try again.", Err: err}
	}
	return &Error{Kind: Internal, Code: "internalError", Message: "Something went wrong on our side.", Err: err}
}

// Status is the HTTP status for err: the single place where failures map to
// HTTP.
func Status(err error) int {
	return statuses[From(err).Kind]
}

// RetryAfterSeconds returns the Retry-After value for err in whole seconds
// (at least 1), or 0 when the error carries none.
func RetryAfterSeconds(err error) int {
	e := From(err)
	if e == nil || e.RetryAfter <= 0 {
		return 0
	}
	s := int((e.RetryAfter + time.Second - 1) / time.Second)
	return max(s, 1)
}
