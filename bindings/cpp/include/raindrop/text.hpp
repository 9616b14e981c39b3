// raindrop/text.hpp - the text recorded for the inputs and outputs of wrapped callables.
// Part of the header-only C++ binding; include <raindrop/raindrop.hpp>, which includes every part.
#ifndef RAINDROP_TEXT_HPP
#define RAINDROP_TEXT_HPP

#include <raindrop/json.hpp>

#include <iterator>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace raindrop {

/// Inputs of a DSPy-style module: named fields to text.
using Inputs = std::map<std::string, std::string>;
/// Outputs of a DSPy-style module: named fields to text.
using Outputs = std::map<std::string, std::string>;

/// The customisation point for the text of a type: specialise it for a type of yours, or for a
/// standard type this library does not cover (adding overloads to namespace std is not allowed,
/// specialising a template of namespace raindrop is):
///
///     template <> struct raindrop::text_traits<Ticket> {
///         static std::string to_text(const Ticket& t) { return t.subject; }
///         // optional: how the value looks inside a container (default: a JSON string of to_text)
///         static raindrop::Json to_json(const Ticket& t) { return raindrop::Json::object({{"id", t.id}}); }
///     };
///
/// The second parameter allows partial specialisations constrained with std::enable_if_t. A
/// specialisation wins over the built-in conversions below, so it can also change how a standard
/// type is recorded.
template <class T, class Enable = void>
struct text_traits;

namespace detail {

template <class T, class = void>
struct has_text_traits : std::false_type {};
template <class T>
struct has_text_traits<T, std::void_t<decltype(text_traits<T>::to_text(std::declval<const T&>()))>>
    : std::true_type {};

template <class T, class = void>
struct has_json_traits : std::false_type {};
template <class T>
struct has_json_traits<T, std::void_t<decltype(text_traits<T>::to_json(std::declval<const T&>()))>>
    : std::true_type {};

/// The older customisation point: `std::string raindrop_text(const T&)` found by
/// argument-dependent lookup (works for types of your own namespaces, not for std types).
template <class T, class = void>
struct has_adl_text : std::false_type {};
template <class T>
struct has_adl_text<T, std::void_t<decltype(raindrop_text(std::declval<const T&>()))>> : std::true_type {};

template <class T, class = void>
struct is_map_like : std::false_type {};
template <class T>
struct is_map_like<T, std::void_t<typename T::key_type, typename T::mapped_type,
                                  decltype(std::declval<const T&>().begin())>> : std::true_type {};

/// Any range that is not a string or a map: vector, list, deque, array, set, ... (a JSON array).
template <class T, class = void>
struct is_sequence : std::false_type {};
template <class T>
struct is_sequence<T, std::void_t<decltype(std::begin(std::declval<const T&>())),
                                  decltype(std::end(std::declval<const T&>()))>>
    : std::bool_constant<!std::is_convertible_v<const T&, std::string_view> && !is_map_like<T>::value> {};

template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};

template <class T>
struct is_pair : std::false_type {};
template <class A, class B>
struct is_pair<std::pair<A, B>> : std::true_type {};

template <class T>
inline constexpr bool unsupported_text_type = false;

template <class T>
Json to_json_value(const T& v);

/// The JSON text of a map key: strings as they are, anything else through to_text.
template <class K>
std::string key_text(const K& k);

/// A map as a JSON object.
template <class M>
std::string map_json(const M& m) {
    std::string out = "{";
    bool first = true;
    for (const auto& kv : m) {
        if (!first) out.push_back(',');
        first = false;
        append_json_string(out, key_text(kv.first));
        out.push_back(':');
        out += to_json_value(kv.second).dump();
    }
    out.push_back('}');
    return out;
}

/// A range as a JSON array.
template <class S>
std::string sequence_json(const S& s) {
    std::string out = "[";
    bool first = true;
    for (const auto& v : s) {
        if (!first) out.push_back(',');
        first = false;
        out += to_json_value(v).dump();
    }
    out.push_back(']');
    return out;
}

/// A value inside a container.
template <class T>
Json to_json_value(const T& v) {
    using U = std::decay_t<T>;
    if constexpr (has_json_traits<U>::value) {
        return text_traits<U>::to_json(v);
    } else if constexpr (has_text_traits<U>::value) {
        return Json(std::string(text_traits<U>::to_text(v)));
    } else if constexpr (std::is_same_v<U, Json>) {
        return v;
    } else if constexpr (std::is_convertible_v<const U&, std::string_view>) {
        return Json(std::string_view(v));
    } else if constexpr (std::is_arithmetic_v<U>) {
        return Json(v);
    } else if constexpr (is_optional<U>::value) {
        return v ? to_json_value(*v) : Json(nullptr);
    } else if constexpr (is_map_like<U>::value) {
        return Json::raw(map_json(v));
    } else if constexpr (is_pair<U>::value) {
        return Json::array({to_json_value(v.first), to_json_value(v.second)});
    } else if constexpr (is_sequence<U>::value) {
        return Json::raw(sequence_json(v));
    } else if constexpr (has_adl_text<U>::value) {
        return Json(std::string(raindrop_text(v)));
    } else {
        static_assert(unsupported_text_type<U>,
                      "raindrop: no text for this type: specialise raindrop::text_traits<T> "
                      "(see raindrop/text.hpp)");
        return Json();
    }
}

}  // namespace detail

/// The text recorded for a value given to or returned by a wrapped callable: strings as they
/// are; maps as a JSON object (an empty map: absent); other ranges (vector, list, set, array,
/// ...) as a JSON array; numbers and bools as JSON; optionals by value (nullopt: absent).
/// Other types: specialise raindrop::text_traits (above).
template <class T>
std::optional<std::string> to_text(const T& v) {
    using U = std::decay_t<T>;
    if constexpr (detail::has_text_traits<U>::value) {
        return std::string(text_traits<U>::to_text(v));
    } else if constexpr (std::is_convertible_v<const U&, std::string_view>) {
        return std::string(std::string_view(v));
    } else if constexpr (detail::is_map_like<U>::value) {
        if (v.begin() == v.end()) return std::nullopt;
        return detail::map_json(v);
    } else if constexpr (detail::is_optional<U>::value) {
        if (!v) return std::nullopt;
        return to_text(*v);
    } else if constexpr (std::is_arithmetic_v<U> || detail::is_pair<U>::value || detail::is_sequence<U>::value) {
        return detail::to_json_value(v).dump();
    } else if constexpr (detail::has_adl_text<U>::value) {
        return std::string(raindrop_text(v));
    } else {
        static_assert(detail::unsupported_text_type<U>,
                      "raindrop: no text for this type: specialise raindrop::text_traits<T> "
                      "(see raindrop/text.hpp)");
        return std::nullopt;
    }
}

namespace detail {

template <class K>
std::string key_text(const K& k) {
    if constexpr (std::is_convertible_v<const K&, std::string_view>) {
        return std::string(std::string_view(k));
    } else {
        return to_text(k).value_or(std::string());
    }
}

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

}  // namespace raindrop

#endif  // RAINDROP_TEXT_HPP
