package raindrop

import (
	"context"
	"fmt"
)

// Code is a result code of the native core (rd_result).
type Code int

// Result codes, the same values as the C header's RD_* constants.
const (
	CodeOK                Code = 0
	CodeInvalidHandle     Code = 1
	CodeNullArgument      Code = 2
	CodeInvalidJSON       Code = 3
	CodeInvalidArgument   Code = 4
	CodeInvalidSignalType Code = 5
	CodeInvalidSentiment  Code = 6
	CodeInvalidTimestamp  Code = 7
	CodeInvalidConfig     Code = 8
	CodeQueueFull         Code = 9
	CodeTimeout           Code = 10
	CodeTooManyOpenCalls  Code = 11
	CodeInternal          Code = 99
)

var codeNames = map[Code]string{
	CodeOK:                "ok",
	CodeInvalidHandle:     "invalid handle",
	CodeNullArgument:      "null argument",
	CodeInvalidJSON:       "invalid JSON",
	CodeInvalidArgument:   "invalid argument",
	CodeInvalidSignalType: "invalid signal type",
	CodeInvalidSentiment:  "invalid sentiment",
	CodeInvalidTimestamp:  "invalid timestamp",
	CodeInvalidConfig:     "invalid config",
	CodeQueueFull:         "queue full",
	CodeTimeout:           "timeout",
	CodeTooManyOpenCalls:  "too many open calls",
	CodeInternal:          "internal error",
}

// String returns a short description of the code.
func (c Code) String() string {
	if s, ok := codeNames[c]; ok {
		return s
	}
	return fmt.Sprintf("code %d", int(c))
}

// Error is an error returned by the native core. Compare with the sentinels
// through errors.Is (errors.Is(err, raindrop.ErrQueueFull)), or read Code with
// errors.As.
type Error struct {
	Code    Code   // result code
	Message string // message from the core, naming the bad argument
	Op      string // the C function that failed, e.g. "rd_flush"

	cause error // the Go error behind a failure found before the core (encoding/json's)
}

func newError(op string, code Code, msg string) *Error {
	return &Error{Code: code, Message: msg, Op: op}
}

// Unwrap returns the Go error behind the failure, if any (for example the
// *json.UnsupportedTypeError of a property value encoding/json cannot encode).
func (e *Error) Unwrap() error { return e.cause }

// Error implements error.
func (e *Error) Error() string {
	s := "raindrop: "
	if e.Op != "" {
		s += e.Op + ": "
	}
	s += e.Code.String()
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// Is reports whether target is an *Error with the same Code (so every sentinel
// matches any error of its code), and lets a timeout match
// context.DeadlineExceeded.
func (e *Error) Is(target error) bool {
	if t, ok := target.(*Error); ok {
		return t != nil && t.Code == e.Code
	}
	return e.Code == CodeTimeout && target == context.DeadlineExceeded
}

// Sentinels for errors.Is.
var (
	ErrInvalidHandle     = &Error{Code: CodeInvalidHandle}
	ErrNullArgument      = &Error{Code: CodeNullArgument}
	ErrInvalidJSON       = &Error{Code: CodeInvalidJSON}
	ErrInvalidArgument   = &Error{Code: CodeInvalidArgument}
	ErrInvalidSignalType = &Error{Code: CodeInvalidSignalType}
	ErrInvalidSentiment  = &Error{Code: CodeInvalidSentiment}
	ErrInvalidTimestamp  = &Error{Code: CodeInvalidTimestamp}
	ErrInvalidConfig     = &Error{Code: CodeInvalidConfig}
	ErrQueueFull         = &Error{Code: CodeQueueFull}
	ErrTimeout           = &Error{Code: CodeTimeout}
	ErrTooManyOpenCalls  = &Error{Code: CodeTooManyOpenCalls}
	ErrInternal          = &Error{Code: CodeInternal}
)
