// raindrop/client.hpp - raindrop::Client, the move-only owner of one rd_client.
// Part of the header-only C++ binding; include <raindrop/raindrop.hpp>, which includes every part.
#ifndef RAINDROP_CLIENT_HPP
#define RAINDROP_CLIENT_HPP

#include <raindrop_dspy.h>
#include <raindrop/call.hpp>
#include <raindrop/config.hpp>
#include <raindrop/error.hpp>
#include <raindrop/json.hpp>
#include <raindrop/wrap.hpp>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace raindrop {

/// Owner of one rd_client: move-only; the destructor shuts it down (drains the queue within the
/// configured shutdown timeout). A moved-from Client holds no handle (calls on it throw
/// Error{Code::invalid_handle}; hot-path calls are no-ops).
class Client {
public:
    /// Creates a client. Throws Error (e.g. Code::invalid_config) when the core refuses.
    explicit Client(const Config& config = Config()) {
        const std::string json = config.to_json();
        rd_error e = detail::empty_error();
        rd_client h{};
        rd_logger logger{};
        if (config.logger) {
            // Lives until the client is shut down (after rd_shutdown returned, nothing calls it).
            log_sink_ = std::make_unique<LogCallback>(config.logger);
            logger.log = &detail::log_trampoline;
            logger.user_data = log_sink_.get();
        }
        const rd_result r = rd_new(json.data(), json.size(), config.logger ? &logger : nullptr, &h, &e);
        detail::check(r, e, "rd_new");
        detail::client_closer closer;
        if (config.shutdown_timeout) closer.timeout_ms = detail::to_ms(*config.shutdown_timeout);
        owner_ = detail::client_owner(detail::client_closer::pointer(h.id), closer);
        flush_timeout_ms_ = config.flush_timeout ? detail::to_ms(*config.flush_timeout) : RD_TIMEOUT_DEFAULT;
        if (log_sink_) detail::add_logger(h, log_sink_.get());  // this layer's own messages too
    }

    Client(Client&&) noexcept = default;
    /// Shuts this client down first (as the destructor does), then takes o's.
    Client& operator=(Client&& o) noexcept {
        if (this != &o) {
            close_quietly();
            log_sink_ = std::move(o.log_sink_);
            owner_ = std::move(o.owner_);
            flush_timeout_ms_ = o.flush_timeout_ms_;
            final_stats_ = std::move(o.final_stats_);
        }
        return *this;
    }
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;
    /// Shuts the client down within the configured shutdown timeout; never throws.
    ~Client() { close_quietly(); }

    /// The raw rd_client handle ({0} after move or shutdown).
    rd_client handle() const noexcept { return rd_client{owner_.get().value}; }
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
    /// Afterwards stats() returns the final statistics.
    bool shutdown() { return shutdown_ms(owner_.get_deleter().timeout_ms); }
    template <class Rep, class Period>
    bool shutdown(std::chrono::duration<Rep, Period> timeout) {
        return shutdown_ms(std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count());
    }

    /// Delivery statistics. After shutdown(): the final statistics the shutdown handed back
    /// (dropped_shutdown included). Throws Error (invalid_handle after a move).
    Stats stats() const {
        if (!owner_ && final_stats_) return *final_stats_;
        rd_stats s;
        std::memset(&s, 0, sizeof s);
        rd_error e = detail::empty_error();
        const rd_result r = rd_get_stats(handle(), &s, &e);
        detail::check(r, e, "rd_get_stats");
        return to_stats(s);
    }

private:
    static Stats to_stats(const rd_stats& s) noexcept {
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
        out.spooled = s.spooled;
        out.replayed = s.replayed;
        out.spool_dropped = s.spool_dropped;
        out.spool_pending = s.spool_pending;
        out.calls_refused = s.calls_refused;
        return out;
    }

    bool flush_ms(std::int64_t ms) const {
        rd_error e = detail::empty_error();
        const rd_result r = rd_flush(handle(), ms < 0 ? RD_TIMEOUT_DEFAULT : ms, &e);
        if (static_cast<int>(r) == static_cast<int>(Code::timeout)) return false;
        detail::check(r, e, "rd_flush");
        return true;
    }

    bool shutdown_ms(std::int64_t ms) {
        auto h = owner_.release();
        if (!h) return true;
        rd_error e = detail::empty_error();
        rd_stats s;
        std::memset(&s, 0, sizeof s);
        const rd_result r = rd_shutdown(rd_client{h.value}, ms < 0 ? RD_TIMEOUT_DEFAULT : ms, &s, &e);
        // The core calls the logger no more; neither does this layer (log_sink_ may go now).
        if (log_sink_) detail::remove_logger(rd_client{h.value});
        if (r != RD_ERR_INVALID_HANDLE) final_stats_ = to_stats(s);
        if (r == RD_ERR_TIMEOUT) return false;
        // Items dropped while draining are counted in stats().dropped_*, as before the code existed.
        if (r == RD_ERR_INVALID_HANDLE || r == RD_ERR_ITEMS_DROPPED) return true;
        detail::check(r, e, "rd_shutdown");
        return true;
    }

    void close_quietly() noexcept {
        try {
            (void)shutdown_ms(owner_.get_deleter().timeout_ms);
        } catch (...) {
            // a destructor never throws: the handle is freed whatever rd_shutdown said
        }
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
            if (r != RD_OK) {
                detail::swallow(r, e, ai ? "rd_track_ai" : "rd_track", handle());
                return std::string();
            }
            buf[sizeof buf - 1] = '\0';
            return std::string(buf);
        } catch (...) {
            detail::swallowed_counter().fetch_add(1, std::memory_order_relaxed);
            return std::string();
        }
    }

    std::unique_ptr<LogCallback> log_sink_;  // outlives the shutdown (see close_quietly, shutdown_ms)
    detail::client_owner owner_;
    std::int64_t flush_timeout_ms_ = RD_TIMEOUT_DEFAULT;
    std::optional<Stats> final_stats_;
};

}  // namespace raindrop

#endif  // RAINDROP_CLIENT_HPP
