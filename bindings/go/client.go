package raindrop

/*
#include <stdint.h>
#include "raindrop_dspy.h"

extern void goRaindropLog(void *user_data, rd_log_level level, char *message, size_t message_len);

// rd_go_new creates a client whose log lines go to goRaindropLog with the
// cgo.Handle h (0: the core's default, stderr).
static rd_result rd_go_new(const char *config, size_t config_len, uintptr_t h, rd_client *out, rd_error *err) {
	rd_logger logger;
	logger.log = (void (*)(void *, rd_log_level, const char *, size_t))goRaindropLog;
	logger.user_data = (void *)h;
	return rd_new(config, config_len, h ? &logger : NULL, out, err);
}
*/
import "C"

import (
	"context"
	"encoding/json"
	"log"
	"log/slog"
	"runtime"
	"runtime/cgo"
	"sync/atomic"
	"time"
)

// Config holds the client options. Every field is optional; a zero value means
// "the core's default" (see docs/c-api.md). The JSON keys are the ones of the
// core configuration.
type Config struct {
	// APIKey is the Raindrop write key. Empty: RAINDROP_WRITE_KEY; if that is
	// empty too, telemetry is disabled (every call succeeds, nothing is sent).
	APIKey string
	// Endpoint is the API base URL (default RAINDROP_ENDPOINT, then
	// https://api.raindrop.ai/v1/). "file:///path" writes one JSON line
	// {"route":..,"body":..} per request to a file instead of the network.
	Endpoint string
	// TracesEndpoint is an optional full OTLP/HTTP URL for spans.
	TracesEndpoint string
	ProjectID      string
	UserID         string // default user of events (core default "unknown")
	ConvoID        string
	EventName      string // default "ai_generation"

	TracingEnabled     *bool // nil: core default (true); see Bool
	BypassOtelForTools *bool // nil: core default (true)
	Debug              bool

	// LocalWorkshopURL mirrors every request to a local Raindrop Workshop
	// (same routes and bytes, never the Authorization header). Empty: the
	// environment decides (RAINDROP_LOCAL_DEBUGGER, RAINDROP_WORKSHOP), then a
	// probe of 127.0.0.1:5899. DisableLocalWorkshop turns the mirror off.
	LocalWorkshopURL     string
	DisableLocalWorkshop bool
	// RedactPII redacts PII (emails, phones, cards, SSNs, secrets, credentials,
	// addresses, names) in every text that leaves the process, on the core's
	// sender thread.
	RedactPII bool
	// SpoolDir (empty: off) keeps telemetry across outages and crashes: every
	// batch is written to this directory before it is sent and removed after
	// the sink accepted it; what a crash or an outage leaves there is sent by
	// the next client that opens the directory. SpoolMaxBytes bounds it
	// (0: 256 MiB; the oldest batches are dropped first and counted).
	SpoolDir      string
	SpoolMaxBytes int64

	MaxQueueItems     int
	MaxQueueBytes     int
	MaxBatchEvents    int
	MaxBatchBytes     int
	MaxTextFieldChars int
	// MaxOpenCalls and MaxOpenCallBytes bound the calls and spans begun and not
	// yet ended (their count, and the bytes of their inputs and names); a begin
	// past either is refused, the module still runs unrecorded, and
	// Stats.CallsRefused counts it. 0: the core's defaults.
	MaxOpenCalls     int
	MaxOpenCallBytes int

	FlushInterval       time.Duration
	RequestTimeout      time.Duration
	ConnectTimeout      time.Duration
	RetryInitialBackoff time.Duration
	RetryMaxBackoff     time.Duration
	RetryAfterCap       time.Duration
	RetryBudget         time.Duration
	ShutdownTimeout     time.Duration // used by Close and by contexts without deadline
	FlushTimeout        time.Duration
	OpenCallTTL         time.Duration

	LibraryName    string // $context library name (core default)
	LibraryVersion string
	// ServiceName is the traces' resource service.name (default "raindrop-dspy").
	ServiceName string

	// CAFile is a PEM bundle whose certificates HTTPS trusts instead of the
	// built-in roots (default: SSL_CERT_FILE). A file that cannot be read or
	// holds no certificate makes New fail with ErrInvalidConfig.
	CAFile string
	// TLSRoots chooses the trusted roots when no CAFile is given: "webpki"
	// (the default: the Mozilla roots compiled in) or "platform" (the
	// operating system's verifier). Verification is never switched off.
	TLSRoots string

	// Logger receives the core's log lines (full queue, unreachable sink, items
	// dropped at shutdown...) through the C API's log callback, and the
	// binding's own rare warnings. nil (and Slog nil): the core writes to
	// stderr and the binding to log.Default(). log.New(io.Discard, "", 0)
	// silences both.
	Logger *log.Logger
	// Slog, when set, receives the same lines with their level (debug, warn,
	// error) instead of Logger.
	Slog *slog.Logger
}

// Bool returns a pointer to b, for Config.TracingEnabled and
// Config.BypassOtelForTools.
func Bool(b bool) *bool { return &b }

func (c *Config) toJSON() ([]byte, error) {
	m := map[string]any{"language": "go"}
	str := func(k, v string) {
		if v != "" {
			m[k] = v
		}
	}
	num := func(k string, v int) {
		if v != 0 {
			m[k] = v
		}
	}
	dur := func(k string, d time.Duration) {
		if d != 0 {
			m[k] = d.Milliseconds()
		}
	}
	str("api_key", c.APIKey)
	str("endpoint", c.Endpoint)
	str("traces_endpoint", c.TracesEndpoint)
	str("project_id", c.ProjectID)
	str("user_id", c.UserID)
	str("convo_id", c.ConvoID)
	str("event_name", c.EventName)
	if c.TracingEnabled != nil {
		m["tracing_enabled"] = *c.TracingEnabled
	}
	if c.BypassOtelForTools != nil {
		m["bypass_otel_for_tools"] = *c.BypassOtelForTools
	}
	if c.Debug {
		m["debug"] = true
	}
	if c.DisableLocalWorkshop {
		m["local_workshop_url"] = false
	} else {
		str("local_workshop_url", c.LocalWorkshopURL)
	}
	if c.RedactPII {
		m["redact_pii"] = true
	}
	str("spool_dir", c.SpoolDir)
	if c.SpoolMaxBytes != 0 {
		m["spool_max_bytes"] = c.SpoolMaxBytes
	}
	num("max_queue_items", c.MaxQueueItems)
	num("max_queue_bytes", c.MaxQueueBytes)
	num("max_batch_events", c.MaxBatchEvents)
	num("max_batch_bytes", c.MaxBatchBytes)
	num("max_text_field_chars", c.MaxTextFieldChars)
	num("max_open_calls", c.MaxOpenCalls)
	num("max_open_call_bytes", c.MaxOpenCallBytes)
	dur("flush_interval_ms", c.FlushInterval)
	dur("request_timeout_ms", c.RequestTimeout)
	dur("connect_timeout_ms", c.ConnectTimeout)
	dur("retry_initial_backoff_ms", c.RetryInitialBackoff)
	dur("retry_max_backoff_ms", c.RetryMaxBackoff)
	dur("retry_after_cap_ms", c.RetryAfterCap)
	dur("retry_budget_ms", c.RetryBudget)
	dur("shutdown_timeout_ms", c.ShutdownTimeout)
	dur("flush_timeout_ms", c.FlushTimeout)
	dur("open_call_ttl_ms", c.OpenCallTTL)
	str("library_name", c.LibraryName)
	str("library_version", c.LibraryVersion)
	str("service_name", c.ServiceName)
	str("ca_file", c.CAFile)
	str("tls_roots", c.TLSRoots)
	return json.Marshal(m)
}

// Client is a Raindrop client backed by the native core: one background
// sender thread, a bounded queue, batching and retries. It is safe for
// concurrent use by any number of goroutines. Close (or Shutdown) it when done;
// a finalizer shuts down a client that is garbage collected unclosed.
type Client struct {
	h       C.rd_client
	closed  atomic.Bool
	log     *logSink // the core's lines (when the config chose a logger) and the binding's
	maxText int      // the text cap: inputs and outputs are encoded up to it

	logHandle cgo.Handle            // the core's log callback target (0: none); freed after rd_shutdown
	final     atomic.Pointer[Stats] // the statistics rd_shutdown handed back
	finalSet  chan struct{}         // closed once rd_shutdown returned (final is set then)

	lastRefusedLog atomic.Int64 // unix nanos of the last refused-call warning

	keys keyCache // the key sets of the small maps it encoded lately (keycache.go)
	// the key sets its spans' inputs and outputs had last (keyHint)
	spanInKeys, spanOutKeys keyHint
}

// New creates a client. Invalid options give an *Error with
// CodeInvalidConfig.
func New(cfg Config) (*Client, error) {
	js, err := cfg.toJSON()
	if err != nil {
		return nil, err
	}
	var h C.rd_client
	var e C.rd_error
	sink, chosen := newLogSink(&cfg)
	var lh cgo.Handle
	if chosen {
		lh = cgo.NewHandle(sink)
	}
	p, n := strArg(string(js))
	rc := C.rd_go_new(p, n, C.uintptr_t(lh), &h, &e)
	runtime.KeepAlive(js)
	if err := errFrom("rd_new", rc, &e); err != nil {
		if lh != 0 {
			lh.Delete()
		}
		return nil, err
	}
	c := &Client{h: h, log: sink, maxText: cfg.MaxTextFieldChars, logHandle: lh, finalSet: make(chan struct{})}
	if c.maxText <= 0 {
		c.maxText = defaultMaxTextChars
	}
	runtime.SetFinalizer(c, finalizeClient)
	return c, nil
}

// finalizeClient shuts down an unreachable, unclosed client without blocking
// the finalizer goroutine.
func finalizeClient(c *Client) {
	if c.closed.CompareAndSwap(false, true) {
		h, lh, done := c.h, c.logHandle, c.finalSet
		go func() {
			defer close(done)
			var e C.rd_error
			C.rd_shutdown(h, -1, nil, &e)
			if lh != 0 {
				lh.Delete() // the core calls the logger no more
			}
		}()
	}
}

// timeoutMS converts a context deadline into the core's timeout_ms: -1 (the
// configured default) without deadline, 0 once the deadline has passed.
func timeoutMS(ctx context.Context) C.int64_t {
	d, ok := ctx.Deadline()
	if !ok {
		return -1
	}
	left := time.Until(d)
	if left <= 0 {
		return 0
	}
	return C.int64_t((left + time.Millisecond - 1) / time.Millisecond)
}

// blocking runs a blocking core call, returning early with ctx.Err() when ctx
// is cancelled first (the call then finishes in the background within its own
// timeout).
func blocking(ctx context.Context, f func() error) error {
	if ctx.Done() == nil {
		return f()
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		// A deadline is already handed to the core as timeout_ms; prefer its
		// answer (a timeout, which matches DeadlineExceeded) when it arrives at
		// the same moment. A cancellation is always ctx.Err().
		if ctx.Err() == context.DeadlineExceeded {
			select {
			case err := <-done:
				return err
			case <-time.After(50 * time.Millisecond):
			}
		}
		return ctx.Err()
	}
}

// Flush blocks until every item queued before it has reached a final state
// (delivered or dropped; drops show in Stats). The context deadline becomes the
// core's timeout; without deadline the configured flush timeout applies. When
// the time runs out the error matches both ErrTimeout and
// context.DeadlineExceeded.
func (c *Client) Flush(ctx context.Context) error {
	ms := timeoutMS(ctx)
	return blocking(ctx, func() error {
		var e C.rd_error
		rc := C.rd_flush(c.h, ms, &e)
		runtime.KeepAlive(c)
		return errFrom("rd_flush", rc, &e)
	})
}

// Shutdown drains the queue (within the context deadline, else the configured
// shutdown timeout), stops the sender and frees the native client. Later calls
// on the client return ErrInvalidHandle, except Stats, which returns the final
// statistics; Shutdown and Close again return nil.
// A context already cancelled or past its deadline frees the client without
// waiting (what is still queued is dropped and counted) and returns ctx.Err().
func (c *Client) Shutdown(ctx context.Context) error {
	if !c.closed.CompareAndSwap(false, true) {
		return nil
	}
	runtime.SetFinalizer(c, nil)
	ms := timeoutMS(ctx)
	if ctx.Err() != nil {
		ms = 0
	}
	run := func() error {
		defer close(c.finalSet)
		var e C.rd_error
		var s C.rd_stats
		rc := C.rd_shutdown(c.h, ms, &s, &e)
		runtime.KeepAlive(c)
		if c.logHandle != 0 {
			c.logHandle.Delete() // the core calls the logger no more
		}
		if rc != C.RD_ERR_INVALID_HANDLE {
			st := statsFrom(&s)
			c.final.Store(&st)
		}
		if rc == C.RD_ERR_ITEMS_DROPPED {
			return nil // drops show in Stats (DroppedShutdown, ...), readable after Shutdown
		}
		return errFrom("rd_shutdown", rc, &e)
	}
	if err := ctx.Err(); err != nil {
		_ = run() // a timeout here only says that queued items were dropped
		return err
	}
	return blocking(ctx, run)
}

// Close is Shutdown with the configured shutdown timeout. It is idempotent.
func (c *Client) Close() error {
	return c.Shutdown(context.Background())
}
