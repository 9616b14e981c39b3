package raindrop

/*
#include "raindrop_dspy.h"
*/
import "C"

import (
	"context"
	"fmt"
)

// SpanKind is the kind of a span inside a wrapped call.
type SpanKind int

// Span kinds (rd_span_kind).
const (
	KindModule SpanKind = 0 // a sub-step
	KindLM     SpanKind = 1 // a language-model call: model, tokens, finish reason
	KindTool   SpanKind = 2 // a tool call
)

// Span is an open LM, tool or module span. A nil *Span is valid and does
// nothing, so code can call StartSpan without checking for a wrapped call.
type Span struct {
	n *node
}

// SpanResult is how a span ended.
type SpanResult struct {
	Output           any // a string is sent as is, anything else as JSON
	Model            string
	PromptTokens     int64 // TokensUnknown (negative): unknown; 0 is zero tokens
	CompletionTokens int64 // TokensUnknown (negative): unknown
	FinishReason     string
	Err              error          // non-nil: the span failed (status ERROR)
	Properties       map[string]any // extra span attributes
}

// StartSpan opens a span under the innermost wrapped call or span of ctx and
// returns a context carrying it (wrapped modules, spans and Report calls made
// with that context nest under the span). Outside a wrapped call it returns
// ctx and a nil (no-op) span; use Client.StartSpan for standalone spans.
//
// Model, tokens and finish reason of an LM span roll up into the top-level
// event unless a call reports its own.
func StartSpan(ctx context.Context, kind SpanKind, name string, input any) (context.Context, *Span) {
	n := nodeFrom(ctx)
	if n == nil {
		return ctx, nil
	}
	return n.c.startSpan(ctx, n, kind, name, input)
}

// StartSpan is the package-level StartSpan, but without a call of this client
// in ctx it starts a standalone span with its own trace (for example a tool
// span outside any wrapped call).
func (c *Client) StartSpan(ctx context.Context, kind SpanKind, name string, input any) (context.Context, *Span) {
	if ctx == nil {
		ctx = context.Background()
	}
	parent := nodeFrom(ctx)
	if parent != nil && parent.c != c {
		parent = nil
	}
	return c.startSpan(ctx, parent, kind, name, input)
}

func (c *Client) startSpan(ctx context.Context, parent *node, kind SpanKind, name string, input any) (context.Context, *Span) {
	in := c.textJSON(input, &c.spanInKeys, parent)
	n, err := c.beginSpan(ctx, parent, kind, name, in.text)
	in.release(parent)
	if err != nil {
		c.warnRefused(err)
		return ctx, nil
	}
	n.inClean = in.clean
	return n, &n.span
}

// End finishes the span. An LM span's model, tokens and finish reason are
// those of r, completed by what Report gave the span where r leaves them
// unknown or empty; the core adds them up into the top-level event. Ending twice is harmless (the second End does nothing). Like
// OpenTelemetry's End it returns nothing: telemetry never fails the caller, and
// a span the core refuses is logged (at most once per 30 s).
func (s *Span) End(r SpanResult) {
	if s == nil || s.n == nil {
		return
	}
	u := Usage{Model: r.Model, PromptTokens: r.PromptTokens,
		CompletionTokens: r.CompletionTokens, FinishReason: r.FinishReason}
	if s.n.kind == KindLM {
		u = s.n.withReported(u)
		s.n.markLM()
	}
	cr := callResult{props: r.Properties, usage: u, hasUsage: true}
	output := s.n.c.textJSON(r.Output, &s.n.c.spanOutKeys, s.n)
	cr.output, cr.clean = output.text, output.clean
	if r.Err != nil {
		cr.errType = fmt.Sprintf("%T", r.Err)
		cr.errMsg = r.Err.Error()
	}
	s.n.end(cr, nil)
	output.release(s.n.parent)
}

// EventID is the event id of the top-level call the span belongs to ("" for
// a standalone span).
func (s *Span) EventID() string {
	if s == nil || s.n == nil {
		return ""
	}
	return s.n.eventID
}
