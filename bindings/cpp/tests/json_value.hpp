// What the test assertions read JSON with: nlohmann/json parses (Debian: nlohmann-json3-dev;
// run-tests.sh installs it), and Value is the small read-only view the tests use: a missing key
// or index gives null, str() gives "" for a non-string, keys keep their order.
#ifndef RAINDROP_TEST_JSON_VALUE_HPP
#define RAINDROP_TEST_JSON_VALUE_HPP

#include <nlohmann/json.hpp>

#include <string>
#include <utility>
#include <vector>

namespace mjson {

struct Value {
    enum class Type { null, boolean, number, string, array, object };
    Type type = Type::null;
    bool b = false;
    double n = 0;
    std::string s;
    std::vector<Value> a;
    std::vector<std::pair<std::string, Value>> o;

    bool is_null() const { return type == Type::null; }
    bool is_string() const { return type == Type::string; }
    bool is_number() const { return type == Type::number; }
    bool is_object() const { return type == Type::object; }
    bool is_array() const { return type == Type::array; }

    bool has(const std::string& key) const {
        for (const auto& kv : o)
            if (kv.first == key) return true;
        return false;
    }
    const Value& operator[](const std::string& key) const {
        static const Value null_value;
        for (const auto& kv : o)
            if (kv.first == key) return kv.second;
        return null_value;
    }
    const Value& operator[](std::size_t i) const {
        static const Value null_value;
        return i < a.size() ? a[i] : null_value;
    }
    std::size_t size() const { return type == Type::array ? a.size() : o.size(); }
    /// The string value ("" when not a string).
    const std::string& str() const { return s; }
    long long integer() const { return static_cast<long long>(n); }
};

inline Value from(const nlohmann::ordered_json& j) {
    Value v;
    if (j.is_boolean()) {
        v.type = Value::Type::boolean;
        v.b = j.get<bool>();
    } else if (j.is_number()) {
        v.type = Value::Type::number;
        v.n = j.get<double>();
    } else if (j.is_string()) {
        v.type = Value::Type::string;
        v.s = j.get<std::string>();
    } else if (j.is_array()) {
        v.type = Value::Type::array;
        for (const auto& e : j) v.a.push_back(from(e));
    } else if (j.is_object()) {
        v.type = Value::Type::object;
        for (const auto& kv : j.items()) v.o.emplace_back(kv.key(), from(kv.value()));
    }
    return v;
}

/// Parses one JSON text; throws on malformed input (nlohmann::json::parse_error).
inline Value parse(const std::string& text) { return from(nlohmann::ordered_json::parse(text)); }

}  // namespace mjson

#endif
