// raindrop.hpp - header-only C++17 face of the raindrop_dspy C ABI.
//
// Everything here is a thin layer over <raindrop_dspy.h>:
//   * raindrop::Client   move-only owner of an rd_client handle (rd_new / rd_shutdown);
//   * raindrop::Call     move-only guard of one open call or span (a std::unique_ptr whose
//                        deleter calls rd_wrap_end / rd_span_end), alias raindrop::Span;
//   * Client::wrap()     turns any callable into one that records one call per invocation;
//   * raindrop::current_call()  the innermost open call on this thread (nesting);
//   * raindrop::Error    the one exception type thrown for C ABI errors.
//
// Hot path rule: wrapping, guards, span begin/end, track_ai and track never throw a telemetry
// failure into user code. Such failures are counted (raindrop::swallowed_errors()) and logged to
// stderr at most once per 30 s. Everything else (construction, identify, track_signal, flush,
// stats) throws raindrop::Error; RD_ERR_QUEUE_FULL is never thrown, only counted and logged.
//
// Thread safety: a Client may be used from any number of threads at once. A Call (and the
// CallContext it owns) belongs to one thread at a time; end it on the thread that created it.
#ifndef RAINDROP_RAINDROP_HPP
#define RAINDROP_RAINDROP_HPP

#include <raindrop_dspy.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <exception>
#include <functional>
#include <initializer_list>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>

#if defined(__has_include)
#if __has_include(<cxxabi.h>)
#include <cxxabi.h>
#define RAINDROP_HAVE_CXXABI 1
#endif
#endif

namespace raindrop {

/// Version of this C++ layer (the core's version: raindrop::core_version()).
inline constexpr const char* cpp_version = "0.1.0";

/// Inputs of a DSPy-style module: named fields to text.
using Inputs = std::map<std::string, std::string>;
/// Outputs of a DSPy-style module: named fields to text.
using Outputs = std::map<std::string, std::string>;

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// The result codes of the C ABI (same values as rd_result).
enum class Code : int {
    ok = 0,
    invalid_handle = 1,
    null_argument = 2,
    invalid_json = 3,
    invalid_argument = 4,
    invalid_signal_type = 5,
    invalid_sentiment = 6,
    invalid_timestamp = 7,
    invalid_config = 8,
    queue_full = 9,
    timeout = 10,
    too_many_open_calls = 11,
    internal = 99,
};

/// A short stable name for a code ("invalid_handle", ...).
inline const char* code_name(Code code) noexcept {
    switch (code) {
        case Code::ok: return "ok";
        case Code::invalid_handle: return "invalid_handle";
        case Code::null_argument: return "null_argument";
        case Code::invalid_json: return "invalid_json";
        case Code::invalid_argument: return "invalid_argument";
        case Code::invalid_signal_type: return "invalid_signal_type";
        case Code::invalid_sentiment: return "invalid_sentiment";
        case Code::invalid_timestamp: return "invalid_timestamp";
        case Code::invalid_config: return "invalid_config";
        case Code::queue_full: return "queue_full";
        case Code::timeout: return "timeout";
        case Code::too_many_open_calls: return "too_many_open_calls";
        case Code::internal: return "internal";
    }
    return "unknown";
}

/// The one exception type of this library: a C ABI result code and its message.
class Error : public std::runtime_error {
public:
    Error(Code code, const std::string& message)
        : std::runtime_error(message.empty() ? std::string(code_name(code)) : message), code_(code) {}
    /// The C ABI result code.
    Code code() const noexcept { return code_; }

private:
    Code code_;
};

namespace detail {

inline Code to_code(rd_result r) noexcept { return static_cast<Code>(static_cast<int>(r)); }

inline std::string message_of(const rd_error& e) {
    const char* m = e.message;
    std::size_t n = 0;
    while (n < sizeof(e.message) && m[n] != '\0') ++n;
    return std::string(m, n);
}

inline rd_error empty_error() noexcept {
    rd_error e;
    std::memset(&e, 0, sizeof e);
    return e;
}

/// Throws raindrop::Error unless r is RD_OK. Queue-full is never thrown (counted instead).
inline void check(rd_result r, const rd_error& e, const char* where);

inline std::atomic<std::uint64_t>& swallowed_counter() noexcept {
    static std::atomic<std::uint64_t> n{0};
    return n;
}

inline std::atomic<std::int64_t>& last_log_ms() noexcept {
    static std::atomic<std::int64_t> t{std::numeric_limits<std::int64_t>::min() / 2};
    return t;
}

/// Records a telemetry failure that must not reach user code: counts it and logs it to
/// stderr at most once per 30 s (process-wide).
inline void swallow(rd_result r, const rd_error& e, const char* where) noexcept {
    if (static_cast<int>(r) == 0) return;
    swallowed_counter().fetch_add(1, std::memory_order_relaxed);
    // The core itself warns about a full queue (rate-limited): counted here, not logged twice.
    if (static_cast<int>(r) == static_cast<int>(Code::queue_full)) return;
    using namespace std::chrono;
    const std::int64_t now = duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
    std::int64_t last = last_log_ms().load(std::memory_order_relaxed);
    if (now - last < 30000) return;
    if (!last_log_ms().compare_exchange_strong(last, now, std::memory_order_relaxed)) return;
    const char* msg = e.message[0] != '\0' ? e.message : code_name(to_code(r));
    std::fprintf(stderr,
                 "raindrop: %s failed (%s): %.*s; telemetry errors never reach your code, "
                 "further messages are suppressed for 30 s\n",
                 where, code_name(to_code(r)), static_cast<int>(sizeof e.message), msg);
}

inline void check(rd_result r, const rd_error& e, const char* where) {
    const int c = static_cast<int>(r);
    if (c == 0) return;
    if (c == static_cast<int>(Code::queue_full)) {
        swallow(r, e, where);
        return;
    }
    throw Error(to_code(r), message_of(e));
}

}  // namespace detail

/// How many telemetry failures were swallowed on the hot path in this process so far.
inline std::uint64_t swallowed_errors() noexcept {
    return detail::swallowed_counter().load(std::memory_order_relaxed);
}

/// The core library's version (rd_version()).
inline std::string core_version() {
    const char* v = rd_version();
    return v ? std::string(v) : std::string();
}

// ---------------------------------------------------------------------------------------------
// JSON building (no third-party library: only what this binding needs to write)
// ---------------------------------------------------------------------------------------------

namespace detail {

/// Appends s as a JSON string literal (quotes included). Bytes >= 0x80 pass through (the core
/// repairs invalid UTF-8 with U+FFFD).
inline void append_json_string(std::string& out, std::string_view s) {
    out.reserve(out.size() + s.size() + 2);
    out.push_back('"');
    for (const char ch : s) {
        const unsigned char c = static_cast<unsigned char>(ch);
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\b': out += "\\b"; break;
            case '\f': out += "\\f"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (c < 0x20 || c == 0x7f) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
                    out += buf;
                } else {
                    out.push_back(ch);
                }
        }
    }
    out.push_back('"');
}

inline std::string json_string(std::string_view s) {
    std::string out;
    append_json_string(out, s);
    return out;
}

}  // namespace detail

/// One JSON value, kept as its serialised text. Implicitly built from strings, numbers, bools
/// and nullptr; nested objects and arrays through Json::object / Json::array; trusted
/// pre-serialised text through Json::raw.
class Json {
public:
    Json() : text_("null") {}
    Json(std::nullptr_t) : text_("null") {}
    Json(const char* s) : text_(s ? detail::json_string(s) : std::string("null")) {}
    Json(std::string_view s) : text_(detail::json_string(s)) {}
    Json(const std::string& s) : text_(detail::json_string(s)) {}
    Json(bool b) : text_(b ? "true" : "false") {}
    template <class T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>, int> = 0>
    Json(T v) : text_(std::to_string(v)) {}
    template <class T, std::enable_if_t<std::is_floating_point_v<T>, int> = 0>
    Json(T v) {
        if (!std::isfinite(static_cast<double>(v))) {
            text_ = "null";
        } else {
            char buf[40];
            std::snprintf(buf, sizeof buf, "%.17g", static_cast<double>(v));
            text_ = buf;
        }
    }

    /// An object from key/value pairs (later duplicates win).
    static Json object(const std::map<std::string, Json>& members) {
        Json j;
        j.text_ = "{";
        bool first = true;
        for (const auto& kv : members) {
            if (!first) j.text_.push_back(',');
            first = false;
            detail::append_json_string(j.text_, kv.first);
            j.text_.push_back(':');
            j.text_ += kv.second.text_;
        }
        j.text_.push_back('}');
        return j;
    }
    /// An array of values.
    static Json array(const std::vector<Json>& items) {
        Json j;
        j.text_ = "[";
        for (std::size_t i = 0; i < items.size(); ++i) {
            if (i) j.text_.push_back(',');
            j.text_ += items[i].text_;
        }
        j.text_.push_back(']');
        return j;
    }
    /// Pre-serialised JSON text, passed through as is (the core validates it).
    static Json raw(std::string text) {
        Json j;
        j.text_ = std::move(text);
        return j;
    }

    /// The serialised text.
    const std::string& dump() const noexcept { return text_; }

private:
    std::string text_;
};

/// Free-form properties / traits: a JSON object.
using Properties = std::map<std::string, Json>;

namespace detail {
inline std::string properties_json(const Properties& p) { return Json::object(p).dump(); }
}  // namespace detail

/// An attachment of an event (see the Raindrop docs): type is text | code | image | iframe,
/// role is input | output (anything else counts as output).
struct Attachment {
    std::string type = "text";
    std::string value;
    std::string role = "output";
    std::optional<std::string> name;
    std::optional<std::string> language;
    std::optional<std::string> attachment_id;
};

namespace detail {
inline std::string attachments_json(const std::vector<Attachment>& list) {
    std::vector<Json> items;
    items.reserve(list.size());
    for (const auto& a : list) {
        Properties o{{"type", a.type}, {"value", a.value}, {"role", a.role}};
        if (a.name) o["name"] = *a.name;
        if (a.language) o["language"] = *a.language;
        if (a.attachment_id) o["attachment_id"] = *a.attachment_id;
        items.push_back(Json::object(o));
    }
    return Json::array(items).dump();
}
}  // namespace detail

/// Formats a time point as RFC 3339 UTC with millisecond precision ("2026-03-02T08:15:00.000Z").
inline std::string format_timestamp(std::chrono::system_clock::time_point tp) {
    using namespace std::chrono;
    const auto ms_total = duration_cast<milliseconds>(tp.time_since_epoch()).count();
    std::int64_t secs = ms_total / 1000;
    std::int64_t ms = ms_total % 1000;
    if (ms < 0) {
        ms += 1000;
        secs -= 1;
    }
    const std::time_t t = static_cast<std::time_t>(secs);
    std::tm tm{};
#if defined(_WIN32)
    gmtime_s(&tm, &t);
#else
    gmtime_r(&t, &tm);
#endif
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
    return buf;
}

// ---------------------------------------------------------------------------------------------
// Text of inputs and outputs
// ---------------------------------------------------------------------------------------------

namespace detail {

template <class T, class = void>
struct is_map_like : std::false_type {};
template <class T>
struct is_map_like<T, std::void_t<typename T::key_type, typename T::mapped_type,
                                  decltype(std::declval<const T&>().begin())>> : std::true_type {};

template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};

template <class T>
Json to_json_value(const T& v);

/// A map as a JSON object (keys must be string-like).
template <class M>
std::string map_json(const M& m) {
    std::string out = "{";
    bool first = true;
    for (const auto& kv : m) {
        if (!first) out.push_back(',');
        first = false;
        append_json_string(out, std::string_view(kv.first));
        out.push_back(':');
        out += to_json_value(kv.second).dump();
    }
    out.push_back('}');
    return out;
}

template <class T>
Json to_json_value(const T& v) {
    using U = std::decay_t<T>;
    if constexpr (std::is_convertible_v<const U&, std::string_view>) {
        return Json(std::string_view(v));
    } else if constexpr (std::is_same_v<U, Json>) {
        return v;
    } else if constexpr (std::is_arithmetic_v<U>) {
        return Json(v);
    } else if constexpr (is_map_like<U>::value) {
        return Json::raw(map_json(v));
    } else if constexpr (is_optional<U>::value) {
        return v ? to_json_value(*v) : Json(nullptr);
    } else {
        static_assert(sizeof(U) == 0, "raindrop: no JSON conversion for this value type");
        return Json();
    }
}

}  // namespace detail

/// The text recorded for a value given to or returned by a wrapped callable:
/// strings as they are, maps as a JSON object, numbers and bools as JSON, optionals by value
/// (nullopt = absent). Other types: provide `std::string raindrop_text(const T&)` findable by
/// argument-dependent lookup.
template <class T>
std::optional<std::string> to_text(const T& v) {
    using U = std::decay_t<T>;
    if constexpr (std::is_convertible_v<const U&, std::string_view>) {
        return std::string(std::string_view(v));
    } else if constexpr (detail::is_map_like<U>::value) {
        if (v.begin() == v.end()) return std::nullopt;
        return detail::map_json(v);
    } else if constexpr (std::is_arithmetic_v<U>) {
        return Json(v).dump();
    } else if constexpr (detail::is_optional<U>::value) {
        if (!v) return std::nullopt;
        return to_text(*v);
    } else {
        return raindrop_text(v);  // ADL customisation point
    }
}

namespace detail {
/// Several arguments are joined with '\n' (like DSPy kwargs values); absent ones are skipped.
template <class... Args>
std::optional<std::string> input_text(const Args&... args) {
    if constexpr (sizeof...(Args) == 0) {
        return std::nullopt;
    } else {
        std::optional<std::string> out;
        auto add = [&out](std::optional<std::string> piece) {
            if (!piece) return;
            if (out) {
                out->push_back('\n');
                *out += *piece;
            } else {
                out = std::move(piece);
            }
        };
        (add(to_text(args)), ...);
        return out;
    }
}
}  // namespace detail

// ---------------------------------------------------------------------------------------------
// Configuration, statistics, events, signals
// ---------------------------------------------------------------------------------------------

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

    std::optional<std::uint64_t> max_queue_items;
    std::optional<std::uint64_t> max_queue_bytes;
    std::optional<std::uint64_t> max_batch_events;
    std::optional<std::uint64_t> max_batch_bytes;
    std::optional<std::uint64_t> max_text_field_chars;
    std::optional<std::uint64_t> max_open_calls;

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

    /// Further raw keys merged into the configuration JSON (for keys this struct lacks).
    Properties extra;

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
        num("max_queue_items", max_queue_items);
        num("max_queue_bytes", max_queue_bytes);
        num("max_batch_events", max_batch_events);
        num("max_batch_bytes", max_batch_bytes);
        num("max_text_field_chars", max_text_field_chars);
        num("max_open_calls", max_open_calls);
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

// ---------------------------------------------------------------------------------------------
// Handles: one RAII building block, std::unique_ptr with a deleter calling the C function
// ---------------------------------------------------------------------------------------------

namespace detail {

/// A uint64_t handle usable as a std::unique_ptr "pointer" (NullablePointer; 0 is null).
template <class Tag>
struct nullable_handle {
    std::uint64_t value = 0;
    nullable_handle() noexcept = default;
    nullable_handle(std::nullptr_t) noexcept {}
    explicit nullable_handle(std::uint64_t v) noexcept : value(v) {}
    explicit operator bool() const noexcept { return value != 0; }
    friend bool operator==(nullable_handle a, nullable_handle b) noexcept { return a.value == b.value; }
    friend bool operator!=(nullable_handle a, nullable_handle b) noexcept { return a.value != b.value; }
};

struct client_tag {};

/// Deleter of a client handle: rd_shutdown with the configured timeout (negative = default).
struct client_closer {
    using pointer = nullable_handle<client_tag>;
    std::int64_t timeout_ms = -1;
    void operator()(pointer h) const noexcept {
        rd_error e = empty_error();
        (void)rd_shutdown(h.value, timeout_ms, &e);
    }
};

using client_owner = std::unique_ptr<void, client_closer>;

/// Deleter of an open call: ends it (if not ended yet) and frees its context.
struct call_ender {
    inline void operator()(CallContext* c) const noexcept;
};

inline std::vector<CallContext*>& call_stack() noexcept {
    thread_local std::vector<CallContext*> stack;
    return stack;
}

inline std::int64_t to_ms(std::chrono::milliseconds d) noexcept {
    return static_cast<std::int64_t>(d.count());
}

}  // namespace detail

/// A guard owning one open call or span: a std::unique_ptr<CallContext> whose deleter ends the
/// call (rd_wrap_end / rd_span_end) with what was recorded on it. Move-only.
using Call = std::unique_ptr<CallContext, detail::call_ender>;
/// Spans (LM, tool, module) use the same guard.
using Span = Call;

/// The innermost open call or span on this thread (nullptr outside any call). Inside a wrapped
/// callable it is never nullptr.
inline CallContext* current_call() noexcept {
    auto& s = detail::call_stack();
    return s.empty() ? nullptr : s.back();
}

namespace detail {
inline Call begin_call(rd_client client, SpanKind kind, std::string_view name,
                       const std::optional<std::string>& input, const CallOptions& opts);
}

/// One open call (a wrapped module call, or an LM / tool / module span). Reached through a
/// Call guard or raindrop::current_call(). Not copyable or movable; not thread-safe (the
/// guard's thread records on it). Every setter returns *this and never throws a telemetry error.
class CallContext {
public:
    CallContext(const CallContext&) = delete;
    CallContext& operator=(const CallContext&) = delete;
    ~CallContext() = default;

    /// The event id this call reports into (the top-level call's for nested calls; empty for
    /// LM / tool spans and when begin failed).
    const std::string& event_id() const noexcept { return event_id_; }
    /// The raw rd_call handle (0 when begin failed: then recording is a no-op).
    rd_call handle() const noexcept { return handle_; }
    rd_client client_handle() const noexcept { return client_; }
    SpanKind kind() const noexcept { return kind_; }
    const std::string& name() const noexcept { return name_; }
    /// Whether end() already ran.
    bool ended() const noexcept { return ended_; }

    CallContext& set_output(std::string_view text) {
        output_ = std::string(text);
        return *this;
    }
    /// Output of any value to_text() knows (maps become a JSON object).
    template <class T, std::enable_if_t<!std::is_convertible_v<const T&, std::string_view>, int> = 0>
    CallContext& set_output(const T& value) {
        output_ = to_text(value);
        return *this;
    }
    CallContext& set_model(std::string_view model) {
        model_ = std::string(model);
        return *this;
    }
    /// Token usage; a negative count means unknown (summed from LM spans by the core).
    CallContext& set_usage(std::int64_t prompt_tokens, std::int64_t completion_tokens) noexcept {
        prompt_tokens_ = prompt_tokens;
        completion_tokens_ = completion_tokens;
        return *this;
    }
    CallContext& set_finish_reason(std::string_view reason) {
        finish_reason_ = std::string(reason);
        return *this;
    }
    /// One event property (span attribute for spans).
    CallContext& set_property(const std::string& key, Json value) {
        properties_[key] = std::move(value);
        return *this;
    }
    CallContext& set_user_id(std::string_view v) {
        user_id_ = std::string(v);
        return *this;
    }
    CallContext& set_convo_id(std::string_view v) {
        convo_id_ = std::string(v);
        return *this;
    }
    CallContext& set_event_name(std::string_view v) {
        event_name_ = std::string(v);
        return *this;
    }
    /// RFC 3339 timestamp of the event (default: when the call began).
    CallContext& set_timestamp(std::string_view v) {
        timestamp_ = std::string(v);
        return *this;
    }
    CallContext& add_attachment(Attachment a) {
        attachments_.push_back(std::move(a));
        return *this;
    }
    /// Marks the call failed.
    CallContext& fail(std::string_view error_type, std::string_view message) {
        error_type_ = std::string(error_type);
        error_message_ = std::string(message);
        return *this;
    }
    /// Marks the call failed with an exception's dynamic type and what().
    CallContext& fail(const std::exception& e) { return fail(type_name(typeid(e)), e.what()); }
    /// Marks the call failed with the exception being handled now (use inside a catch block).
    CallContext& fail_current() noexcept;

    /// A child module call (its own span in this call's trace; no separate event).
    Call child(std::string_view name, const std::optional<std::string>& input = std::nullopt) const {
        CallOptions o;
        o.parent = this;
        return detail::begin_call(client_, SpanKind::module, name, input, o);
    }
    /// An LM span under this call; its model / usage / finish reason roll up into the event.
    Span lm_span(std::string_view name, const std::optional<std::string>& input = std::nullopt) const {
        CallOptions o;
        o.parent = this;
        return detail::begin_call(client_, SpanKind::lm, name, input, o);
    }
    /// A tool span under this call.
    Span tool_span(std::string_view name, const std::optional<std::string>& input = std::nullopt) const {
        CallOptions o;
        o.parent = this;
        return detail::begin_call(client_, SpanKind::tool, name, input, o);
    }

    /// Ends the call with what was recorded (idempotent). Returns whether the core accepted it;
    /// failures are swallowed (counted, logged at most once per 30 s).
    bool end() noexcept;

    /// A readable (demangled where possible) name of a type.
    static std::string type_name(const std::type_info& t) {
#ifdef RAINDROP_HAVE_CXXABI
        int status = 0;
        char* d = abi::__cxa_demangle(t.name(), nullptr, nullptr, &status);
        if (status == 0 && d) {
            std::string s(d);
            std::free(d);
            return s;
        }
        std::free(d);
#endif
        return t.name();
    }

private:
    friend Call detail::begin_call(rd_client, SpanKind, std::string_view,
                                   const std::optional<std::string>&, const CallOptions&);
    CallContext(rd_client client, SpanKind kind, std::string_view name)
        : client_(client), kind_(kind), name_(name), uncaught_(std::uncaught_exceptions()) {}

    rd_client client_;
    rd_call handle_ = 0;
    SpanKind kind_;
    std::string name_;
    std::string event_id_;
    int uncaught_;
    bool ended_ = false;
    bool pushed_ = false;

    std::optional<std::string> output_, model_, finish_reason_, error_type_, error_message_;
    std::optional<std::string> user_id_, convo_id_, event_name_, timestamp_;
    std::int64_t prompt_tokens_ = -1;
    std::int64_t completion_tokens_ = -1;
    Properties properties_;
    std::vector<Attachment> attachments_;
};

inline CallContext& CallContext::fail_current() noexcept {
    try {
        std::exception_ptr p = std::current_exception();
        if (!p) return *this;
        try {
            std::rethrow_exception(p);
        } catch (const std::exception& e) {
            fail(e);
        } catch (...) {
#ifdef RAINDROP_HAVE_CXXABI
            const std::type_info* t = abi::__cxa_current_exception_type();
            fail(t ? type_name(*t) : std::string("unknown"), "non-standard exception");
#else
            fail("unknown", "non-standard exception");
#endif
        }
    } catch (...) {
        // recording must never throw
    }
    return *this;
}

namespace detail {

inline void set_str(const std::optional<std::string>& s, const char*& p, std::size_t& n) noexcept {
    if (s) {
        p = s->data();
        n = s->size();
    } else {
        p = nullptr;
        n = 0;
    }
}

inline void pop_from_stack(CallContext* c) noexcept {
    auto& s = call_stack();
    for (auto it = s.rbegin(); it != s.rend(); ++it) {
        if (*it == c) {
            s.erase(std::next(it).base());
            return;
        }
    }
}

}  // namespace detail

inline bool CallContext::end() noexcept {
    if (ended_) return true;
    ended_ = true;
    if (pushed_) {
        detail::pop_from_stack(this);
        pushed_ = false;
    }
    if (handle_ == 0) return false;
    try {
        if (!error_type_ && std::uncaught_exceptions() > uncaught_) {
            error_type_ = "exception";
            error_message_ = "the scope was left by an exception before the call ended";
        }
        std::optional<std::string> props;
        if (!properties_.empty()) props = detail::properties_json(properties_);
        std::optional<std::string> atts;
        if (!attachments_.empty()) atts = detail::attachments_json(attachments_);

        rd_call_result r;
        std::memset(&r, 0, sizeof r);
        detail::set_str(output_, r.output, r.output_len);
        detail::set_str(model_, r.model, r.model_len);
        r.prompt_tokens = prompt_tokens_;
        r.completion_tokens = completion_tokens_;
        detail::set_str(finish_reason_, r.finish_reason, r.finish_reason_len);
        detail::set_str(error_type_, r.error_type, r.error_type_len);
        detail::set_str(error_message_, r.error_message, r.error_message_len);
        detail::set_str(props, r.properties_json, r.properties_json_len);
        detail::set_str(user_id_, r.user_id, r.user_id_len);
        detail::set_str(convo_id_, r.convo_id, r.convo_id_len);
        detail::set_str(event_name_, r.event_name, r.event_name_len);
        detail::set_str(timestamp_, r.timestamp, r.timestamp_len);
        detail::set_str(atts, r.attachments_json, r.attachments_json_len);

        rd_error e = detail::empty_error();
        const rd_result res = kind_ == SpanKind::module ? rd_wrap_end(client_, handle_, &r, &e)
                                                        : rd_span_end(client_, handle_, &r, &e);
        if (static_cast<int>(res) != 0) {
            detail::swallow(res, e, kind_ == SpanKind::module ? "rd_wrap_end" : "rd_span_end");
            return false;
        }
        return true;
    } catch (...) {
        // Out of memory while building the result: end with nothing rather than leak the call.
        rd_error e = detail::empty_error();
        const rd_result res = kind_ == SpanKind::module ? rd_wrap_end(client_, handle_, nullptr, &e)
                                                        : rd_span_end(client_, handle_, nullptr, &e);
        if (static_cast<int>(res) != 0) detail::swallow(res, e, "ending a call");
        detail::swallowed_counter().fetch_add(1, std::memory_order_relaxed);
        return false;
    }
}

inline void detail::call_ender::operator()(CallContext* c) const noexcept {
    c->end();
    delete c;
}

namespace detail {

/// Begins a call or span. Never throws a telemetry error: on failure the guard is still
/// returned (handle 0), recording on it is a no-op, and the failure is swallowed.
inline Call begin_call(rd_client client, SpanKind kind, std::string_view name,
                       const std::optional<std::string>& input, const CallOptions& opts) {
    Call call(new CallContext(client, kind, name));
    rd_call parent = 0;
    if (opts.parent) {
        if (opts.parent->client_handle() == client) parent = opts.parent->handle();
    } else if (!opts.detached) {
        auto& s = call_stack();
        for (auto it = s.rbegin(); it != s.rend(); ++it) {
            if ((*it)->client_handle() == client) {
                parent = (*it)->handle();
                break;
            }
        }
    }
    const char* in = input ? input->data() : nullptr;
    const std::size_t in_len = input ? input->size() : 0;
    rd_error e = empty_error();
    rd_call h = 0;
    rd_result r;
    if (kind == SpanKind::module) {
        std::optional<std::string> eid = opts.event_id;
        if (opts.make_event_id) {
            try {
                std::string g = opts.make_event_id();
                if (!g.empty()) eid = std::move(g);
            } catch (...) {
                swallowed_counter().fetch_add(1, std::memory_order_relaxed);
            }
        }
        char buf[RD_EVENT_ID_BUF_LEN];
        buf[0] = '\0';
        r = rd_wrap_begin(client, parent, name.data(), name.size(), in, in_len,
                          eid ? eid->data() : nullptr, eid ? eid->size() : 0, &h, buf, sizeof buf, &e);
        if (static_cast<int>(r) == 0) {
            buf[sizeof buf - 1] = '\0';
            call->event_id_ = buf;
        }
    } else {
        r = rd_span_begin(client, parent, static_cast<int32_t>(kind),
                          name.data(), name.size(), in, in_len, &h, &e);
    }
    if (static_cast<int>(r) == 0) {
        call->handle_ = h;
    } else {
        swallow(r, e, kind == SpanKind::module ? "rd_wrap_begin" : "rd_span_begin");
    }
    if (opts.user_id) call->user_id_ = opts.user_id;
    if (opts.convo_id) call->convo_id_ = opts.convo_id;
    if (opts.event_name) call->event_name_ = opts.event_name;
    if (!opts.detached) {
        call_stack().push_back(call.get());
        call->pushed_ = true;
    }
    return call;
}

}  // namespace detail

/// Marks the current call (if any) failed / sets its usage etc. without a null check.
inline void set_usage(std::int64_t prompt_tokens, std::int64_t completion_tokens) noexcept {
    if (auto* c = current_call()) c->set_usage(prompt_tokens, completion_tokens);
}
inline void set_model(std::string_view model) {
    if (auto* c = current_call()) c->set_model(model);
}
inline void set_finish_reason(std::string_view reason) {
    if (auto* c = current_call()) c->set_finish_reason(reason);
}

// ---------------------------------------------------------------------------------------------
// Wrapped callables
// ---------------------------------------------------------------------------------------------

namespace detail {

template <class Fn, class... Args>
decltype(auto) invoke_recorded(rd_client client, const std::string& name, const CallOptions& opts,
                               Fn& fn, Args&&... args) {
    using R = std::invoke_result_t<Fn&, Args&&...>;
    std::optional<std::string> input;
    try {
        input = input_text(static_cast<const std::remove_reference_t<Args>&>(args)...);
    } catch (...) {
        swallowed_counter().fetch_add(1, std::memory_order_relaxed);
    }
    Call call = begin_call(client, SpanKind::module, name, input, opts);
    try {
        if constexpr (std::is_void_v<R>) {
            std::invoke(fn, std::forward<Args>(args)...);
            call->end();
            return;
        } else {
            R result = std::invoke(fn, std::forward<Args>(args)...);
            try {
                call->set_output(result);
            } catch (...) {
                swallowed_counter().fetch_add(1, std::memory_order_relaxed);
            }
            call->end();
            return result;
        }
    } catch (...) {
        call->fail_current();
        call->end();
        throw;
    }
}

}  // namespace detail

/// A callable that records one call per invocation (see Client::wrap). Copyable / movable as
/// the wrapped callable is; holds the client's handle, not the Client: once the client is shut
/// down the callable still runs, only the recording fails (silently).
template <class F>
class Wrapped {
public:
    Wrapped(rd_client client, std::string name, F fn, CallOptions opts)
        : client_(client), name_(std::move(name)), fn_(std::move(fn)), opts_(std::move(opts)) {}

    template <class... Args, std::enable_if_t<std::is_invocable_v<F&, Args&&...>, int> = 0>
    decltype(auto) operator()(Args&&... args) {
        return detail::invoke_recorded(client_, name_, opts_, fn_, std::forward<Args>(args)...);
    }
    template <class... Args, std::enable_if_t<std::is_invocable_v<const F&, Args&&...>, int> = 0>
    decltype(auto) operator()(Args&&... args) const {
        return detail::invoke_recorded(client_, name_, opts_, fn_, std::forward<Args>(args)...);
    }

    /// Accepts a braced list: wrapped({{"question", "..."}}).
    template <class In = Inputs, std::enable_if_t<std::is_invocable_v<F&, const In&>, int> = 0>
    decltype(auto) operator()(const In& inputs) {
        return detail::invoke_recorded(client_, name_, opts_, fn_, inputs);
    }
    template <class In = Inputs, std::enable_if_t<std::is_invocable_v<const F&, const In&>, int> = 0>
    decltype(auto) operator()(const In& inputs) const {
        return detail::invoke_recorded(client_, name_, opts_, fn_, inputs);
    }

    const std::string& name() const noexcept { return name_; }
    /// The wrapped callable itself.
    F& target() noexcept { return fn_; }
    const F& target() const noexcept { return fn_; }

private:
    rd_client client_;
    std::string name_;
    F fn_;
    CallOptions opts_;
};

// ---------------------------------------------------------------------------------------------
// Client
// ---------------------------------------------------------------------------------------------

/// Owner of one rd_client: move-only; the destructor shuts it down (drains the queue within the
/// configured shutdown timeout). A moved-from Client holds no handle (calls on it throw
/// Error{Code::invalid_handle}; hot-path calls are no-ops).
class Client {
public:
    /// Creates a client. Throws Error (e.g. Code::invalid_config) when the core refuses.
    explicit Client(const Config& config = Config()) {
        const std::string json = config.to_json();
        rd_error e = detail::empty_error();
        rd_client h = 0;
        const rd_result r = rd_new(json.data(), json.size(), &h, &e);
        detail::check(r, e, "rd_new");
        detail::client_closer closer;
        if (config.shutdown_timeout) closer.timeout_ms = detail::to_ms(*config.shutdown_timeout);
        owner_ = detail::client_owner(detail::client_closer::pointer(h), closer);
        flush_timeout_ms_ = config.flush_timeout ? detail::to_ms(*config.flush_timeout) : -1;
    }

    Client(Client&&) noexcept = default;
    Client& operator=(Client&&) noexcept = default;
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;
    ~Client() = default;

    /// The raw rd_client handle (0 after move or shutdown).
    rd_client handle() const noexcept { return owner_.get().value; }
    explicit operator bool() const noexcept { return static_cast<bool>(owner_); }

    /// Wraps a callable: every invocation records one call (one event when top-level, a child
    /// span when invoked inside another call of this client). Inputs and outputs are recorded
    /// through to_text(): string maps become JSON objects, strings stay as they are. Exceptions
    /// are recorded (error.type = demangled dynamic type, error.message = what()) and rethrown
    /// unchanged. Telemetry failures never reach the caller.
    template <class F>
    Wrapped<std::decay_t<F>> wrap(std::string name, F&& fn, CallOptions options = CallOptions()) const {
        return Wrapped<std::decay_t<F>>(handle(), std::move(name), std::forward<F>(fn),
                                        std::move(options));
    }

    /// Begins a module call by hand (child of the current call of this client, if any).
    Call call(std::string_view name, const std::optional<std::string>& input = std::nullopt,
              const CallOptions& options = CallOptions()) const {
        return detail::begin_call(handle(), SpanKind::module, name, input, options);
    }
    /// Begins an LM / tool / module span under options.parent or the current call (standalone,
    /// with its own trace, outside any call).
    Span span(SpanKind kind, std::string_view name,
              const std::optional<std::string>& input = std::nullopt,
              const CallOptions& options = CallOptions()) const {
        return detail::begin_call(handle(), kind, name, input, options);
    }

    /// Associates traits with a user. Throws Error on bad arguments.
    void identify(std::string_view user_id, const Properties& traits = Properties()) const {
        const std::string t = detail::properties_json(traits);
        rd_error e = detail::empty_error();
        const rd_result r = rd_identify(handle(), user_id.data(), user_id.size(), t.data(), t.size(), &e);
        detail::check(r, e, "rd_identify");
    }

    /// Sends a signal about an earlier event. Throws Error (invalid_signal_type,
    /// invalid_sentiment, invalid_timestamp, invalid_argument, ...).
    void track_signal(const Signal& s) const {
        const std::string props = detail::properties_json(s.properties);
        rd_signal c;
        std::memset(&c, 0, sizeof c);
        c.event_id = s.event_id.data();
        c.event_id_len = s.event_id.size();
        c.name = s.name.data();
        c.name_len = s.name.size();
        detail::set_str(s.type, c.signal_type, c.signal_type_len);
        detail::set_str(s.timestamp, c.timestamp, c.timestamp_len);
        c.properties_json = props.data();
        c.properties_json_len = props.size();
        detail::set_str(s.attachment_id, c.attachment_id, c.attachment_id_len);
        detail::set_str(s.comment, c.comment, c.comment_len);
        detail::set_str(s.after, c.after, c.after_len);
        detail::set_str(s.sentiment, c.sentiment, c.sentiment_len);
        rd_error e = detail::empty_error();
        const rd_result r = rd_track_signal(handle(), &c, &e);
        detail::check(r, e, "rd_track_signal");
    }

    /// One complete AI event. Returns its event id, or an empty string when the core refused it
    /// (never throws a telemetry error: the failure is counted and logged).
    std::string track_ai(const Event& ev) const noexcept { return track_impl(ev, true); }
    /// One plain (non-AI) event; AI fields of ev are ignored. Same error rule as track_ai.
    std::string track(const Event& ev) const noexcept { return track_impl(ev, false); }

    /// Waits until everything queued before the call reached a final state. Returns false when
    /// the timeout came first. Throws Error for other failures (e.g. invalid_handle).
    bool flush() const { return flush_ms(flush_timeout_ms_); }
    template <class Rep, class Period>
    bool flush(std::chrono::duration<Rep, Period> timeout) const {
        return flush_ms(std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count());
    }

    /// Drains, stops the sender and frees the handle (the destructor does it otherwise).
    /// Idempotent. Returns false when the timeout came first (the handle is freed anyway).
    bool shutdown() { return shutdown_ms(owner_.get_deleter().timeout_ms); }
    template <class Rep, class Period>
    bool shutdown(std::chrono::duration<Rep, Period> timeout) {
        return shutdown_ms(std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count());
    }

    /// Delivery statistics. Throws Error (invalid_handle after shutdown).
    Stats stats() const {
        rd_stats s;
        std::memset(&s, 0, sizeof s);
        rd_error e = detail::empty_error();
        const rd_result r = rd_get_stats(handle(), &s, &e);
        detail::check(r, e, "rd_get_stats");
        Stats out;
        out.queued = s.queued;
        out.delivered = s.delivered;
        out.dropped_queue_full = s.dropped_queue_full;
        out.dropped_rejected = s.dropped_rejected;
        out.dropped_retry_budget = s.dropped_retry_budget;
        out.dropped_shutdown = s.dropped_shutdown;
        out.dropped_invalid = s.dropped_invalid;
        out.calls_expired = s.calls_expired;
        out.retries = s.retries;
        out.requests = s.requests;
        out.bytes_sent = s.bytes_sent;
        out.queue_depth = s.queue_depth;
        out.last_http_status = s.last_http_status;
        out.mirror_sent = s.mirror_sent;
        out.mirror_failed = s.mirror_failed;
        out.mirror_dropped = s.mirror_dropped;
        return out;
    }

private:
    bool flush_ms(std::int64_t ms) const {
        rd_error e = detail::empty_error();
        const rd_result r = rd_flush(handle(), ms < 0 ? -1 : ms, &e);
        if (static_cast<int>(r) == static_cast<int>(Code::timeout)) return false;
        detail::check(r, e, "rd_flush");
        return true;
    }

    bool shutdown_ms(std::int64_t ms) {
        auto h = owner_.release();
        if (!h) return true;
        rd_error e = detail::empty_error();
        const rd_result r = rd_shutdown(h.value, ms < 0 ? -1 : ms, &e);
        if (static_cast<int>(r) == static_cast<int>(Code::timeout)) return false;
        if (static_cast<int>(r) == static_cast<int>(Code::invalid_handle)) return true;
        detail::check(r, e, "rd_shutdown");
        return true;
    }

    std::string track_impl(const Event& ev, bool ai) const noexcept {
        try {
            std::optional<std::string> props;
            if (!ev.properties.empty()) props = detail::properties_json(ev.properties);
            std::optional<std::string> atts;
            if (!ev.attachments.empty()) atts = detail::attachments_json(ev.attachments);
            rd_event c;
            std::memset(&c, 0, sizeof c);
            detail::set_str(ev.event_id, c.event_id, c.event_id_len);
            detail::set_str(ev.user_id, c.user_id, c.user_id_len);
            detail::set_str(ev.event, c.event, c.event_len);
            detail::set_str(ev.timestamp, c.timestamp, c.timestamp_len);
            if (ai) {
                detail::set_str(ev.input, c.input, c.input_len);
                detail::set_str(ev.output, c.output, c.output_len);
                detail::set_str(ev.model, c.model, c.model_len);
                detail::set_str(ev.convo_id, c.convo_id, c.convo_id_len);
            }
            detail::set_str(props, c.properties_json, c.properties_json_len);
            detail::set_str(atts, c.attachments_json, c.attachments_json_len);
            char buf[RD_EVENT_ID_BUF_LEN];
            buf[0] = '\0';
            rd_error e = detail::empty_error();
            const rd_result r = ai ? rd_track_ai(handle(), &c, buf, sizeof buf, &e)
                                   : rd_track(handle(), &c, buf, sizeof buf, &e);
            if (static_cast<int>(r) != 0) {
                detail::swallow(r, e, ai ? "rd_track_ai" : "rd_track");
                return std::string();
            }
            buf[sizeof buf - 1] = '\0';
            return std::string(buf);
        } catch (...) {
            detail::swallowed_counter().fetch_add(1, std::memory_order_relaxed);
            return std::string();
        }
    }

    detail::client_owner owner_;
    std::int64_t flush_timeout_ms_ = -1;
};

}  // namespace raindrop

#endif  // RAINDROP_RAINDROP_HPP
