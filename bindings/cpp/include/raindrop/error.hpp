// raindrop/error.hpp - result codes, raindrop::Error, and how the hot path swallows telemetry failures.
// Part of the header-only C++ binding; include <raindrop/raindrop.hpp>, which includes every part.
#ifndef RAINDROP_ERROR_HPP
#define RAINDROP_ERROR_HPP

#include <raindrop_dspy.h>
#include <raindrop/log.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>

namespace raindrop {


/// Version of this C++ layer (the core's version: raindrop::core_version()).
inline constexpr const char* cpp_version = "0.1.0";

/// The result codes of the C ABI (same values as rd_result).
enum class Code : int {
    ok = RD_OK,
    invalid_handle = RD_ERR_INVALID_HANDLE,
    null_argument = RD_ERR_NULL_ARGUMENT,
    invalid_json = RD_ERR_INVALID_JSON,
    invalid_argument = RD_ERR_INVALID_ARGUMENT,
    invalid_signal_type = RD_ERR_INVALID_SIGNAL_TYPE,
    invalid_sentiment = RD_ERR_INVALID_SENTIMENT,
    invalid_timestamp = RD_ERR_INVALID_TIMESTAMP,
    invalid_config = RD_ERR_INVALID_CONFIG,
    queue_full = RD_ERR_QUEUE_FULL,
    timeout = RD_ERR_TIMEOUT,
    too_many_open_calls = RD_ERR_TOO_MANY_OPEN_CALLS,
    items_dropped = RD_ERR_ITEMS_DROPPED,
    internal = RD_ERR_INTERNAL,
};

/// The header's name for a code ("RD_ERR_INVALID_HANDLE", ...), from rd_result_name.
inline const char* code_name(Code code) noexcept {
    return rd_result_name(static_cast<int32_t>(code));
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

inline std::atomic<std::int64_t>& last_log_ms() noexcept {
    static std::atomic<std::int64_t> t{std::numeric_limits<std::int64_t>::min() / 2};
    return t;
}

/// Records a telemetry failure that must not reach user code: counts it and logs it at most
/// once per 30 s (process-wide), to the Config::logger of `client` when it has one, else stderr.
inline void swallow(rd_result r, const rd_error& e, const char* where, rd_client client = rd_client{0}) noexcept {
    if (r == RD_OK) return;
    swallowed_counter().fetch_add(1, std::memory_order_relaxed);
    // The core itself warns about a full queue (rate-limited): counted here, not logged twice.
    if (r == RD_ERR_QUEUE_FULL) return;
    using namespace std::chrono;
    const std::int64_t now = duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
    std::int64_t last = last_log_ms().load(std::memory_order_relaxed);
    if (now - last < 30000) return;
    if (!last_log_ms().compare_exchange_strong(last, now, std::memory_order_relaxed)) return;
    const char* msg = e.message[0] != '\0' ? e.message : code_name(to_code(r));
    char line[512];
    const int n = std::snprintf(line, sizeof line,
                                "raindrop: %s failed (%s): %.*s; telemetry errors never reach your code, "
                                "further messages are suppressed for 30 s",
                                where, code_name(to_code(r)), static_cast<int>(sizeof e.message), msg);
    if (n < 0) return;
    const std::size_t len = static_cast<std::size_t>(n) < sizeof line ? static_cast<std::size_t>(n) : sizeof line - 1;
    if (!log_to_client(client, LogLevel::warn, std::string_view(line, len))) std::fprintf(stderr, "%s\n", line);
}

inline void check(rd_result r, const rd_error& e, const char* where) {
    if (r == RD_OK) return;
    if (r == RD_ERR_QUEUE_FULL) {
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

}  // namespace raindrop

#endif  // RAINDROP_ERROR_HPP
