// raindrop/config.hpp - client configuration, statistics, events, signals and call options.
// Part of the header-only C++ binding; include <raindrop/raindrop.hpp>, which includes every part.
#ifndef RAINDROP_CONFIG_HPP
#define RAINDROP_CONFIG_HPP

#include <raindrop_dspy.h>
#include <raindrop/error.hpp>
#include <raindrop/log.hpp>
#include <raindrop/json.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace raindrop {

/// Client configuration. Every field is optional: unset fields take the core's defaults
/// (see docs/c-api.md). The api key and endpoint fall back to RAINDROP_WRITE_KEY /
/// RAINDROP_ENDPOINT; with no key telemetry is disabled (every call succeeds, nothing is sent).
struct Config {
    std::optional<std::string> api_key;
    /// Base URL ("https://api.raindrop.ai/v1/") or "file:///path" (one JSON line per request).
    std::optional<std::string> endpoint;
    std::optional<std::string> traces_endpoint;
    std::optional<std::string> project_id;
    std::optional<std::string> user_id;
    std::optional<std::string> convo_id;
    std::optional<std::string> event_name;
    std::optional<bool> tracing_enabled;
    std::optional<bool> bypass_otel_for_tools;
    std::optional<bool> debug;
    /// Mirrors every request to a local Raindrop Workshop (same routes and bytes, never the
    /// Authorization header); "" turns it off. Unset: RAINDROP_LOCAL_DEBUGGER, then
    /// RAINDROP_WORKSHOP, then a probe of 127.0.0.1:5899 decide.
    std::optional<std::string> local_workshop_url;
    /// Redacts PII in every text that leaves the process, on the core's sender thread.
    std::optional<bool> redact_pii;
    /// The durable spool (off when unset): every batch is written to this directory before it is
    /// sent and removed after the sink accepted it; what a crash or an outage leaves there is sent
    /// by the next client that opens the directory. spool_max_bytes bounds it (default 256 MiB,
    /// the oldest batches dropped first and counted).
    std::optional<std::string> spool_dir;
    std::optional<std::uint64_t> spool_max_bytes;

    std::optional<std::uint64_t> max_queue_items;
    std::optional<std::uint64_t> max_queue_bytes;
    std::optional<std::uint64_t> max_batch_events;
    std::optional<std::uint64_t> max_batch_bytes;
    std::optional<std::uint64_t> max_text_field_chars;
    /// Bound the calls and spans begun and not yet ended: their count, and the bytes of their
    /// inputs and names. A begin past either is refused (the callable still runs, unrecorded) and
    /// counted in Stats::calls_refused.
    std::optional<std::uint64_t> max_open_calls;
    std::optional<std::uint64_t> max_open_call_bytes;

    std::optional<std::chrono::milliseconds> flush_interval;
    std::optional<std::chrono::milliseconds> request_timeout;
    std::optional<std::chrono::milliseconds> connect_timeout;
    std::optional<std::chrono::milliseconds> retry_initial_backoff;
    std::optional<std::chrono::milliseconds> retry_max_backoff;
    std::optional<std::chrono::milliseconds> retry_after_cap;
    std::optional<std::chrono::milliseconds> retry_budget;
    /// Used by Client's destructor and by shutdown() without an argument.
    std::optional<std::chrono::milliseconds> shutdown_timeout;
    /// Used by flush() without an argument.
    std::optional<std::chrono::milliseconds> flush_timeout;
    std::optional<std::chrono::milliseconds> open_call_ttl;

    /// Names this layer in the events' $context (the core adds its own version there).
    std::optional<std::string> library_name = std::string("raindrop-dspy-cpp");
    std::optional<std::string> library_version = std::string(cpp_version);
    std::optional<std::string> language = std::string("cpp");
    /// The traces' resource service.name (core default "raindrop-dspy").
    std::optional<std::string> service_name;

    /// A PEM bundle whose certificates HTTPS trusts instead of the built-in roots (default:
    /// SSL_CERT_FILE). A file that cannot be read or holds no certificate makes the Client
    /// constructor throw the core's configuration error.
    std::optional<std::string> ca_file;
    /// The trusted roots when no ca_file is given: "webpki" (the default: the Mozilla roots
    /// compiled in) or "platform" (the operating system's verifier). Never "off".
    std::optional<std::string> tls_roots;

    /// Further raw keys merged into the configuration JSON (for keys this struct lacks).
    Properties extra;

    /// Receives the core's log lines (warnings: full queue, unreachable sink, drops at
    /// shutdown...) instead of stderr. Called from any thread, the core's sender thread included,
    /// possibly from several at once; must be quick. An empty function keeps stderr; a function
    /// that does nothing silences the core. Exceptions it throws are swallowed.
    LogCallback logger;

    /// The configuration JSON given to rd_new.
    std::string to_json() const {
        Properties p = extra;
        auto str = [&p](const char* key, const std::optional<std::string>& v) {
            if (v) p[key] = *v;
        };
        auto boolean = [&p](const char* key, const std::optional<bool>& v) {
            if (v) p[key] = *v;
        };
        auto num = [&p](const char* key, const std::optional<std::uint64_t>& v) {
            if (v) p[key] = *v;
        };
        auto ms = [&p](const char* key, const std::optional<std::chrono::milliseconds>& v) {
            if (v) p[key] = static_cast<std::int64_t>(v->count());
        };
        str("api_key", api_key);
        str("endpoint", endpoint);
        str("traces_endpoint", traces_endpoint);
        str("project_id", project_id);
        str("user_id", user_id);
        str("convo_id", convo_id);
        str("event_name", event_name);
        boolean("tracing_enabled", tracing_enabled);
        boolean("bypass_otel_for_tools", bypass_otel_for_tools);
        boolean("debug", debug);
        str("local_workshop_url", local_workshop_url);
        boolean("redact_pii", redact_pii);
        str("spool_dir", spool_dir);
        num("spool_max_bytes", spool_max_bytes);
        num("max_queue_items", max_queue_items);
        num("max_queue_bytes", max_queue_bytes);
        num("max_batch_events", max_batch_events);
        num("max_batch_bytes", max_batch_bytes);
        num("max_text_field_chars", max_text_field_chars);
        num("max_open_calls", max_open_calls);
        num("max_open_call_bytes", max_open_call_bytes);
        ms("flush_interval_ms", flush_interval);
        ms("request_timeout_ms", request_timeout);
        ms("connect_timeout_ms", connect_timeout);
        ms("retry_initial_backoff_ms", retry_initial_backoff);
        ms("retry_max_backoff_ms", retry_max_backoff);
        ms("retry_after_cap_ms", retry_after_cap);
        ms("retry_budget_ms", retry_budget);
        ms("shutdown_timeout_ms", shutdown_timeout);
        ms("flush_timeout_ms", flush_timeout);
        ms("open_call_ttl_ms", open_call_ttl);
        str("library_name", library_name);
        str("library_version", library_version);
        str("language", language);
        str("service_name", service_name);
        str("ca_file", ca_file);
        str("tls_roots", tls_roots);
        return Json::object(p).dump();
    }
};

/// Delivery statistics of one client (rd_get_stats).
struct Stats {
    std::uint64_t queued = 0;
    std::uint64_t delivered = 0;
    std::uint64_t dropped_queue_full = 0;
    std::uint64_t dropped_rejected = 0;
    std::uint64_t dropped_retry_budget = 0;
    std::uint64_t dropped_shutdown = 0;
    std::uint64_t dropped_invalid = 0;
    std::uint64_t calls_expired = 0;
    std::uint64_t retries = 0;
    std::uint64_t requests = 0;
    std::uint64_t bytes_sent = 0;
    std::uint64_t queue_depth = 0;
    /// 0: no response yet.
    std::int32_t last_http_status = 0;
    /// Requests the local Workshop accepted, failed (never retried), and bodies not mirrored.
    std::uint64_t mirror_sent = 0;
    std::uint64_t mirror_failed = 0;
    std::uint64_t mirror_dropped = 0;
    /// The durable spool (spool_dir): items written to it, replayed from an earlier client, dropped from it.
    std::uint64_t spooled = 0;
    std::uint64_t replayed = 0;
    std::uint64_t spool_dropped = 0;
    /// Items in the spool not yet delivered (a gauge).
    std::uint64_t spool_pending = 0;
    /// Begins refused: `max_open_calls` or `max_open_call_bytes` reached.
    std::uint64_t calls_refused = 0;
};

/// One event for Client::track_ai (AI fields) or Client::track (plain; AI fields ignored).
/// Unset fields take the client defaults (event id: a fresh UUID v4; timestamp: now).
struct Event {
    std::optional<std::string> event_id;
    std::optional<std::string> user_id;
    std::optional<std::string> event;
    std::optional<std::string> timestamp;
    std::optional<std::string> input;
    std::optional<std::string> output;
    std::optional<std::string> model;
    std::optional<std::string> convo_id;
    Properties properties;
    std::vector<Attachment> attachments;
};

/// One signal (feedback on an earlier event) for Client::track_signal.
struct Signal {
    /// The event the signal refers to (required).
    std::string event_id;
    /// The signal's name, e.g. "thumbs_up" (required).
    std::string name;
    /// "default" | "feedback" | "edit"; unset = "default".
    std::optional<std::string> type;
    /// RFC 3339; unset = now.
    std::optional<std::string> timestamp;
    Properties properties;
    std::optional<std::string> attachment_id;
    /// Required for "feedback".
    std::optional<std::string> comment;
    /// Required for "edit".
    std::optional<std::string> after;
    /// "POSITIVE" | "NEGATIVE".
    std::optional<std::string> sentiment;
};

/// Kinds of spans (rd_span_kind).
enum class SpanKind : int { module = 0, lm = 1, tool = 2 };

class CallContext;

/// Options of one call (or of every call of a wrapped callable).
struct CallOptions {
    /// Explicit parent; otherwise the innermost open call of the same client on this thread.
    const CallContext* parent = nullptr;
    /// Ignore the thread's current call: make a top-level call (and do not become current).
    bool detached = false;
    /// Event id of a top-level call (unset: UUID v4). For wrapped callables prefer
    /// make_event_id: a fixed id would be reused by every call.
    std::optional<std::string> event_id;
    /// Called on every wrapped call for its event id (an empty result means "generate one").
    std::function<std::string()> make_event_id;
    std::optional<std::string> user_id;
    std::optional<std::string> convo_id;
    std::optional<std::string> event_name;
};

}  // namespace raindrop

#endif  // RAINDROP_CONFIG_HPP
