package raindrop

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/raindrop-dspy/raindrop-dspy/bindings/go/internal/testsink"
)

// capture is the loopback Raindrop API of the tests: the repository's test sink program
// (internal/testsink), which records every request.
type capture struct {
	*testsink.Sink
	t *testing.T
}

type capturedRequest struct {
	Path   string
	Header http.Header
	Body   []byte
}

func newCapture(t *testing.T) *capture {
	t.Helper()
	return &capture{Sink: testsink.Start(t), t: t}
}

// hangAll makes every following request block until release.
func (c *capture) hangAll() { c.t.Helper(); c.HangAll(c.t) }

func (c *capture) release() { c.t.Helper(); c.Release(c.t) }

func (c *capture) requests(routeSuffix string) []capturedRequest {
	c.t.Helper()
	var out []capturedRequest
	for _, r := range c.Requests(c.t) {
		if strings.HasSuffix(r.Path, routeSuffix) {
			h := http.Header{}
			for k, v := range r.Headers {
				h.Set(k, v)
			}
			out = append(out, capturedRequest{Path: r.Path, Header: h, Body: []byte(r.Body)})
		}
	}
	return out
}

// items returns every JSON object sent to a route (arrays are flattened).
func (c *capture) items(t *testing.T, routeSuffix string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, r := range c.requests(routeSuffix) {
		var v any
		if err := json.Unmarshal(r.Body, &v); err != nil {
			t.Fatalf("%s: body is not JSON: %v: %s", r.Path, err, r.Body)
		}
		switch x := v.(type) {
		case []any:
			for _, it := range x {
				out = append(out, it.(map[string]any))
			}
		case map[string]any:
			out = append(out, x)
		}
	}
	return out
}

func (c *capture) events(t *testing.T) []map[string]any { return c.items(t, "/events/track") }

// spans returns every OTLP span sent to the traces route.
func (c *capture) spans(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, req := range c.items(t, "/traces") {
		for _, rs := range asList(req["resourceSpans"]) {
			for _, ss := range asList(asMap(rs)["scopeSpans"]) {
				for _, sp := range asList(asMap(ss)["spans"]) {
					out = append(out, asMap(sp))
				}
			}
		}
	}
	return out
}

func asList(v any) []any         { l, _ := v.([]any); return l }
func asMap(v any) map[string]any { m, _ := v.(map[string]any); return m }

// attr returns a span attribute's value as a string ("" when absent).
func attr(span map[string]any, key string) string {
	for _, a := range asList(span["attributes"]) {
		m := asMap(a)
		if m["key"] != key {
			continue
		}
		for _, v := range asMap(m["value"]) {
			switch x := v.(type) {
			case string:
				return x
			default:
				b, _ := json.Marshal(x)
				return string(b)
			}
		}
	}
	return ""
}

// newTestClient returns a client sending to the capture server, closed at
// the end of the test.
func newTestClient(t *testing.T, c *capture, adjust ...func(*Config)) *Client {
	t.Helper()
	cfg := Config{
		APIKey:        "test-key",
		Endpoint:      c.URL,
		FlushInterval: 20 * time.Millisecond,
	}
	for _, f := range adjust {
		f(&cfg)
	}
	cl, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = cl.Close() })
	return cl
}

func flush(t *testing.T, cl *Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := cl.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}
}

func str(v any) string { s, _ := v.(string); return s }

// path reads a nested field: path(ev, "ai_data", "input").
func path(m map[string]any, keys ...string) any {
	var v any = m
	for _, k := range keys {
		v = asMap(v)[k]
	}
	return v
}
