// raindrop/wrap.hpp - wrapped callables: one recorded call per invocation.
// Part of the header-only C++ binding; include <raindrop/raindrop.hpp>, which includes every part.
#ifndef RAINDROP_WRAP_HPP
#define RAINDROP_WRAP_HPP

#include <raindrop/call.hpp>
#include <raindrop/config.hpp>
#include <raindrop/text.hpp>

#include <functional>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

namespace raindrop {

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

}  // namespace raindrop

#endif  // RAINDROP_WRAP_HPP
