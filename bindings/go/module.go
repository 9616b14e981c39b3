//go:build cgo

package raindrop

import (
	"context"
	"fmt"
	"sync/atomic"
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

// CallOptions are per-call overrides for top-level wrapped calls, attached to
// the context with WithCallOptions. Nested calls ignore them.
//
// Every top-level call made with the context uses UserID, ConvoID, EventName,
// Properties and Attachments. EventID is used once: the first call takes it,
// later calls with the same context get fresh ids, so an event id is never
// sent twice (the API would drop the second event as a duplicate).
type CallOptions struct {
	EventID     string // the first call's event id (e.g. from NewEventID); later calls get fresh ones
	UserID      string // default: Config.UserID, then "unknown"
	ConvoID     string
	EventName   string // default: Config.EventName ("ai_generation")
	Properties  map[string]any
	Attachments []Attachment
}

type callOptionsKey struct{}

// callOptions is what WithCallOptions stores: the options and whether a call
// already took the event id.
type callOptions struct {
	CallOptions
	idTaken atomic.Bool
}

var noCallOptions = &CallOptions{}

// WithCallOptions returns a context whose top-level wrapped calls use o (the
// event id only for the first of them: see CallOptions).
func WithCallOptions(ctx context.Context, o CallOptions) context.Context {
	return context.WithValue(ctx, callOptionsKey{}, &callOptions{CallOptions: o})
}

// callOptionsFrom returns the options in ctx and the event id this call may
// use ("" once another call took it).
func callOptionsFrom(ctx context.Context) (*CallOptions, string) {
	o, _ := ctx.Value(callOptionsKey{}).(*callOptions)
	if o == nil {
		return noCallOptions, ""
	}
	if o.EventID == "" || o.idTaken.Swap(true) {
		return &o.CallOptions, ""
	}
	return &o.CallOptions, o.EventID
}

// Wrap returns a Module that records every call of m.
//
// A call made with a context that holds no call of this client is a top-level
// call: it sends one event (input: the JSON of inputs, output: the JSON of the
// outputs, model / tokens / finish reason added up by the core from the LM
// spans under the call: StartSpan(KindLM), Report, or well-known output keys)
// and starts a trace. A wrapped module called with the context
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
	// the key sets its inputs and outputs had last (keyHint)
	inKeys, outKeys keyHint
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
	eventID := ""
	if parent == nil {
		opts, eventID = callOptionsFrom(ctx)
	}
	in := w.c.textMap(inputs, &w.inKeys, parent)
	n, err := w.c.beginCall(ctx, parent, w.name, in.text, eventID, opts)
	if err != nil {
		in.release(parent)
		w.c.warnRefused(err)
		return w.m.Process(ctx, inputs)
	}
	n.inClean = in.clean
	in.release(n) // the core has copied the text: its buffer is lent to what runs under the call, then its outputs
	ended := false
	defer func() {
		if !ended {
			w.recordPanic(n, opts, recover())
		}
	}()
	out, err := w.m.Process(n, inputs) // n: ctx carrying the call
	ended = true

	output := w.c.textMap(out, &w.outKeys, n)
	r := callResult{output: output.text, clean: output.clean}
	if err != nil {
		r.errType = fmt.Sprintf("%T", err)
		r.errMsg = err.Error()
	}
	if !n.lmBelow.Load() && !output.noUsageKeys {
		// usage found in the outputs is one LM call's, recorded as Report does
		if u := usageFromOutputs(out); u.known() {
			n.report(u)
		}
	}
	n.end(r, opts)
	output.release(n.parent)
	return out, err
}

// recordPanic runs in a deferred call while the module panics (or calls
// runtime.Goexit), with the recovered value v: it records the failure and lets
// the panic go on with the same value. A panic that comes up from a nested
// wrapped module names that module: the innermost one records it first and
// tells its parent.
func (w *wrappedModule) recordPanic(n *node, opts *CallOptions, v any) {
	if v == nil { // runtime.Goexit: nothing to re-raise
		n.end(callResult{errType: "panic", errMsg: "module " + w.name + " exited (runtime.Goexit)"}, opts)
		return
	}
	module, msg := w.name, fmt.Sprint(v)
	if inner := n.panicFrom(v); inner != "" {
		module = inner
	}
	if n.parent != nil {
		n.parent.setPanic(module, v)
	}
	n.end(callResult{errType: "panic", errMsg: "module " + module + " panicked: " + msg}, opts)
	panic(v)
}

// isUsageKey reports whether usageFromOutputs reads the top-level output key k
// (the encoder notes whether a small output map has any: when none, the
// lookups are skipped).
func isUsageKey(k string) bool {
	switch k {
	case "model", "finish_reason", "prompt_tokens", "input_tokens", "completion_tokens", "output_tokens", "usage":
		return true
	}
	return false
}

// usageFromOutputs reads well-known output keys: "model", "finish_reason",
// "prompt_tokens" / "completion_tokens" (also "input_tokens" /
// "output_tokens"), at the top level or inside a "usage" map (isUsageKey).
func usageFromOutputs(out map[string]any) Usage {
	u := noUsage
	if out == nil {
		return u
	}
	u.Model, _ = out["model"].(string)
	u.FinishReason, _ = out["finish_reason"].(string)
	read := func(m map[string]any) {
		for _, k := range []string{"prompt_tokens", "input_tokens"} {
			if v, ok := toInt64(m[k]); ok && u.PromptTokens < 0 {
				u.PromptTokens = v
			}
		}
		for _, k := range []string{"completion_tokens", "output_tokens"} {
			if v, ok := toInt64(m[k]); ok && u.CompletionTokens < 0 {
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
