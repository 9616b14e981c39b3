package raindrop

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestConfigJSON(t *testing.T) {
	cfg := Config{APIKey: "k", Endpoint: "http://x/", TracingEnabled: Bool(false), Debug: true,
		MaxBatchEvents: 10, FlushInterval: 1500 * time.Millisecond, ShutdownTimeout: 2 * time.Second}
	b, err := cfg.toJSON()
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	want := map[string]any{"api_key": "k", "endpoint": "http://x/", "tracing_enabled": false, "debug": true,
		"max_batch_events": 10.0, "flush_interval_ms": 1500.0, "shutdown_timeout_ms": 2000.0, "language": "go"}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %v, want %v", k, m[k], v)
		}
	}
	if _, ok := m["bypass_otel_for_tools"]; ok {
		t.Error("unset *bool must be omitted")
	}
	if len(m) != len(want) {
		t.Errorf("unexpected keys: %v", m)
	}
}

func TestVersion(t *testing.T) {
	if Version() == "" {
		t.Fatal("empty version")
	}
}

func TestInvalidConfig(t *testing.T) {
	_, err := New(Config{APIKey: "k", Endpoint: "http://127.0.0.1:1/", MaxBatchEvents: -5})
	if !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("want ErrInvalidConfig, got %v", err)
	}
}

func TestCloseIdempotent(t *testing.T) {
	capt := newCapture(t)
	cl := newTestClient(t, capt)
	if _, err := cl.TrackAI(AIEvent{Input: "in", Output: "out"}); err != nil {
		t.Fatal(err)
	}
	if err := cl.Close(); err != nil {
		t.Fatalf("first Close: %v", err)
	}
	if n := len(capt.events(t)); n != 1 {
		t.Errorf("Close must drain: %d events", n)
	}
	if err := cl.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := cl.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown after Close: %v", err)
	}
	if err := cl.Flush(context.Background()); !errors.Is(err, ErrInvalidHandle) {
		t.Errorf("Flush after Close: %v", err)
	}
	if _, err := cl.TrackAI(AIEvent{Input: "x"}); !errors.Is(err, ErrInvalidHandle) {
		t.Errorf("TrackAI after Close: %v", err)
	}
	// A wrapped module still runs (unrecorded) after Close.
	out, err := cl.Wrap("m", echoModule()).Process(context.Background(), map[string]any{"question": "q"})
	if err != nil || out["answer"] != "re: q" {
		t.Errorf("wrapped module after Close: %v %v", out, err)
	}
}

func TestFlushDeadlineWithHangingServer(t *testing.T) {
	capt := newCapture(t)
	cl := newTestClient(t, capt)
	capt.hangAll()
	if _, err := cl.TrackAI(AIEvent{Input: "in", Output: "out"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := cl.Flush(ctx)
	el := time.Since(start)
	if !errors.Is(err, ErrTimeout) && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Flush with hanging server: %v", err)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("timeout must match context.DeadlineExceeded: %v", err)
	}
	if el > 2*time.Second {
		t.Errorf("Flush took %v, deadline was 300ms", el)
	}
	capt.release()
}

func TestShutdownDeadlineWithHangingServer(t *testing.T) {
	capt := newCapture(t)
	cl := newTestClient(t, capt)
	capt.hangAll()
	for i := 0; i < 5; i++ {
		if _, err := cl.TrackAI(AIEvent{Input: "in", Output: "out"}); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := cl.Shutdown(ctx)
	el := time.Since(start)
	if el > 3*time.Second {
		t.Errorf("Shutdown took %v, deadline was 400ms", el)
	}
	t.Logf("Shutdown with hanging server: %v after %v", err, el)
	capt.release()
	if err := cl.Close(); err != nil {
		t.Errorf("Close after Shutdown: %v", err)
	}
	st, err := cl.Stats()
	if err != nil || st.DroppedShutdown == 0 {
		t.Errorf("the final statistics after Shutdown must show the drop: %+v, %v", st, err)
	}
}

func TestFlushCancelledContext(t *testing.T) {
	capt := newCapture(t)
	cl := newTestClient(t, capt)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := cl.Flush(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Flush with cancelled ctx: %v", err)
	}
}

func TestDisabledWithoutAPIKey(t *testing.T) {
	t.Setenv("RAINDROP_WRITE_KEY", "")
	capt := newCapture(t)
	cl, err := New(Config{Endpoint: capt.URL})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	m := cl.Wrap("m", echoModule())
	if _, err := m.Process(context.Background(), map[string]any{"question": "q"}); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.TrackAI(AIEvent{Input: "x"}); err != nil {
		t.Fatal(err)
	}
	if err := cl.Identify("u", nil); err != nil {
		t.Fatal(err)
	}
	flush(t, cl)
	if len(capt.requests("")) != 0 {
		t.Errorf("disabled client sent %d requests", len(capt.requests("")))
	}
}

func TestFileSink(t *testing.T) {
	p := filepath.Join(t.TempDir(), "sink.jsonl")
	cl, err := New(Config{APIKey: "k", Endpoint: "file://" + p, TracingEnabled: Bool(false)})
	if err != nil {
		t.Fatal(err)
	}
	m := cl.Wrap("m", echoModule())
	if _, err := m.Process(context.Background(), map[string]any{"question": "file"}); err != nil {
		t.Fatal(err)
	}
	if err := cl.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var routes []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var line struct {
			Route string          `json:"route"`
			Body  json.RawMessage `json:"body"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("bad line %q: %v", sc.Text(), err)
		}
		routes = append(routes, line.Route)
		if strings.HasSuffix(line.Route, "events/track") && !strings.Contains(string(line.Body), `re: file`) {
			t.Errorf("event body: %s", line.Body)
		}
	}
	if len(routes) != 1 || !strings.HasSuffix(routes[0], "events/track") {
		t.Errorf("routes = %v", routes)
	}
}

func TestFinalizerShutsDownUnclosedClient(t *testing.T) {
	capt := newCapture(t)
	h := func() rawHandle {
		cl, err := New(Config{APIKey: "k", Endpoint: capt.URL})
		if err != nil {
			t.Fatal(err)
		}
		return rawHandle(cl.h.id)
	}()
	probe := &Client{h: toHandle(h)} // same handle, no finalizer of its own
	deadline := time.Now().Add(10 * time.Second)
	for {
		runtime.GC()
		if _, err := probe.Stats(); errors.Is(err, ErrInvalidHandle) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("unreachable client was not shut down by its finalizer")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestShutdownCancelledContextReturnsCtxErr(t *testing.T) {
	capt := newCapture(t)
	cl := newTestClient(t, capt)
	capt.hangAll()
	for i := 0; i < 3; i++ {
		if _, err := cl.TrackAI(AIEvent{Input: "in", Output: "out"}); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := cl.Shutdown(ctx); !errors.Is(err, context.Canceled) || errors.Is(err, ErrTimeout) {
		t.Errorf("Shutdown with a cancelled ctx = %v, want context.Canceled", err)
	}
	capt.release()
	if _, err := cl.TrackAI(AIEvent{Input: "x"}); !errors.Is(err, ErrInvalidHandle) {
		t.Errorf("the client must be shut down even so: %v", err)
	}
}

func TestLoggerReceivesTheCoreWarnings(t *testing.T) {
	t.Setenv("RAINDROP_WRITE_KEY", "")
	var buf strings.Builder
	var mu sync.Mutex
	logger := log.New(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return buf.Write(p)
	}), "", 0)
	cl, err := New(Config{Endpoint: "http://127.0.0.1:1/v1/", Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.Close(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	got := buf.String()
	mu.Unlock()
	if !strings.Contains(got, "raindrop: warning: no api key") {
		t.Errorf("the core's warning did not reach Config.Logger: %q", got)
	}
}

func TestSlogReceivesTheCoreWarningsWithTheirLevel(t *testing.T) {
	t.Setenv("RAINDROP_WRITE_KEY", "")
	var buf strings.Builder
	var mu sync.Mutex
	h := slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return buf.Write(p)
	}), &slog.HandlerOptions{Level: slog.LevelDebug})
	cl, err := New(Config{Endpoint: "http://127.0.0.1:1/v1/", Slog: slog.New(h)})
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.Close(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	got := buf.String()
	mu.Unlock()
	if !strings.Contains(got, "level=WARN") || !strings.Contains(got, "no api key") {
		t.Errorf("the core's warning did not reach Config.Slog at level WARN: %q", got)
	}
}

// captureStderr runs f with the process's file descriptor 2 (where the core
// writes when no logger was given) redirected to a file, and returns what was
// written there.
func captureStderr(t *testing.T, f func()) string {
	t.Helper()
	tmp, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	defer tmp.Close()
	saved, err := syscall.Dup(2)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Dup3(int(tmp.Fd()), 2, 0); err != nil {
		t.Fatal(err)
	}
	func() {
		defer func() {
			_ = syscall.Dup3(saved, 2, 0)
			_ = syscall.Close(saved)
		}()
		f()
	}()
	b, err := os.ReadFile(tmp.Name())
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestDiscardLoggerSilencesTheCore(t *testing.T) {
	t.Setenv("RAINDROP_WRITE_KEY", "")
	newAndClose := func(logger *log.Logger) {
		cl, err := New(Config{Endpoint: "http://127.0.0.1:1/v1/", Logger: logger})
		if err != nil {
			t.Fatal(err)
		}
		if err := cl.Close(); err != nil {
			t.Fatal(err)
		}
	}
	// Without a logger the core warns on stderr (this shows the capture works).
	if got := captureStderr(t, func() { newAndClose(nil) }); !strings.Contains(got, "no api key") {
		t.Fatalf("no logger: the core's warning must go to stderr, got %q", got)
	}
	if got := captureStderr(t, func() { newAndClose(log.New(io.Discard, "", 0)) }); strings.Contains(got, "no api key") {
		t.Errorf("Config.Logger writing to io.Discard must silence the core, stderr got %q", got)
	}
}
