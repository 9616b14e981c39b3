package raindrop

import (
	"context"
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
	if _, ok := CallUsage(ctx); ok {
		t.Fatal("usage outside a call")
	}
	if EventID(ctx) != "" {
		t.Fatal("event id outside a call")
	}
}

func TestCallUsageAccumulates(t *testing.T) {
	capt := newCapture(t)
	cl := newTestClient(t, capt)
	m := cl.Wrap("m", ModuleFunc(func(ctx context.Context, in map[string]any) (map[string]any, error) {
		if _, ok := CallUsage(ctx); ok {
			t.Error("usage before any Report")
		}
		Report(ctx, Usage{Model: "a", PromptTokens: 1, CompletionTokens: 2})
		Report(ctx, Usage{Model: "b", PromptTokens: 10, FinishReason: "stop"})
		u, ok := CallUsage(ctx)
		if !ok || u != (Usage{Model: "b", PromptTokens: 11, CompletionTokens: 2, FinishReason: "stop"}) {
			t.Errorf("CallUsage = %+v, %v", u, ok)
		}
		return nil, nil
	}))
	if _, err := m.Process(context.Background(), map[string]any{"x": 1}); err != nil {
		t.Fatal(err)
	}
}
