package raindrop

import (
	"context"
	"errors"
	"testing"
)

func TestLMSpanRollsUpIntoEvent(t *testing.T) {
	capt := newCapture(t)
	cl := newTestClient(t, capt)
	m := cl.Wrap("agent", ModuleFunc(func(ctx context.Context, in map[string]any) (map[string]any, error) {
		for i := 0; i < 2; i++ {
			_, span := StartSpan(ctx, KindLM, "chat", map[string]any{"prompt": in["q"]})
			if span == nil {
				t.Fatal("nil span inside a wrapped call")
			}
			if err := span.End(SpanResult{Output: "hi", Model: "lm-x", PromptTokens: 20, CompletionTokens: 5, FinishReason: "stop"}); err != nil {
				t.Errorf("span.End: %v", err)
			}
			if err := span.End(SpanResult{}); err != nil {
				t.Errorf("second End: %v", err)
			}
		}
		_, tool := StartSpan(ctx, KindTool, "search", map[string]any{"query": "x"})
		_ = tool.End(SpanResult{Err: errors.New("tool failed")})
		return map[string]any{"answer": "done"}, nil
	}))
	if _, err := m.Process(context.Background(), map[string]any{"q": "hello"}); err != nil {
		t.Fatal(err)
	}
	flush(t, cl)
	evs := capt.events(t)
	if len(evs) != 1 {
		t.Fatalf("want 1 event, got %d", len(evs))
	}
	p := asMap(evs[0]["properties"])
	if p["ai.usage.prompt_tokens"] != 40.0 || p["ai.usage.completion_tokens"] != 10.0 ||
		str(path(evs[0], "ai_data", "model")) != "lm-x" || p["dspy.finish_reason"] != "stop" {
		t.Errorf("LM usage not in the event: %v / %v", p, evs[0]["ai_data"])
	}
	spans := capt.spans(t)
	if len(spans) != 4 {
		t.Fatalf("want 4 spans (call, 2 LM, tool), got %d", len(spans))
	}
	for _, s := range spans {
		if str(s["name"]) == "search" {
			st := asMap(s["status"])
			if st["code"] != 2.0 && st["code"] != "STATUS_CODE_ERROR" {
				t.Errorf("failed tool span status: %v", st)
			}
		}
	}
}

func TestSpanOutsideCallIsNoop(t *testing.T) {
	ctx, span := StartSpan(context.Background(), KindLM, "lm", "x")
	if span != nil || ctx == nil {
		t.Fatalf("want nil span outside a call, got %v", span)
	}
	if err := span.End(SpanResult{Output: "y"}); err != nil {
		t.Fatal(err)
	}
	if span.EventID() != "" {
		t.Fatal("nil span has an event id")
	}
}

func TestStandaloneToolSpan(t *testing.T) {
	capt := newCapture(t)
	cl := newTestClient(t, capt)
	_, span := cl.StartSpan(context.Background(), KindTool, "lookup", map[string]any{"id": 3})
	if span == nil {
		t.Fatal("standalone span refused")
	}
	if err := span.End(SpanResult{Output: map[string]any{"found": true}}); err != nil {
		t.Fatal(err)
	}
	flush(t, cl)
	spans := capt.spans(t)
	if len(spans) != 1 || str(spans[0]["name"]) == "" {
		t.Fatalf("want 1 standalone span, got %v", spans)
	}
	if len(capt.events(t)) != 0 {
		t.Error("a standalone span must not send an event")
	}
}
