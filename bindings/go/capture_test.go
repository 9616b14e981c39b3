package raindrop

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// capture is a loopback Raindrop API that records every request.
type capture struct {
	srv  *httptest.Server
	mu   sync.Mutex
	reqs []capturedRequest
	hang chan struct{} // non-nil: handlers block until it is closed
}

type capturedRequest struct {
	Path   string
	Header http.Header
	Body   []byte
}

func newCapture(t *testing.T) *capture {
	t.Helper()
	c := &capture{}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		c.mu.Lock()
		c.reqs = append(c.reqs, capturedRequest{Path: r.URL.Path, Header: r.Header.Clone(), Body: body})
		hang := c.hang
		c.mu.Unlock()
		if hang != nil {
			select {
			case <-hang:
			case <-r.Context().Done():
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{}`))
	}))
	t.Cleanup(func() {
		c.release()
		c.srv.Close()
	})
	return c
}

// hangAll makes every following request block until release.
func (c *capture) hangAll() {
	c.mu.Lock()
	c.hang = make(chan struct{})
	c.mu.Unlock()
}

func (c *capture) release() {
	c.mu.Lock()
	if c.hang != nil {
		close(c.hang)
		c.hang = nil
	}
	c.mu.Unlock()
}

func (c *capture) requests(routeSuffix string) []capturedRequest {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []capturedRequest
	for _, r := range c.reqs {
		if strings.HasSuffix(r.Path, routeSuffix) {
			out = append(out, r)
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
		Endpoint:      c.srv.URL + "/v1/",
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
