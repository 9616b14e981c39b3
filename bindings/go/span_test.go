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
			span.End(SpanResult{Output: "hi", Model: "lm-x", PromptTokens: 20, CompletionTokens: 5, FinishReason: "stop"})
			span.End(SpanResult{}) // a second End does nothing
		}
		_, tool := StartSpan(ctx, KindTool, "search", map[string]any{"query": "x"})
		tool.End(SpanResult{Err: errors.New("tool failed")})
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
	span.End(SpanResult{Output: "y"})
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
	span.End(SpanResult{Output: map[string]any{"found": true}})
	flush(t, cl)
	spans := capt.spans(t)
	if len(spans) != 1 || str(spans[0]["name"]) == "" {
		t.Fatalf("want 1 standalone span, got %v", spans)
	}
	if len(capt.events(t)) != 0 {
		t.Error("a standalone span must not send an event")
	}
}

func TestWrapAndSpanInsideSpan(t *testing.T) {
	capt := newCapture(t)
	cl := newTestClient(t, capt)
	inner := cl.Wrap("inner", echoModule())
	outer := cl.Wrap("outer", ModuleFunc(func(ctx context.Context, in map[string]any) (map[string]any, error) {
		tctx, tool := StartSpan(ctx, KindTool, "tool", in)
		out, err := inner.Process(tctx, map[string]any{"question": "from tool"})
		_, lm := StartSpan(tctx, KindLM, "lm-in-tool", "p")
		lm.End(SpanResult{Output: "o", Model: "m-in-tool", PromptTokens: 2, CompletionTokens: 3})
		tool.End(SpanResult{Output: out})
		return out, err
	}))
	if _, err := outer.Process(context.Background(), map[string]any{"question": "q"}); err != nil {
		t.Fatal(err)
	}
	flush(t, cl)
	evs := capt.events(t)
	if len(evs) != 1 {
		t.Fatalf("want 1 event, got %d", len(evs))
	}
	if path(evs[0], "properties", "ai.usage.prompt_tokens") != 2.0 {
		t.Errorf("usage through a tool span: %v", evs[0]["properties"])
	}
	spans := capt.spans(t)
	ids := map[string]string{} // name -> spanId
	for _, s := range spans {
		ids[str(s["name"])] = str(s["spanId"])
	}
	for _, s := range spans {
		name, parent := str(s["name"]), str(s["parentSpanId"])
		switch name {
		case "inner", "lm-in-tool":
			if parent != ids["tool"] {
				t.Errorf("%s: parent %q, want the tool span %q", name, parent, ids["tool"])
			}
		case "tool":
			if parent != ids["outer"] {
				t.Errorf("tool: parent %q, want outer %q", parent, ids["outer"])
			}
		}
	}
	if len(spans) != 4 {
		t.Errorf("want 4 spans, got %d", len(spans))
	}
}
