// raindrop/json.hpp - writing JSON (no third-party library: only what the binding sends).
// Part of the header-only C++ binding; include <raindrop/raindrop.hpp>, which includes every part.
#ifndef RAINDROP_JSON_HPP
#define RAINDROP_JSON_HPP

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace raindrop {

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

}  // namespace raindrop

#endif  // RAINDROP_JSON_HPP
