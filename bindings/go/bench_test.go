package raindrop

import (
	"context"
	"runtime"
	"strings"
	"testing"
)

// The wrapped-call benchmarks of docs/benchmarks.md: each Go benchmark has a
// C twin making the same rd_* calls with the same (pre-encoded) texts, so the
// difference is what the Go layer costs. Inputs and outputs are 1 KB of text,
// tracing is on, the sink is the core's file:// sink writing to /dev/null
// (benchSink: the full serialisation and write cost, nothing kept; a file
// sink on disk once grew to 28 GB under BenchmarkHugeInput). Both run in chunks with
// a flush between them, outside the timer, so the queue never fills (a dropped
// item costs less than a queued one and would flatter the numbers).
//
//	go test -run '^$' -bench 'Wrapped' -benchtime 30000x -count 3 .
//	go test -run '^$' -bench 'HugeInput' -benchtime 100x -count 3 .

var (
	benchQuestion = strings.Repeat("q", 1000)
	benchAnswer   = strings.Repeat("a", 1000)
)

// chunks calls f(n) for b.N iterations in chunks of at most chunk calls (fewer
// than the queue holds), flushing between them with the timer stopped. Besides ns/op (wall time, which the sender thread and
// other processes on the machine disturb) it reports cpu-ns/op: the CPU time
// of the calling thread, what a call costs its caller.
func chunks(b *testing.B, cl *Client, chunk int, f func(n int)) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var cpu int64
	b.ResetTimer()
	for done := 0; done < b.N; {
		n := min(chunk, b.N-done)
		t0 := threadCPUNanos()
		f(n)
		cpu += threadCPUNanos() - t0
		done += n
		b.StopTimer()
		if err := cl.Flush(context.Background()); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/op")
}

// benchSink is the endpoint of every benchmark: a discarding sink. Never a file
// on disk: benchmarks send without bound.
const benchSink = "file:///dev/null"

func benchClient(b *testing.B) *Client {
	cl, err := New(Config{APIKey: "k", Endpoint: benchSink})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cl.Close() })
	return cl
}

func benchWrapped(b *testing.B, nested bool) {
	cl := benchClient(b)
	out := map[string]any{"answer": benchAnswer}
	lm := ModuleFunc(func(ctx context.Context, in map[string]any) (map[string]any, error) {
		_, span := StartSpan(ctx, KindLM, "lm", in)
		span.End(SpanResult{Output: out, Model: "bench-lm", PromptTokens: 10, CompletionTokens: 5, FinishReason: "stop"})
		return out, nil
	})
	inner := cl.Wrap("inner", lm)
	top := cl.Wrap("bench", ModuleFunc(func(ctx context.Context, in map[string]any) (map[string]any, error) {
		if nested {
			return inner.Process(ctx, in)
		}
		return out, nil
	}))
	in := map[string]any{"question": benchQuestion}
	ctx := context.Background()
	b.ReportAllocs()
	chunks(b, cl, 2000, func(n int) {
		for i := 0; i < n; i++ {
			if _, err := top.Process(ctx, in); err != nil {
				b.Fatal(err)
			}
		}
	})
	if st, _ := cl.Stats(); st.DroppedQueueFull != 0 {
		b.Fatalf("%d items dropped: the numbers would be wrong", st.DroppedQueueFull)
	}
}

func benchC(b *testing.B, nested bool) {
	cl := benchClient(b)
	in := `{"question":"` + benchQuestion + `"}`
	out := `{"answer":"` + benchAnswer + `"}`
	chunks(b, cl, 2000, func(n int) {
		if rc := cBaseline(cl, n, nested, in, out); rc != 0 {
			b.Fatalf("C baseline failed at step %d", rc)
		}
	})
}

func BenchmarkWrappedTopLevelGo(b *testing.B) { benchWrapped(b, false) }
func BenchmarkWrappedTopLevelC(b *testing.B)  { benchC(b, false) }
func BenchmarkWrappedNestedLMGo(b *testing.B) { benchWrapped(b, true) }
func BenchmarkWrappedNestedLMC(b *testing.B)  { benchC(b, true) }

// TestCBaselineRuns keeps the C twin honest: it must make calls the core
// accepts (a benchmark that fails silently measures nothing).
func TestCBaselineRuns(t *testing.T) {
	capt := newCapture(t)
	cl := newTestClient(t, capt)
	if rc := cBaseline(cl, 3, true, `{"q":1}`, `{"a":2}`); rc != 0 {
		t.Fatalf("C baseline failed at step %d", rc)
	}
	flush(t, cl)
	if n := len(capt.events(t)); n != 3 {
		t.Errorf("want 3 events, got %d", n)
	}
}

// BenchmarkHugeInput: a 5 MiB input costs about what the cap costs
// (the core keeps 1,000,000 characters by default).
func BenchmarkHugeInput(b *testing.B) {
	cl := benchClient(b)
	m := cl.Wrap("huge", ModuleFunc(func(ctx context.Context, in map[string]any) (map[string]any, error) {
		return map[string]any{"answer": "short"}, nil
	}))
	in := map[string]any{"question": strings.Repeat("x", 5<<20)}
	ctx := context.Background()
	b.ReportAllocs()
	chunks(b, cl, 16, func(n int) {
		for i := 0; i < n; i++ {
			if _, err := m.Process(ctx, in); err != nil {
				b.Fatal(err)
			}
		}
	})
}
