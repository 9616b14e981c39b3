package raindrop

import (
	"context"
	"math"
	"regexp"
	"testing"
)

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestNewEventID(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		id := NewEventID()
		if !uuidV4.MatchString(id) || seen[id] {
			t.Fatalf("bad or duplicate UUID v4: %q", id)
		}
		seen[id] = true
	}
}

func TestReportOutsideCall(t *testing.T) {
	ctx := context.Background()
	Report(ctx, Usage{PromptTokens: 1}) // no call: nothing happens
	if UsageRecorded(ctx) {
		t.Fatal("usage outside a call")
	}
	if EventID(ctx) != "" {
		t.Fatal("event id outside a call")
	}
}

// Report records LM spans; the core alone adds their tokens up into the event.
func TestReportRecordsLMSpansTheCoreAddsUp(t *testing.T) {
	capt := newCapture(t)
	cl := newTestClient(t, capt)
	m := cl.Wrap("m", ModuleFunc(func(ctx context.Context, in map[string]any) (map[string]any, error) {
		if UsageRecorded(ctx) {
			t.Error("usage before any Report")
		}
		Report(ctx, Usage{Model: "a", PromptTokens: 1, CompletionTokens: 2})
		Report(ctx, Usage{Model: "b", PromptTokens: 10, CompletionTokens: TokensUnknown, FinishReason: "stop"})
		if !UsageRecorded(ctx) {
			t.Error("UsageRecorded after Report")
		}
		return nil, nil
	}))
	if _, err := m.Process(context.Background(), map[string]any{"x": 1}); err != nil {
		t.Fatal(err)
	}
	flush(t, cl)
	ev := capt.events(t)[0]
	p := asMap(ev["properties"])
	if p["ai.usage.prompt_tokens"] != 11.0 || p["dspy.finish_reason"] != "stop" || str(path(ev, "ai_data", "model")) != "a" {
		t.Errorf("event usage: %v / %v", p, ev["ai_data"])
	}
	lms := 0
	for _, s := range capt.spans(t) {
		if attr(s, "traceloop.span.kind") == "llm" {
			lms++
		}
	}
	if lms != 2 {
		t.Errorf("want the 2 reported LM spans, got %d", lms)
	}
}

// Zero tokens are a count like any other: only TokensUnknown means unknown.
func TestZeroTokensAreKnown(t *testing.T) {
	capt := newCapture(t)
	cl := newTestClient(t, capt)
	m := cl.Wrap("m", ModuleFunc(func(ctx context.Context, in map[string]any) (map[string]any, error) {
		_, lm := StartSpan(ctx, KindLM, "cached", "prompt")
		lm.End(SpanResult{Output: "o", Model: "m", PromptTokens: 0, CompletionTokens: 0})
		return nil, nil
	}))
	if _, err := m.Process(context.Background(), map[string]any{"x": 1}); err != nil {
		t.Fatal(err)
	}
	flush(t, cl)
	p := asMap(capt.events(t)[0]["properties"])
	if v, ok := p["ai.usage.prompt_tokens"]; !ok || v != 0.0 {
		t.Errorf("0 prompt tokens must be sent as 0: %v", p)
	}
	if v, ok := p["ai.usage.completion_tokens"]; !ok || v != 0.0 {
		t.Errorf("0 completion tokens must be sent as 0: %v", p)
	}
}

// The core adds LM tokens up, saturating at the int64 maximum, and one LM span
// with an unknown count leaves that total unknown (absent), not a partial sum.
func TestTokenRollUpSaturatesAndUnknownStaysAbsent(t *testing.T) {
	capt := newCapture(t)
	cl := newTestClient(t, capt)
	m := cl.Wrap("m", ModuleFunc(func(ctx context.Context, in map[string]any) (map[string]any, error) {
		for i := 0; i < 2; i++ {
			_, lm := StartSpan(ctx, KindLM, "lm", "p")
			lm.End(SpanResult{Output: "o", Model: "m", PromptTokens: math.MaxInt64, CompletionTokens: 5})
		}
		_, lm := StartSpan(ctx, KindLM, "lm", "p")
		lm.End(SpanResult{Output: "o", Model: "m", PromptTokens: 1, CompletionTokens: TokensUnknown})
		return nil, nil
	}))
	if _, err := m.Process(context.Background(), map[string]any{"x": 1}); err != nil {
		t.Fatal(err)
	}
	flush(t, cl)
	p := asMap(capt.events(t)[0]["properties"])
	if p["ai.usage.prompt_tokens"] != float64(math.MaxInt64) {
		t.Errorf("prompt tokens must saturate at MaxInt64: %v", p["ai.usage.prompt_tokens"])
	}
	if v, ok := p["ai.usage.completion_tokens"]; ok {
		t.Errorf("one unknown completion count must leave the total absent, got %v", v)
	}
}
