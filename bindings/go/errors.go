package raindrop

/*
#include "raindrop_dspy.h"
*/
import "C"

import "context"

// Code is a result code of the native core (rd_result).
type Code int

// Result codes: the C header's RD_* constants.
const (
	CodeOK                Code = C.RD_OK
	CodeInvalidHandle     Code = C.RD_ERR_INVALID_HANDLE
	CodeNullArgument      Code = C.RD_ERR_NULL_ARGUMENT
	CodeInvalidJSON       Code = C.RD_ERR_INVALID_JSON
	CodeInvalidArgument   Code = C.RD_ERR_INVALID_ARGUMENT
	CodeInvalidSignalType Code = C.RD_ERR_INVALID_SIGNAL_TYPE
	CodeInvalidSentiment  Code = C.RD_ERR_INVALID_SENTIMENT
	CodeInvalidTimestamp  Code = C.RD_ERR_INVALID_TIMESTAMP
	CodeInvalidConfig     Code = C.RD_ERR_INVALID_CONFIG
	CodeQueueFull         Code = C.RD_ERR_QUEUE_FULL
	CodeTimeout           Code = C.RD_ERR_TIMEOUT
	CodeTooManyOpenCalls  Code = C.RD_ERR_TOO_MANY_OPEN_CALLS
	CodeItemsDropped      Code = C.RD_ERR_ITEMS_DROPPED
	CodeInternal          Code = C.RD_ERR_INTERNAL
)

// String returns the header's name of the code (rd_result_name), e.g.
// "RD_ERR_QUEUE_FULL".
func (c Code) String() string {
	return C.GoString(C.rd_result_name(C.int32_t(c)))
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
	ErrItemsDropped      = &Error{Code: CodeItemsDropped}
	ErrInternal          = &Error{Code: CodeInternal}
)
