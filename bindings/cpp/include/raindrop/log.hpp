// raindrop/log.hpp - where log lines go: the core's (through rd_logger) and this layer's own.
// Part of the header-only C++ binding; include <raindrop/raindrop.hpp>, which includes every part.
#ifndef RAINDROP_LOG_HPP
#define RAINDROP_LOG_HPP

#include <raindrop_dspy.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string_view>
#include <unordered_map>

namespace raindrop {

/// Level of a log line (rd_log_level).
enum class LogLevel : int { debug = RD_LOG_DEBUG, info = RD_LOG_INFO, warn = RD_LOG_WARN, error = RD_LOG_ERROR };

/// Where a client's log lines go (see Config::logger).
using LogCallback = std::function<void(LogLevel level, std::string_view message)>;

namespace detail {

inline std::atomic<std::uint64_t>& swallowed_counter() noexcept {
    static std::atomic<std::uint64_t> n{0};
    return n;
}

/// The rd_logger trampoline: user_data is the Client's LogCallback. Never unwinds into C.
inline void log_trampoline(void* user_data, rd_log_level level, const char* message, std::size_t len) {
    try {
        (*static_cast<const LogCallback*>(user_data))(static_cast<LogLevel>(level), std::string_view(message, len));
    } catch (...) {
        swallowed_counter().fetch_add(1, std::memory_order_relaxed);
    }
}

/// The Config::logger of every live client that has one, by rd_client id, so that this layer's
/// own messages (a call the core refused) reach the same place as the core's. A Client adds its
/// logger when it is created and removes it once rd_shutdown returned; the lock is held while a
/// logger runs, so none runs after its client is shut down (recursive: a logger may log).
struct client_loggers {
    std::recursive_mutex lock;
    std::unordered_map<std::uint64_t, const LogCallback*> by_client;
};

inline client_loggers& loggers() {
    static client_loggers registry;
    return registry;
}

inline void add_logger(rd_client client, const LogCallback* logger) {
    auto& r = loggers();
    std::lock_guard<std::recursive_mutex> g(r.lock);
    r.by_client[client.id] = logger;
}

inline void remove_logger(rd_client client) noexcept {
    auto& r = loggers();
    std::lock_guard<std::recursive_mutex> g(r.lock);
    r.by_client.erase(client.id);
}

/// Hands line to the client's logger; false when it has none (the caller writes to stderr).
inline bool log_to_client(rd_client client, LogLevel level, std::string_view line) noexcept {
    if (client.id == 0) return false;
    try {
        auto& r = loggers();
        std::lock_guard<std::recursive_mutex> g(r.lock);
        const auto it = r.by_client.find(client.id);
        if (it == r.by_client.end()) return false;
        (*it->second)(level, line);
    } catch (...) {
        swallowed_counter().fetch_add(1, std::memory_order_relaxed);
    }
    return true;
}

}  // namespace detail
}  // namespace raindrop

#endif  // RAINDROP_LOG_HPP
