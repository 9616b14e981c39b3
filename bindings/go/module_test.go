package raindrop

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"strings"
	"sync"
	"testing"
	"time"
)

func echoModule() Module {
	return ModuleFunc(func(ctx context.Context, in map[string]any) (map[string]any, error) {
		return map[string]any{"answer": fmt.Sprintf("re: %v", in["question"])}, nil
	})
}

func TestWrapEventShape(t *testing.T) {
	capt := newCapture(t)
	cl := newTestClient(t, capt, func(c *Config) { c.UserID = "u-default"; c.ConvoID = "convo-1" })
	m := cl.Wrap("qa", echoModule())

	out, err := m.Process(context.Background(), map[string]any{"question": "why?"})
	if err != nil || out["answer"] != "re: why?" {
		t.Fatalf("Process = %v, %v", out, err)
	}
	flush(t, cl)

	evs := capt.events(t)
	if len(evs) != 1 {
		t.Fatalf("want 1 event, got %d: %v", len(evs), evs)
	}
	ev := evs[0]
	if str(ev["event"]) != "ai_generation" || str(ev["user_id"]) != "u-default" {
		t.Errorf("event/user_id: %v", ev)
	}
	if str(ev["event_id"]) == "" || str(ev["timestamp"]) == "" {
		t.Errorf("missing event_id/timestamp: %v", ev)
	}
	if got := str(path(ev, "ai_data", "input")); got != `{"question":"why?"}` {
		t.Errorf("input = %q", got)
	}
	if got := str(path(ev, "ai_data", "output")); got != `{"answer":"re: why?"}` {
		t.Errorf("output = %q", got)
	}
	if got := str(path(ev, "ai_data", "convo_id")); got != "convo-1" {
		t.Errorf("convo_id = %q", got)
	}
	if _, ok := ev["input"]; ok {
		t.Errorf("ai fields must be nested under ai_data: %v", ev)
	}
	if path(ev, "properties", "$context") == nil {
		t.Errorf("no $context: %v", ev["properties"])
	}
	reqs := capt.requests("/events/track")
	if h := reqs[0].Header.Get("Authorization"); h != "Bearer test-key" {
		t.Errorf("Authorization = %q", h)
	}
}

func TestWrapCallOptionsAndUsage(t *testing.T) {
	capt := newCapture(t)
	cl := newTestClient(t, capt)
	m := cl.Wrap("lm", ModuleFunc(func(ctx context.Context, in map[string]any) (map[string]any, error) {
		if EventID(ctx) == "" {
			t.Error("EventID(ctx) empty inside a wrapped call")
		}
		Report(ctx, Usage{Model: "gpt-test", PromptTokens: 11, CompletionTokens: 7, FinishReason: "length"})
		return map[string]any{"answer": "ok"}, nil
	}))
	id := NewEventID()
	ctx := WithCallOptions(context.Background(), CallOptions{
		EventID: id, UserID: "u-42", EventName: "support_reply", ConvoID: "c-9",
		Properties: map[string]any{"channel": "email"},
	})
	if _, err := m.Process(ctx, map[string]any{"q": 1}); err != nil {
		t.Fatal(err)
	}
	flush(t, cl)
	evs := capt.events(t)
	if len(evs) != 1 {
		t.Fatalf("want 1 event, got %d", len(evs))
	}
	ev := evs[0]
	if str(ev["event_id"]) != id || str(ev["user_id"]) != "u-42" || str(ev["event"]) != "support_reply" {
		t.Errorf("overrides not applied: %v", ev)
	}
	if str(path(ev, "ai_data", "model")) != "gpt-test" || str(path(ev, "ai_data", "convo_id")) != "c-9" {
		t.Errorf("ai_data: %v", ev["ai_data"])
	}
	p := asMap(ev["properties"])
	if p["ai.usage.prompt_tokens"] != 11.0 || p["ai.usage.completion_tokens"] != 7.0 || p["dspy.finish_reason"] != "length" {
		t.Errorf("usage properties: %v", p)
	}
	if p["channel"] != "email" {
		t.Errorf("custom property missing: %v", p)
	}
}

func TestWrapUsageFromOutputKeys(t *testing.T) {
	capt := newCapture(t)
	cl := newTestClient(t, capt)
	m := cl.Wrap("lm", ModuleFunc(func(ctx context.Context, in map[string]any) (map[string]any, error) {
		return map[string]any{"answer": "x", "model": "m-1", "finish_reason": "stop",
			"usage": map[string]any{"prompt_tokens": 3, "completion_tokens": 4}}, nil
	}))
	if _, err := m.Process(context.Background(), map[string]any{"q": "?"}); err != nil {
		t.Fatal(err)
	}
	flush(t, cl)
	ev := capt.events(t)[0]
	p := asMap(ev["properties"])
	if str(path(ev, "ai_data", "model")) != "m-1" || p["ai.usage.prompt_tokens"] != 3.0 ||
		p["ai.usage.completion_tokens"] != 4.0 || p["dspy.finish_reason"] != "stop" {
		t.Errorf("well-known keys not used: %v", ev)
	}
}

// TestWrapUsageFromEachOutputKey: each well-known key alone is read, in a
// small output map (whose keys the encoder checks while gathering them) and in
// one of more than 8 entries (looked up).
func TestWrapUsageFromEachOutputKey(t *testing.T) {
	capt := newCapture(t)
	cl := newTestClient(t, capt)
	cases := []struct {
		key  string
		val  any
		prop string
		want any
	}{
		{"model", "m-2", "", "m-2"},
		{"finish_reason", "length", "dspy.finish_reason", "length"},
		{"prompt_tokens", 3, "ai.usage.prompt_tokens", 3.0},
		{"input_tokens", 5, "ai.usage.prompt_tokens", 5.0},
		{"completion_tokens", 4, "ai.usage.completion_tokens", 4.0},
		{"output_tokens", 6, "ai.usage.completion_tokens", 6.0},
		{"usage", map[string]any{"prompt_tokens": 7}, "ai.usage.prompt_tokens", 7.0},
	}
	for _, big := range []bool{false, true} {
		for _, c := range cases {
			out := map[string]any{"answer": "x", c.key: c.val}
			for i := 0; big && i < 10; i++ {
				out[fmt.Sprintf("filler%d", i)] = i
			}
			m := cl.Wrap("lm", ModuleFunc(func(ctx context.Context, in map[string]any) (map[string]any, error) {
				return out, nil
			}))
			if _, err := m.Process(context.Background(), map[string]any{"q": "?"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	flush(t, cl)
	evs := capt.events(t)
	if len(evs) != 2*len(cases) {
		t.Fatalf("want %d events, got %d", 2*len(cases), len(evs))
	}
	for i, ev := range evs {
		c := cases[i%len(cases)]
		got := path(ev, "properties", c.prop)
		if c.prop == "" {
			got = path(ev, "ai_data", "model")
		}
		if got != c.want {
			t.Errorf("event %d (key %q, %d filler keys): got %v, want %v", i, c.key, i/len(cases)*10, got, c.want)
		}
	}
}

type myError struct{ code int }

func (e *myError) Error() string { return fmt.Sprintf("my error %d", e.code) }

var errSentinel = errors.New("sentinel failure")

func TestWrapErrorPassthrough(t *testing.T) {
	capt := newCapture(t)
	cl := newTestClient(t, capt)
	want := &myError{code: 7}
	m := cl.Wrap("failing", ModuleFunc(func(ctx context.Context, in map[string]any) (map[string]any, error) {
		return nil, want
	}))
	out, err := m.Process(context.Background(), map[string]any{"q": "boom"})
	if out != nil || err != error(want) {
		t.Fatalf("error not returned unchanged: %v, %#v", out, err)
	}
	wrapped := cl.Wrap("wrapping", ModuleFunc(func(ctx context.Context, in map[string]any) (map[string]any, error) {
		return nil, fmt.Errorf("outer: %w", errSentinel)
	}))
	if _, err := wrapped.Process(context.Background(), nil); !errors.Is(err, errSentinel) {
		t.Fatalf("errors.Is lost: %v", err)
	}
	flush(t, cl)
	evs := capt.events(t)
	if len(evs) != 2 {
		t.Fatalf("want 2 events, got %d", len(evs))
	}
	byType := map[string]map[string]any{}
	for _, ev := range evs {
		byType[str(path(ev, "properties", "error.type"))] = ev
	}
	ev, ok := byType["*raindrop.myError"]
	if !ok {
		t.Fatalf("no event with error.type *raindrop.myError: %v", evs)
	}
	if str(path(ev, "properties", "error.message")) != "my error 7" {
		t.Errorf("error.message: %v", ev["properties"])
	}
	if str(path(ev, "ai_data", "input")) != `{"q":"boom"}` {
		t.Errorf("input of failed call: %v", ev["ai_data"])
	}
	if ev2, ok := byType["*fmt.wrapError"]; !ok || str(path(ev2, "properties", "error.message")) != "outer: sentinel failure" {
		t.Errorf("wrapped error event: %v", evs)
	}
}

func TestWrapPanicRecordedAndPropagated(t *testing.T) {
	capt := newCapture(t)
	cl := newTestClient(t, capt)
	m := cl.Wrap("panicky", ModuleFunc(func(ctx context.Context, in map[string]any) (map[string]any, error) {
		panic("kaboom")
	}))
	func() {
		defer func() {
			if r := recover(); r != "kaboom" {
				t.Errorf("recover() = %v, want kaboom", r)
			}
		}()
		_, _ = m.Process(context.Background(), map[string]any{"x": 1})
	}()
	flush(t, cl)
	evs := capt.events(t)
	if len(evs) != 1 || str(path(evs[0], "properties", "error.type")) != "panic" {
		t.Fatalf("panic not recorded: %v", evs)
	}
}

func TestWrapNesting(t *testing.T) {
	capt := newCapture(t)
	cl := newTestClient(t, capt)
	var innerEventID string
	inner := cl.Wrap("inner", ModuleFunc(func(ctx context.Context, in map[string]any) (map[string]any, error) {
		innerEventID = EventID(ctx)
		Report(ctx, Usage{Model: "inner-model", PromptTokens: 5, CompletionTokens: 2})
		return map[string]any{"y": in["x"]}, nil
	}))
	var outerEventID string
	outer := cl.Wrap("outer", ModuleFunc(func(ctx context.Context, in map[string]any) (map[string]any, error) {
		outerEventID = EventID(ctx)
		a, err := inner.Process(ctx, map[string]any{"x": 1})
		if err != nil {
			return nil, err
		}
		b, err := inner.Process(ctx, map[string]any{"x": 2})
		if err != nil {
			return nil, err
		}
		return map[string]any{"a": a["y"], "b": b["y"]}, nil
	}))
	if _, err := outer.Process(context.Background(), map[string]any{"q": "nest"}); err != nil {
		t.Fatal(err)
	}
	flush(t, cl)

	evs := capt.events(t)
	if len(evs) != 1 {
		t.Fatalf("nested calls must produce one event, got %d: %v", len(evs), evs)
	}
	ev := evs[0]
	if innerEventID != outerEventID || str(ev["event_id"]) != outerEventID {
		t.Errorf("event ids: inner %q outer %q event %q", innerEventID, outerEventID, ev["event_id"])
	}
	if str(path(ev, "ai_data", "output")) != `{"a":1,"b":2}` {
		t.Errorf("output: %v", ev["ai_data"])
	}
	p := asMap(ev["properties"])
	if p["ai.usage.prompt_tokens"] != 10.0 || p["ai.usage.completion_tokens"] != 4.0 || str(path(ev, "ai_data", "model")) != "inner-model" {
		t.Errorf("usage not rolled up from nested calls: %v / %v", p, ev["ai_data"])
	}

	spans := capt.spans(t)
	if len(spans) != 5 {
		t.Fatalf("want 5 spans (outer, 2 inner, the LM span each inner Report records), got %d", len(spans))
	}
	var root map[string]any
	for _, s := range spans {
		if str(s["parentSpanId"]) == "" {
			root = s
		}
	}
	if root == nil {
		t.Fatalf("no root span: %v", spans)
	}
	for _, s := range spans {
		if str(s["traceId"]) != str(root["traceId"]) {
			t.Errorf("span %v not in the root's trace", s["name"])
		}
		if s["spanId"] != root["spanId"] && attr(s, "traceloop.span.kind") != "llm" &&
			str(s["parentSpanId"]) != str(root["spanId"]) {
			t.Errorf("span %v is not a child of the root", s["name"])
		}
		if attr(s, "traceloop.association.properties.event_id") != outerEventID {
			t.Errorf("span %v not linked to the event: %v", s["name"], s["attributes"])
		}
	}
}

func TestWrapOtherClientStartsNewTrace(t *testing.T) {
	capt := newCapture(t)
	a := newTestClient(t, capt)
	b := newTestClient(t, capt)
	inner := b.Wrap("b-inner", echoModule())
	outer := a.Wrap("a-outer", ModuleFunc(func(ctx context.Context, in map[string]any) (map[string]any, error) {
		return inner.Process(ctx, in)
	}))
	if _, err := outer.Process(context.Background(), map[string]any{"question": "q"}); err != nil {
		t.Fatal(err)
	}
	flush(t, a)
	flush(t, b)
	if n := len(capt.events(t)); n != 2 {
		t.Fatalf("two clients: want 2 top-level events, got %d", n)
	}
}

func TestWrapManyGoroutines(t *testing.T) {
	capt := newCapture(t)
	cl := newTestClient(t, capt, func(c *Config) { c.TracingEnabled = Bool(false) })
	m := cl.Wrap("echo", ModuleFunc(func(ctx context.Context, in map[string]any) (map[string]any, error) {
		Report(ctx, Usage{PromptTokens: int64(in["i"].(int)) + 1, CompletionTokens: 1})
		return map[string]any{"echo": in["g"].(string) + "/" + fmt.Sprint(in["i"])}, nil
	}))
	const G, N = 16, 200
	var wg sync.WaitGroup
	for g := 0; g < G; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < N; i++ {
				gs := fmt.Sprintf("g%02d", g)
				out, err := m.Process(context.Background(), map[string]any{"g": gs, "i": i})
				if err != nil || out["echo"] != fmt.Sprintf("%s/%d", gs, i) {
					t.Errorf("Process: %v %v", out, err)
					return
				}
			}
		}(g)
	}
	wg.Wait()
	flush(t, cl)

	evs := capt.events(t)
	if len(evs) != G*N {
		t.Fatalf("want %d events, got %d", G*N, len(evs))
	}
	seen := map[string]bool{}
	for _, ev := range evs {
		var in struct {
			G string `json:"g"`
			I int    `json:"i"`
		}
		if err := json.Unmarshal([]byte(str(path(ev, "ai_data", "input"))), &in); err != nil {
			t.Fatalf("input: %v", err)
		}
		wantOut := fmt.Sprintf(`{"echo":"%s/%d"}`, in.G, in.I)
		if got := str(path(ev, "ai_data", "output")); got != wantOut {
			t.Fatalf("event mixes calls: input %s/%d output %s", in.G, in.I, got)
		}
		if pt := path(ev, "properties", "ai.usage.prompt_tokens"); pt != float64(in.I+1) {
			t.Fatalf("event mixes usage: input %d tokens %v", in.I, pt)
		}
		key := fmt.Sprintf("%s/%d", in.G, in.I)
		if seen[key] {
			t.Fatalf("duplicate event for %s", key)
		}
		seen[key] = true
		if strings.TrimSpace(str(ev["event_id"])) == "" {
			t.Fatal("event without id")
		}
	}
	st, err := cl.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.DroppedQueueFull != 0 || st.Delivered < G*N {
		t.Errorf("stats: %+v", st)
	}
}

func BenchmarkWrapTopLevel(b *testing.B) {
	cl, err := New(Config{APIKey: "k", Endpoint: benchSink, TracingEnabled: Bool(false)})
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	m := cl.Wrap("bench", echoModule())
	in := map[string]any{"question": "how fast?"}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := m.Process(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
}

func TestWrapNestedFanOut(t *testing.T) {
	capt := newCapture(t)
	cl := newTestClient(t, capt)
	inner := cl.Wrap("inner", ModuleFunc(func(ctx context.Context, in map[string]any) (map[string]any, error) {
		Report(ctx, Usage{PromptTokens: 1, CompletionTokens: 2})
		return map[string]any{"i": in["i"]}, nil
	}))
	outer := cl.Wrap("outer", ModuleFunc(func(ctx context.Context, in map[string]any) (map[string]any, error) {
		var wg sync.WaitGroup
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				_, _ = inner.Process(ctx, map[string]any{"i": i})
			}(i)
		}
		wg.Wait()
		return map[string]any{"done": true}, nil
	}))
	if _, err := outer.Process(context.Background(), map[string]any{}); err != nil {
		t.Fatal(err)
	}
	flush(t, cl)
	evs := capt.events(t)
	if len(evs) != 1 {
		t.Fatalf("want 1 event, got %d", len(evs))
	}
	p := asMap(evs[0]["properties"])
	if p["ai.usage.prompt_tokens"] != 8.0 || p["ai.usage.completion_tokens"] != 16.0 {
		t.Errorf("fan-out usage: %v", p)
	}
	if n := len(capt.spans(t)); n != 17 {
		t.Errorf("want 17 spans (outer, 8 inner, the LM span each inner Report records), got %d", n)
	}
}

func TestQueueFullNeverFailsWrappedCalls(t *testing.T) {
	capt := newCapture(t)
	var logBuf strings.Builder
	var logMu sync.Mutex
	cl := newTestClient(t, capt, func(c *Config) {
		c.MaxQueueItems = 2
		c.TracingEnabled = Bool(false)
		c.Logger = log.New(writerFunc(func(p []byte) (int, error) {
			logMu.Lock()
			defer logMu.Unlock()
			return logBuf.Write(p)
		}), "", 0)
	})
	capt.hangAll()
	m := cl.Wrap("m", echoModule())
	for i := 0; i < 50; i++ {
		if _, err := m.Process(context.Background(), map[string]any{"question": i}); err != nil {
			t.Fatalf("wrapped call failed on a full queue: %v", err)
		}
	}
	var sawQueueFull bool
	for i := 0; i < 50; i++ {
		if _, err := cl.TrackAI(AIEvent{Input: "x"}); errors.Is(err, ErrQueueFull) {
			sawQueueFull = true
		}
	}
	if !sawQueueFull {
		t.Error("TrackAI never returned ErrQueueFull with a 2-item queue and a hanging server")
	}
	st, err := cl.Stats()
	if err != nil || st.DroppedQueueFull == 0 {
		t.Errorf("stats: %+v %v", st, err)
	}
	logMu.Lock()
	n := strings.Count(logBuf.String(), "queue full")
	logMu.Unlock()
	if n != 1 {
		t.Errorf("queue-full warning logged %d times, want once", n)
	}
	capt.release()
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func TestCallOptionsContextReusedNeverReusesEventID(t *testing.T) {
	capt := newCapture(t)
	cl := newTestClient(t, capt)
	m := cl.Wrap("qa", echoModule())
	id := NewEventID()
	ctx := WithCallOptions(context.Background(), CallOptions{EventID: id, UserID: "u-7"})
	var got []string
	for i := 0; i < 3; i++ {
		seen := ""
		probe := cl.Wrap("probe", ModuleFunc(func(ctx context.Context, in map[string]any) (map[string]any, error) {
			seen = EventID(ctx)
			return m.Process(ctx, in)
		}))
		if _, err := probe.Process(ctx, map[string]any{"question": i}); err != nil {
			t.Fatal(err)
		}
		got = append(got, seen)
	}
	if got[0] != id {
		t.Errorf("first call: event id %q, want the given %q", got[0], id)
	}
	if got[1] == id || got[2] == id || got[1] == got[2] || got[1] == "" {
		t.Errorf("a reused options context reused an event id: %v", got)
	}
	flush(t, cl)
	evs := capt.events(t)
	if len(evs) != 3 {
		t.Fatalf("want 3 events, got %d", len(evs))
	}
	ids := map[string]bool{}
	for _, ev := range evs {
		ids[str(ev["event_id"])] = true
		if str(ev["user_id"]) != "u-7" {
			t.Errorf("UserID applies to every call made with the context: %v", ev["user_id"])
		}
	}
	if len(ids) != 3 {
		t.Errorf("duplicate event ids sent: %v", ids)
	}
}

func TestNestedPanicRecordsInnermostModuleAndValue(t *testing.T) {
	capt := newCapture(t)
	cl := newTestClient(t, capt)
	inner := cl.Wrap("inner", ModuleFunc(func(ctx context.Context, in map[string]any) (map[string]any, error) {
		panic(fmt.Sprintf("deep trouble %d", 42))
	}))
	outer := cl.Wrap("outer", ModuleFunc(func(ctx context.Context, in map[string]any) (map[string]any, error) {
		return inner.Process(ctx, in)
	}))
	func() {
		defer func() {
			if r := recover(); r != "deep trouble 42" {
				t.Errorf("recover() = %#v: the panic value must go on unchanged", r)
			}
		}()
		_, _ = outer.Process(context.Background(), map[string]any{"x": 1})
	}()
	flush(t, cl)
	evs := capt.events(t)
	if len(evs) != 1 {
		t.Fatalf("want 1 event, got %d", len(evs))
	}
	msg := str(path(evs[0], "properties", "error.message"))
	if !strings.Contains(msg, "inner") || !strings.Contains(msg, "deep trouble 42") || strings.Contains(msg, "outer") {
		t.Errorf("error.message = %q, want the innermost module and the panic value", msg)
	}
	if str(path(evs[0], "properties", "error.type")) != "panic" {
		t.Errorf("error.type: %v", evs[0]["properties"])
	}
}

func TestNilInputIsAbsentNotNull(t *testing.T) {
	capt := newCapture(t)
	cl := newTestClient(t, capt)
	m := cl.Wrap("m", ModuleFunc(func(ctx context.Context, in map[string]any) (map[string]any, error) {
		return map[string]any{"ok": true}, nil
	}))
	if _, err := m.Process(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	flush(t, cl)
	evs := capt.events(t)
	if len(evs) != 1 {
		t.Fatalf("want 1 event, got %d", len(evs))
	}
	if in, ok := asMap(evs[0]["ai_data"])["input"]; ok && in != "" {
		t.Errorf("a nil input was recorded as %q", in)
	}
	if str(path(evs[0], "ai_data", "output")) != `{"ok":true}` {
		t.Errorf("output: %v", evs[0]["ai_data"])
	}
}

func TestEverySpanCarriesTheCallsUserAndConvo(t *testing.T) {
	capt := newCapture(t)
	cl := newTestClient(t, capt, func(c *Config) { c.UserID = "u-config" })
	inner := cl.Wrap("inner", ModuleFunc(func(ctx context.Context, in map[string]any) (map[string]any, error) {
		_, lm := StartSpan(ctx, KindLM, "lm", "prompt")
		lm.End(SpanResult{Output: "o", Model: "m"})
		_, tool := StartSpan(ctx, KindTool, "tool", "args")
		tool.End(SpanResult{Output: "r"})
		return map[string]any{"ok": true}, nil
	}))
	outer := cl.Wrap("outer", ModuleFunc(func(ctx context.Context, in map[string]any) (map[string]any, error) {
		return inner.Process(ctx, in)
	}))
	ctx := WithCallOptions(context.Background(), CallOptions{UserID: "u-call", ConvoID: "c-call"})
	if _, err := outer.Process(ctx, map[string]any{"q": 1}); err != nil {
		t.Fatal(err)
	}
	flush(t, cl)
	spans := capt.spans(t)
	if len(spans) != 4 {
		t.Fatalf("want 4 spans (outer, inner, lm, tool), got %d", len(spans))
	}
	for _, s := range spans {
		if u := attr(s, "traceloop.association.properties.user_id"); u != "u-call" {
			t.Errorf("span %v: user %q, want the call's u-call", s["name"], u)
		}
		if c := attr(s, "traceloop.association.properties.convo_id"); c != "c-call" {
			t.Errorf("span %v: convo %q, want the call's c-call", s["name"], c)
		}
	}
}

// TestWrappedModuleContext: the context a wrapped module (and a span's code)
// receives is the caller's with the call added (the call's node is that
// context): values, deadline, cancellation and contexts derived inside behave
// as with context.WithValue, and a given event id is the call's.
func TestWrappedModuleContext(t *testing.T) {
	capt := newCapture(t)
	cl := newTestClient(t, capt)
	type key struct{}
	deadline := time.Now().Add(time.Hour)
	parent, cancel := context.WithDeadline(context.WithValue(context.Background(), key{}, "v"), deadline)
	defer cancel()
	id := NewEventID()
	parent = WithCallOptions(parent, CallOptions{EventID: id})
	ran := false
	m := cl.Wrap("m", ModuleFunc(func(ctx context.Context, in map[string]any) (map[string]any, error) {
		ran = true
		if ctx.Value(key{}) != "v" {
			t.Error("the caller's context value is lost inside the call")
		}
		if d, ok := ctx.Deadline(); !ok || !d.Equal(deadline) {
			t.Errorf("deadline inside the call: %v %v", d, ok)
		}
		if EventID(ctx) != id {
			t.Errorf("EventID(ctx) = %q, want the given %q", EventID(ctx), id)
		}
		sctx, span := StartSpan(ctx, KindTool, "tool", nil)
		if sctx.Value(key{}) != "v" || EventID(sctx) != id || span.EventID() != id {
			t.Error("the span's context lost the caller's value or the event id")
		}
		if s := fmt.Sprint(sctx); !strings.Contains(s, "WithValue(raindrop call)") {
			t.Errorf("fmt of the context: %q", s)
		}
		child, stop := context.WithCancel(sctx)
		defer stop()
		cancel() // cancels child at once: context found the cancelCtx through the call's contexts
		select {
		case <-child.Done():
		default:
			t.Error("cancelling the caller's context did not cancel a context derived inside the call")
		}
		if !errors.Is(ctx.Err(), context.Canceled) || !errors.Is(sctx.Err(), context.Canceled) {
			t.Errorf("Err inside the call: %v, %v", ctx.Err(), sctx.Err())
		}
		span.End(SpanResult{})
		return map[string]any{"a": 1}, nil
	}))
	if _, err := m.Process(parent, map[string]any{"q": 1}); err != nil || !ran {
		t.Fatal(err, ran)
	}
	flush(t, cl)
	if evs := capt.events(t); len(evs) != 1 || str(evs[0]["event_id"]) != id {
		t.Errorf("want one event with id %s, got %v", id, evs)
	}
}

// TestRefusedCallLogsTheCoresMessage: a call the core refuses runs
// unrecorded, and the warning carries the core's own message (handed back by
// the begin helper in its result).
func TestRefusedCallLogsTheCoresMessage(t *testing.T) {
	capt := newCapture(t)
	var buf strings.Builder
	var mu sync.Mutex
	logger := log.New(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return buf.Write(p)
	}), "", 0)
	cl := newTestClient(t, capt, func(c *Config) { c.Logger = logger })
	ran := false
	m := cl.Wrap("m", ModuleFunc(func(ctx context.Context, in map[string]any) (map[string]any, error) {
		ran = true
		if EventID(ctx) != "" {
			t.Error("a refused call has no event id")
		}
		return nil, nil
	}))
	ctx := WithCallOptions(context.Background(), CallOptions{EventID: strings.Repeat("x", 300)})
	if _, err := m.Process(ctx, nil); err != nil || !ran {
		t.Fatal(err, ran)
	}
	mu.Lock()
	got := buf.String()
	mu.Unlock()
	if !strings.Contains(got, "rd_wrap_begin: ") || !strings.Contains(got, "event_id") {
		t.Errorf("warning without the core's message: %q", got)
	}
}
