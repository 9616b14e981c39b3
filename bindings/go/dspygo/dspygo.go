// Package dspygo records dspy-go (github.com/XiaoConstantine/dspy-go) modules
// with the Raindrop Go binding.
//
//	client, _ := raindrop.New(raindrop.Config{})
//	qa := dspygo.Wrap(client, "qa", modules.NewPredict(sig))
//	out, err := qa.Process(ctx, map[string]any{"question": "..."})
//
// Wrap records one event per top-level Process call (and a child span when a
// wrapped module runs inside another one, through the context). Interceptor
// does the same as a dspy-go ModuleInterceptor, and WrapLLM turns every LLM
// call into an LM span with exact token usage.
package dspygo

import (
	"context"

	"github.com/XiaoConstantine/dspy-go/pkg/core"
	raindrop "github.com/raindrop-dspy/raindrop-dspy/bindings/go"
)

// Module is a dspy-go module recorded by a Raindrop client. Every core.Module
// method except Process and Clone is the wrapped module's own.
type Module struct {
	core.Module
	client *raindrop.Client
	name   string
}

// Wrap returns m recorded by client under name (m.GetDisplayName() when
// name is ""). Outputs and errors pass through unchanged.
func Wrap(client *raindrop.Client, name string, m core.Module) *Module {
	if name == "" {
		name = m.GetDisplayName()
	}
	return &Module{Module: m, client: client, name: name}
}

// Unwrap returns the wrapped module.
func (w *Module) Unwrap() core.Module { return w.Module }

// Process runs the wrapped module inside a Raindrop call.
func (w *Module) Process(ctx context.Context, inputs map[string]any, opts ...core.Option) (map[string]any, error) {
	return record(ctx, w.client, w.name, inputs, func(ctx context.Context, in map[string]any) (map[string]any, error) {
		return w.Module.Process(ctx, in, opts...)
	})
}

// Clone clones the wrapped module and keeps it recorded.
func (w *Module) Clone() core.Module {
	return &Module{Module: w.Module.Clone(), client: w.client, name: w.name}
}

// Interceptor returns a dspy-go ModuleInterceptor that records every module
// it intercepts (install it with SetInterceptors or pass it per call to
// ProcessWithInterceptors). Nested intercepted modules become child spans.
func Interceptor(client *raindrop.Client) core.ModuleInterceptor {
	return func(ctx context.Context, inputs map[string]any, info *core.ModuleInfo, handler core.ModuleHandler, opts ...core.Option) (map[string]any, error) {
		name := "module"
		if info != nil && info.ModuleName != "" {
			name = info.ModuleName
		} else if info != nil && info.ModuleType != "" {
			name = info.ModuleType
		}
		return record(ctx, client, name, inputs, func(ctx context.Context, in map[string]any) (map[string]any, error) {
			return handler(ctx, in, opts...)
		})
	}
}

// record runs fn as a wrapped Raindrop call. Each call gets its own dspy-go
// execution state, so the model and token usage Predict stores there belong to
// this call only; they are reported unless LM spans (WrapLLM) already did.
func record(ctx context.Context, client *raindrop.Client, name string, inputs map[string]any,
	fn func(context.Context, map[string]any) (map[string]any, error)) (map[string]any, error) {
	inner := raindrop.ModuleFunc(func(ctx context.Context, in map[string]any) (map[string]any, error) {
		ctx = core.WithFreshExecutionState(ctx)
		out, err := fn(ctx, in)
		if !raindrop.UsageRecorded(ctx) {
			if st := core.GetExecutionState(ctx); st != nil {
				u := raindrop.Usage{Model: st.GetModelID(),
					PromptTokens: raindrop.TokensUnknown, CompletionTokens: raindrop.TokensUnknown}
				if tu := st.GetTokenUsage(); tu != nil {
					u.PromptTokens = int64(tu.PromptTokens)
					u.CompletionTokens = int64(tu.CompletionTokens)
				}
				raindrop.Report(ctx, u)
			}
		}
		return out, err
	})
	return client.Wrap(name, inner).Process(ctx, inputs)
}

// LLM is a core.LLM whose Generate and GenerateWithContent calls are recorded
// as LM spans (model, prompt, completion, token usage, finish reason) under
// the wrapped call of the context. Other methods are the wrapped LLM's own.
type LLM struct {
	core.LLM
}

// WrapLLM returns llm with its generation calls recorded as LM spans. Outside
// a wrapped call it behaves exactly like llm.
func WrapLLM(llm core.LLM) *LLM { return &LLM{LLM: llm} }

// Generate records one LM span around the wrapped Generate.
func (l *LLM) Generate(ctx context.Context, prompt string, options ...core.GenerateOption) (*core.LLMResponse, error) {
	ctx, span := raindrop.StartSpan(ctx, raindrop.KindLM, l.LLM.ModelID(), prompt)
	resp, err := l.LLM.Generate(ctx, prompt, options...)
	span.End(l.result(resp, err))
	return resp, err
}

// GenerateWithContent records one LM span around the wrapped call.
func (l *LLM) GenerateWithContent(ctx context.Context, content []core.ContentBlock, options ...core.GenerateOption) (*core.LLMResponse, error) {
	ctx, span := raindrop.StartSpan(ctx, raindrop.KindLM, l.LLM.ModelID(), content)
	resp, err := l.LLM.GenerateWithContent(ctx, content, options...)
	span.End(l.result(resp, err))
	return resp, err
}

func (l *LLM) result(resp *core.LLMResponse, err error) raindrop.SpanResult {
	r := raindrop.SpanResult{Model: l.LLM.ModelID(), Err: err,
		PromptTokens: raindrop.TokensUnknown, CompletionTokens: raindrop.TokensUnknown}
	if resp != nil {
		r.Output = resp.Content
		if resp.Usage != nil {
			r.PromptTokens = int64(resp.Usage.PromptTokens)
			r.CompletionTokens = int64(resp.Usage.CompletionTokens)
		}
		if fr, ok := resp.Metadata["finish_reason"].(string); ok {
			r.FinishReason = fr
		}
	}
	return r
}
