package raindrop

import (
	"context"
	"fmt"
)

// Module is a DSPy-style program step: named inputs in, named outputs out.
type Module interface {
	Process(ctx context.Context, inputs map[string]any) (map[string]any, error)
}

// ModuleFunc adapts a function to Module.
type ModuleFunc func(ctx context.Context, inputs map[string]any) (map[string]any, error)

// Process calls f.
func (f ModuleFunc) Process(ctx context.Context, inputs map[string]any) (map[string]any, error) {
	return f(ctx, inputs)
}

// CallOptions are per-call overrides for a top-level wrapped call, attached to
// the context with WithCallOptions. Nested calls ignore them.
type CallOptions struct {
	EventID     string // use this event id (e.g. from NewEventID) instead of a fresh one
	UserID      string // default: Config.UserID, then "unknown"
	ConvoID     string
	EventName   string // default: Config.EventName ("ai_generation")
	Properties  map[string]any
	Attachments []Attachment
}

type callOptionsKey struct{}

// WithCallOptions returns a context whose next top-level wrapped call uses o.
func WithCallOptions(ctx context.Context, o CallOptions) context.Context {
	return context.WithValue(ctx, callOptionsKey{}, &o)
}

func callOptionsFrom(ctx context.Context) *CallOptions {
	o, _ := ctx.Value(callOptionsKey{}).(*CallOptions)
	if o == nil {
		return &CallOptions{}
	}
	return o
}

// Wrap returns a Module that records every call of m.
//
// A call made with a context that holds no call of this client is a top-level
// call: it sends one event (input: the JSON of inputs, output: the JSON of the
// outputs, model / tokens / finish reason from Report, LM spans or well-known
// output keys) and starts a trace. A wrapped module called with the context
// its enclosing wrapped module received (or one derived from it) becomes a
// child span of that call and sends no event of its own.
//
// The module's outputs and error are returned unchanged (the same error value,
// so errors.Is / errors.As keep working); a failed call is recorded with
// error.type (the Go type of the error, as %T prints it) and error.message.
// Telemetry never makes the call fail: when the core refuses the call (client
// closed, too many open calls), m runs unrecorded.
func (c *Client) Wrap(name string, m Module) Module {
	return &wrappedModule{c: c, name: name, m: m}
}

type wrappedModule struct {
	c    *Client
	name string
	m    Module
}

func (w *wrappedModule) Process(ctx context.Context, inputs map[string]any) (map[string]any, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	parent := nodeFrom(ctx)
	if parent != nil && parent.c != w.c {
		parent = nil // a call of another client: start a new trace here
	}
	var opts *CallOptions
	if parent == nil {
		opts = callOptionsFrom(ctx)
	}
	eventID := ""
	if opts != nil {
		eventID = opts.EventID
	}
	n, err := w.c.beginCall(parent, w.name, toJSON(inputs), eventID)
	if err != nil {
		w.c.warnRefused(err)
		return w.m.Process(ctx, inputs)
	}
	ended := false
	defer func() {
		if !ended { // the module panicked: record it, let the panic go on
			n.end(callResult{errType: "panic", errMsg: "module " + w.name + " panicked"}, opts)
		}
	}()
	out, err := w.m.Process(withNode(ctx, n), inputs)
	ended = true

	r := callResult{}
	if out != nil {
		r.output = toJSON(out)
	}
	if err != nil {
		r.errType = fmt.Sprintf("%T", err)
		r.errMsg = err.Error()
	}
	if !n.hasUsage() {
		n.add(usageFromOutputs(out))
	}
	n.end(r, opts)
	return out, err
}

// usageFromOutputs reads well-known output keys: "model", "finish_reason",
// "prompt_tokens" / "completion_tokens" (also "input_tokens" /
// "output_tokens"), at the top level or inside a "usage" map.
func usageFromOutputs(out map[string]any) Usage {
	var u Usage
	if out == nil {
		return u
	}
	u.Model, _ = out["model"].(string)
	u.FinishReason, _ = out["finish_reason"].(string)
	read := func(m map[string]any) {
		for _, k := range []string{"prompt_tokens", "input_tokens"} {
			if v, ok := toInt64(m[k]); ok && u.PromptTokens == 0 {
				u.PromptTokens = v
			}
		}
		for _, k := range []string{"completion_tokens", "output_tokens"} {
			if v, ok := toInt64(m[k]); ok && u.CompletionTokens == 0 {
				u.CompletionTokens = v
			}
		}
	}
	read(out)
	switch m := out["usage"].(type) {
	case map[string]any:
		read(m)
	case map[string]int:
		mm := make(map[string]any, len(m))
		for k, v := range m {
			mm[k] = v
		}
		read(mm)
	}
	return u
}

func toInt64(v any) (int64, bool) {
	switch x := v.(type) {
	case int:
		return int64(x), true
	case int32:
		return int64(x), true
	case int64:
		return x, true
	case uint32:
		return int64(x), true
	case uint64:
		return int64(x), true
	case float64:
		return int64(x), true
	case float32:
		return int64(x), true
	}
	return 0, false
}
