// Package errs defines the few kinds of error that capabilities return and
// that the web and API layers map to HTTP statuses. A capability says what
// went wrong in words a user may read; it never chooses a status code.
package errs

import (
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"
)

// Kind classifies an error for the layers that answer users.
type Kind int

// The kinds of error.
const (
	Internal     Kind = iota // a bug or an outage; logged, shown as "Something went wrong"
	NotFound                 // missing or not the actor's: the two are never told apart
	Invalid                  // bad input; Fields says which
	Conflict                 // the change clashes with existing data (a duplicate name)
	Forbidden                // authenticated but lacking a scope
	Unauthorized             // no or bad credentials
	TooMany                  // throttled; RetryAfter says for how long
)

// Error is an error a user may see.
type Error struct {
	Kind    Kind
	Code    string            // machine-readable, e.g. "not_found"
	Message string            // a sentence for the user
	Fields  map[string]string // field name -> message, for Invalid
	// RetryAfter is set on TooMany errors.
	RetryAfter time.Duration
	// Details carries machine-readable facts for API clients, such as the
	// ids of the contacts a new one duplicates.
	Details map[string]any
}

// Error returns the message, with field messages for Invalid errors.
func (e *Error) Error() string {
	if len(e.Fields) == 0 {
		return e.Message
	}
	keys := make([]string, 0, len(e.Fields))
	for k := range e.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + ": " + e.Fields[k]
	}
	return e.Message + " (" + strings.Join(parts, "; ") + ")"
}

// Is reports whether target is a sentinel of the same kind, so that
// errors.Is(err, errs.ErrNotFound) holds for every NotFound error.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Kind == e.Kind && t.Message == ""
}

// Sentinels for errors.Is; they carry no message.
var (
	ErrNotFound     = &Error{Kind: NotFound}
	ErrInvalid      = &Error{Kind: Invalid}
	ErrConflict     = &Error{Kind: Conflict}
	ErrForbidden    = &Error{Kind: Forbidden}
	ErrUnauthorized = &Error{Kind: Unauthorized}
	ErrTooMany      = &Error{Kind: TooMany}
)

var codes = map[Kind]string{
	Internal:     "internal",
	NotFound:     "not_found",
	Invalid:      "invalid",
	Conflict:     "conflict",
	Forbidden:    "forbidden",
	Unauthorized: "unauthorized",
	TooMany:      "rate_limited",
}

// New returns an error of kind with a user-facing message.
func New(kind Kind, format string, args ...any) *Error {
	return &Error{Kind: kind, Code: codes[kind], Message: fmt.Sprintf(format, args...)}
}

// NotFoundf returns a NotFound error naming what was not found.
func NotFoundf(format string, args ...any) *Error { return New(NotFound, format, args...) }

// Fields collects field validation messages; its Err is nil when no field
// failed.
type Fields map[string]string

// Add records msg for field unless the field already has a message.
func (f Fields) Add(field, msg string) {
	if _, ok := f[field]; !ok {
		f[field] = msg
	}
}

// Err returns an Invalid error carrying the messages, or nil.
func (f Fields) Err() error {
	if len(f) == 0 {
		return nil
	}
	return &Error{Kind: Invalid, Code: codes[Invalid], Message: "Please correct the highlighted fields.", Fields: f}
}

// As returns err's *Error, or an Internal one wrapping nothing a user may see.
func As(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		if e.Code == "" {
			c := *e
			c.Code = codes[e.Kind]
			return &c
		}
		return e
	}
	return &Error{Kind: Internal, Code: codes[Internal], Message: "Something went wrong."}
}

// KindOf returns err's kind; errors not of this package are Internal.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Internal
}

// HTTPStatus returns the status that answers an error of kind k. The one map
// lives beside the kinds, so the page and API layers cannot drift apart and a
// new kind cannot be forgotten in one of them; capabilities never call it.
func HTTPStatus(k Kind) int {
	switch k {
	case NotFound:
		return http.StatusNotFound
	case Invalid:
		return http.StatusUnprocessableEntity
	case Conflict:
		return http.StatusConflict
	case Forbidden:
		return http.StatusForbidden
	case Unauthorized:
		return http.StatusUnauthorized
	case TooMany:
		return http.StatusTooManyRequests
	default:
		return http.StatusInternalServerError
	}
}
