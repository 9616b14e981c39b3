// Package raindrop is the Go binding of the raindrop-dspy native core: it
// records DSPy-style module calls, LM and tool spans, signals and identify
// calls to Raindrop (https://raindrop.ai) through one background sender per
// client, so recording never waits on the network.
//
// Build the core first (`cargo build --release` in the repository root); the
// package links target/release/libraindrop_dspy.a by full path, so binaries
// are self-contained. Build with -tags raindrop_shared to link the shared
// library instead.
//
// Basic use:
//
//	client, err := raindrop.New(raindrop.Config{APIKey: key, UserID: "user-123"})
//	if err != nil { ... }
//	defer client.Close()
//
//	qa := client.Wrap("qa", raindrop.ModuleFunc(func(ctx context.Context, in map[string]any) (map[string]any, error) {
//		raindrop.Report(ctx, raindrop.Usage{Model: "gpt-4o-mini", PromptTokens: 42, CompletionTokens: 7})
//		return map[string]any{"answer": "..."}, nil
//	}))
//	out, err := qa.Process(ctx, map[string]any{"question": "..."})
//
// Each top-level call of a wrapped module sends one event. A wrapped module
// called with the context its enclosing wrapped module received becomes a
// child span of that call instead (see Client.Wrap). StartSpan records LM and
// tool calls inside a wrapped call.
//
// Every method is safe for concurrent use. Errors from the core are *Error
// values, comparable with errors.Is against ErrQueueFull, ErrInvalidHandle,
// ErrTimeout and the other sentinels.
package raindrop
