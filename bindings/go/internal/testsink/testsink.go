// Package testsink runs the repository's one loopback test sink (examples/sink.rs, built as
// target/release/examples/sink; tests/README.md) for the Go tests: it starts the program, reads
// the requests it dumps (one JSON line each) and scripts its replies through its control
// endpoint. The sink stops with the test, or with this process however it ends (--exit-on-eof).
package testsink

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Request is one request the sink received (recorded before it answered).
type Request struct {
	Method  string            `json:"method"`
	Path    string            `json:"path"`
	Route   string            `json:"route"`   // "events/track", "traces", ... or the raw path
	Headers map[string]string `json:"headers"` // lower-case names
	Body    string            `json:"body"`
}

// Sink is a running sink program.
type Sink struct {
	URL   string // base URL for Config.Endpoint: http://127.0.0.1:PORT/v1/
	port  int
	dump  string
	stdin io.WriteCloser
	cmd   *exec.Cmd
}

// Program is the sink's path: $RD_SINK, or target/release/examples/sink in this repository.
func Program() string {
	if p := os.Getenv("RD_SINK"); p != "" {
		return p
	}
	_, file, _, _ := runtime.Caller(0) // bindings/go/internal/testsink/testsink.go
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "..", "target", "release", "examples", "sink")
}

// Start starts a sink for t; it stops (hanging requests and all) when t ends.
func Start(t testing.TB) *Sink {
	t.Helper()
	prog := Program()
	if _, err := os.Stat(prog); err != nil {
		t.Fatalf("the test sink %s is missing (make sink): %v", prog, err)
	}
	dir := t.TempDir()
	s := &Sink{dump: filepath.Join(dir, "requests.jsonl")}
	portFile := filepath.Join(dir, "port")
	s.cmd = exec.Command(prog, "--port-file", portFile, "--dump", s.dump, "--exit-on-eof")
	s.cmd.Stderr = os.Stderr
	var err error
	if s.stdin, err = s.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start the test sink: %v", err)
	}
	t.Cleanup(s.stop)
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, err := os.ReadFile(portFile)
		if err == nil {
			if s.port, err = strconv.Atoi(strings.TrimSpace(string(b))); err != nil {
				t.Fatalf("port file: %q", b)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the test sink did not start")
		}
		time.Sleep(5 * time.Millisecond)
	}
	s.URL = "http://127.0.0.1:" + strconv.Itoa(s.port) + "/v1/"
	return s
}

func (s *Sink) stop() {
	_ = s.stdin.Close()
	_ = s.cmd.Wait()
}

// Requests returns every request received so far, in arrival order.
func (s *Sink) Requests(t testing.TB) []Request {
	t.Helper()
	b, err := os.ReadFile(s.dump)
	if err != nil {
		t.Fatalf("read the sink's dump: %v", err)
	}
	var out []Request
	// Only whole lines: the sink may be writing the next one.
	lines := strings.Split(string(b), "\n")
	for _, line := range lines[:len(lines)-1] {
		var r Request
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("sink dump line %q: %v", line, err)
		}
		out = append(out, r)
	}
	return out
}

func (s *Sink) control(t testing.TB, what string, body any) {
	t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post("http://127.0.0.1:"+strconv.Itoa(s.port)+"/_sink/"+what, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatalf("sink control %s: %v", what, err)
	}
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("sink control %s: %d %s", what, resp.StatusCode, msg)
	}
}

// Script queues replies for route ("*": any route), e.g. {"status": 429, "headers":
// {"Retry-After": "1"}}, {"hang": true}, {"close": true}, {"garbage": true}, {"delay_ms": 50}.
func (s *Sink) Script(t testing.TB, route string, replies ...map[string]any) {
	t.Helper()
	s.control(t, "script", map[string]any{"route": route, "replies": replies})
}

// Fallback sets the reply used on route ("*": any route) when no script is queued.
func (s *Sink) Fallback(t testing.TB, route string, reply map[string]any) {
	t.Helper()
	s.control(t, "script", map[string]any{"route": route, "fallback": reply})
}

// HangAll makes every following request hang until Release.
func (s *Sink) HangAll(t testing.TB) { t.Helper(); s.Fallback(t, "*", map[string]any{"hang": true}) }

// Release answers every hanging request (200) and resets the fallbacks.
func (s *Sink) Release(t testing.TB) { t.Helper(); s.control(t, "release", nil) }
