package dspygo

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/XiaoConstantine/dspy-go/pkg/core"
	"github.com/XiaoConstantine/dspy-go/pkg/modules"
	raindrop "github.com/raindrop-dspy/raindrop-dspy/bindings/go"
	"github.com/raindrop-dspy/raindrop-dspy/bindings/go/internal/testsink"
)

// fakeLLM is an offline core.LLM: only Generate and ModelID are implemented.
type fakeLLM struct {
	core.LLM
	answer string
	err    error
	calls  int
	mu     sync.Mutex
}

func (f *fakeLLM) ModelID() string { return "fake-model-1" }

func (f *fakeLLM) Generate(ctx context.Context, prompt string, _ ...core.GenerateOption) (*core.LLMResponse, error) {
	f.mu.Lock()
	f.calls++
	f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	return &core.LLMResponse{
		Content:  "answer:\n" + f.answer,
		Usage:    &core.TokenInfo{PromptTokens: 30, CompletionTokens: 4, TotalTokens: 34},
		Metadata: map[string]any{"finish_reason": "stop"},
	}, nil
}

// sink is the repository's loopback test sink program (bindings/go/internal/testsink).
type sink struct {
	*testsink.Sink
	t *testing.T
}

func newSink(t *testing.T) *sink { return &sink{Sink: testsink.Start(t), t: t} }

// bodies returns the bodies received on a route, in order.
func (s *sink) bodies(route string) [][]byte {
	var out [][]byte
	for _, r := range s.Requests(s.t) {
		if r.Route == route {
			out = append(out, []byte(r.Body))
		}
	}
	return out
}

func (s *sink) events(t *testing.T) []map[string]any {
	var out []map[string]any
	for _, b := range s.bodies("events/track") {
		var items []map[string]any
		if err := json.Unmarshal(b, &items); err != nil {
			t.Fatalf("events body: %v", err)
		}
		out = append(out, items...)
	}
	return out
}

func (s *sink) spanNames() []string {
	var names []string
	for _, b := range s.bodies("traces") {
		var req struct {
			ResourceSpans []struct {
				ScopeSpans []struct {
					Spans []struct {
						Name string `json:"name"`
					} `json:"spans"`
				} `json:"scopeSpans"`
			} `json:"resourceSpans"`
		}
		_ = json.Unmarshal(b, &req)
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				for _, sp := range ss.Spans {
					names = append(names, sp.Name)
				}
			}
		}
	}
	return names
}

func newClient(t *testing.T, s *sink) *raindrop.Client {
	c, err := raindrop.New(raindrop.Config{APIKey: "k", Endpoint: s.URL, FlushInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func flush(t *testing.T, c *raindrop.Client) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

func qaSignature() core.Signature {
	return core.NewSignature(
		[]core.InputField{{Field: core.NewField("question")}},
		[]core.OutputField{{Field: core.NewField("answer")}},
	)
}

func prop(ev map[string]any, k string) any { return ev["properties"].(map[string]any)[k] }

func aiData(ev map[string]any, k string) string {
	s, _ := ev["ai_data"].(map[string]any)[k].(string)
	return s
}

func TestWrapPredictUsesExecutionState(t *testing.T) {
	s := newSink(t)
	c := newClient(t, s)
	p := modules.NewPredict(qaSignature())
	p.SetLLM(&fakeLLM{answer: "Paris"})
	qa := Wrap(c, "qa", p)
	var _ core.Module = qa

	out, err := qa.Process(context.Background(), map[string]any{"question": "Capital of France?"})
	if err != nil {
		t.Fatal(err)
	}
	if out["answer"] != "Paris" {
		t.Fatalf("outputs = %v", out)
	}
	flush(t, c)
	evs := s.events(t)
	if len(evs) != 1 {
		t.Fatalf("want 1 event, got %d", len(evs))
	}
	ev := evs[0]
	if aiData(ev, "input") != `{"question":"Capital of France?"}` || !strings.Contains(aiData(ev, "output"), "Paris") {
		t.Errorf("ai_data = %v", ev["ai_data"])
	}
	if aiData(ev, "model") != "fake-model-1" || prop(ev, "ai.usage.prompt_tokens") != 30.0 || prop(ev, "ai.usage.completion_tokens") != 4.0 {
		t.Errorf("model/usage from execution state: %v / %v", ev["ai_data"], ev["properties"])
	}
	if qa.GetSignature().Outputs[0].Name != "answer" {
		t.Error("core.Module methods must delegate")
	}
	if _, ok := qa.Clone().(*Module); !ok {
		t.Error("Clone must stay wrapped")
	}
}

func TestWrapLLMSpansAndNesting(t *testing.T) {
	s := newSink(t)
	c := newClient(t, s)
	llm := WrapLLM(&fakeLLM{answer: "42"})
	p1 := modules.NewPredict(qaSignature())
	p1.SetLLM(llm)
	p2 := modules.NewPredict(qaSignature())
	p2.SetLLM(llm)
	step1 := Wrap(c, "step1", p1)
	step2 := Wrap(c, "step2", p2)
	program := c.Wrap("program", raindrop.ModuleFunc(func(ctx context.Context, in map[string]any) (map[string]any, error) {
		a, err := step1.Process(ctx, in)
		if err != nil {
			return nil, err
		}
		return step2.Process(ctx, map[string]any{"question": a["answer"]})
	}))
	out, err := program.Process(context.Background(), map[string]any{"question": "meaning of life?"})
	if err != nil || out["answer"] != "42" {
		t.Fatalf("Process = %v, %v", out, err)
	}
	flush(t, c)
	evs := s.events(t)
	if len(evs) != 1 {
		t.Fatalf("nested modules: want 1 event, got %d", len(evs))
	}
	// Two LM calls of 30+4 tokens, counted once each.
	if prop(evs[0], "ai.usage.prompt_tokens") != 60.0 || prop(evs[0], "ai.usage.completion_tokens") != 8.0 || prop(evs[0], "dspy.finish_reason") != "stop" {
		t.Errorf("usage: %v", evs[0]["properties"])
	}
	names := strings.Join(s.spanNames(), ",")
	for _, want := range []string{"program", "step1", "step2", "fake-model-1"} {
		if !strings.Contains(names, want) {
			t.Errorf("span %q missing from %s", want, names)
		}
	}
}

func TestInterceptorAndErrors(t *testing.T) {
	s := newSink(t)
	c := newClient(t, s)
	llmErr := errors.New("provider down")
	p := modules.NewPredict(qaSignature())
	p.SetLLM(&fakeLLM{err: llmErr})
	_, err := p.ProcessWithInterceptors(context.Background(), map[string]any{"question": "?"},
		[]core.ModuleInterceptor{Interceptor(c)})
	if err == nil {
		t.Fatal("want an error")
	}
	flush(t, c)
	evs := s.events(t)
	if len(evs) != 1 {
		t.Fatalf("want 1 event, got %d", len(evs))
	}
	if prop(evs[0], "error.type") == nil || !strings.Contains(prop(evs[0], "error.message").(string), "provider down") {
		t.Errorf("error not recorded: %v", evs[0]["properties"])
	}
}
