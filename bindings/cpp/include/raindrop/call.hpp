// raindrop/call.hpp - call and span guards (RAII over rd_wrap_begin/end and rd_span_begin/end).
// Part of the header-only C++ binding; include <raindrop/raindrop.hpp>, which includes every part.
#ifndef RAINDROP_CALL_HPP
#define RAINDROP_CALL_HPP

#include <raindrop_dspy.h>
#include <raindrop/config.hpp>
#include <raindrop/error.hpp>
#include <raindrop/json.hpp>
#include <raindrop/text.hpp>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <typeinfo>
#include <vector>

#if defined(__has_include)
#if __has_include(<cxxabi.h>)
#include <cxxabi.h>
#define RAINDROP_HAVE_CXXABI 1
#endif
#endif

namespace raindrop {

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
    std::int64_t timeout_ms = RD_TIMEOUT_DEFAULT;
    void operator()(pointer h) const noexcept {
        rd_error e = empty_error();
        (void)rd_shutdown(rd_client{h.value}, timeout_ms, nullptr, &e);
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
    /// The user and convo set while the call runs reach its event and its root span only: the
    /// spans begun before were already recorded. To put them on every span of the call, pass
    /// them up front in `CallOptions` (rd_call_options).
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
    rd_call handle_{};
    SpanKind kind_;
    std::string name_;
    std::string event_id_;
    int uncaught_;
    bool ended_ = false;
    bool pushed_ = false;

    std::optional<std::string> output_, model_, finish_reason_, error_type_, error_message_;
    std::optional<std::string> user_id_, convo_id_, event_name_, timestamp_;
    std::int64_t prompt_tokens_ = RD_TOKENS_UNKNOWN;
    std::int64_t completion_tokens_ = RD_TOKENS_UNKNOWN;
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
    if (handle_.id == 0) return false;
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
        if (res != RD_OK) {
            detail::swallow(res, e, kind_ == SpanKind::module ? "rd_wrap_end" : "rd_span_end", client_);
            return false;
        }
        return true;
    } catch (...) {
        // Out of memory while building the result: end with nothing rather than leak the call.
        rd_error e = detail::empty_error();
        const rd_result res = kind_ == SpanKind::module ? rd_wrap_end(client_, handle_, nullptr, &e)
                                                        : rd_span_end(client_, handle_, nullptr, &e);
        if (res != RD_OK) detail::swallow(res, e, "ending a call", client_);
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
    rd_call parent{};
    if (opts.parent) {
        if (opts.parent->client_handle().id == client.id) parent = opts.parent->handle();
    } else if (!opts.detached) {
        auto& s = call_stack();
        for (auto it = s.rbegin(); it != s.rend(); ++it) {
            if ((*it)->client_handle().id == client.id) {
                parent = (*it)->handle();
                break;
            }
        }
    }
    const char* in = input ? input->data() : nullptr;
    const std::size_t in_len = input ? input->size() : 0;
    rd_error e = empty_error();
    rd_call h{};
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
        // A top-level call's options go to the core at begin: every span under it carries its
        // user, convo and event name. A nested call shares its top-level call's.
        rd_call_options o{};
        set_str(eid, o.event_id, o.event_id_len);
        set_str(opts.user_id, o.user_id, o.user_id_len);
        set_str(opts.convo_id, o.convo_id, o.convo_id_len);
        set_str(opts.event_name, o.event_name, o.event_name_len);
        r = rd_wrap_begin(client, parent, name.data(), name.size(), in, in_len, parent.id == 0 ? &o : nullptr,
                          &h, buf, sizeof buf, &e);
        if (r == RD_OK) {
            buf[sizeof buf - 1] = '\0';
            call->event_id_ = buf;
        }
    } else {
        r = rd_span_begin(client, parent, static_cast<int32_t>(kind),
                          name.data(), name.size(), in, in_len, &h, &e);
    }
    if (r == RD_OK) {
        call->handle_ = h;
    } else {
        swallow(r, e, kind == SpanKind::module ? "rd_wrap_begin" : "rd_span_begin", client);
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

}  // namespace raindrop

#endif  // RAINDROP_CALL_HPP
