// A small JSON reader for test assertions only (the binding itself only writes JSON).
#ifndef RAINDROP_TEST_MINI_JSON_HPP
#define RAINDROP_TEST_MINI_JSON_HPP

#include <cstdlib>
#include <stdexcept>
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
        if (type != Type::object) return false;
        for (const auto& kv : o)
            if (kv.first == key) return true;
        return false;
    }
    const Value& operator[](const std::string& key) const {
        static const Value null_value;
        if (type == Type::object)
            for (const auto& kv : o)
                if (kv.first == key) return kv.second;
        return null_value;
    }
    const Value& operator[](std::size_t i) const {
        static const Value null_value;
        return (type == Type::array && i < a.size()) ? a[i] : null_value;
    }
    std::size_t size() const { return type == Type::array ? a.size() : o.size(); }
    /// The string value ("" when not a string).
    const std::string& str() const { return s; }
    long long integer() const { return static_cast<long long>(n); }
};

class Parser {
public:
    explicit Parser(const std::string& text) : t_(text) {}
    Value parse() {
        Value v = value();
        ws();
        if (i_ != t_.size()) fail("trailing characters");
        return v;
    }

private:
    [[noreturn]] void fail(const char* what) const {
        throw std::runtime_error(std::string("json: ") + what + " at " + std::to_string(i_));
    }
    void ws() {
        while (i_ < t_.size() && (t_[i_] == ' ' || t_[i_] == '\n' || t_[i_] == '\r' || t_[i_] == '\t')) ++i_;
    }
    char peek() {
        ws();
        if (i_ >= t_.size()) fail("unexpected end");
        return t_[i_];
    }
    void expect(char c) {
        if (peek() != c) fail("unexpected character");
        ++i_;
    }
    bool literal(const char* w) {
        std::size_t n = std::char_traits<char>::length(w);
        if (t_.compare(i_, n, w) == 0) {
            i_ += n;
            return true;
        }
        return false;
    }
    Value value() {
        Value v;
        const char c = peek();
        if (c == '{') {
            v.type = Value::Type::object;
            ++i_;
            if (peek() == '}') {
                ++i_;
                return v;
            }
            for (;;) {
                if (peek() != '"') fail("expected key");
                std::string k = string();
                expect(':');
                v.o.emplace_back(std::move(k), value());
                const char d = peek();
                ++i_;
                if (d == '}') return v;
                if (d != ',') fail("expected , or }");
            }
        }
        if (c == '[') {
            v.type = Value::Type::array;
            ++i_;
            if (peek() == ']') {
                ++i_;
                return v;
            }
            for (;;) {
                v.a.push_back(value());
                const char d = peek();
                ++i_;
                if (d == ']') return v;
                if (d != ',') fail("expected , or ]");
            }
        }
        if (c == '"') {
            v.type = Value::Type::string;
            v.s = string();
            return v;
        }
        if (literal("true")) {
            v.type = Value::Type::boolean;
            v.b = true;
            return v;
        }
        if (literal("false")) {
            v.type = Value::Type::boolean;
            return v;
        }
        if (literal("null")) return v;
        const char* start = t_.c_str() + i_;
        char* end = nullptr;
        v.n = std::strtod(start, &end);
        if (end == start) fail("bad value");
        i_ += static_cast<std::size_t>(end - start);
        v.type = Value::Type::number;
        return v;
    }
    static void utf8(std::string& out, unsigned long cp) {
        if (cp < 0x80) {
            out.push_back(static_cast<char>(cp));
        } else if (cp < 0x800) {
            out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
            out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        } else if (cp < 0x10000) {
            out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
            out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
            out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        } else {
            out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
            out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
            out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
            out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        }
    }
    unsigned long hex4() {
        if (i_ + 4 > t_.size()) fail("bad \\u escape");
        unsigned long v = std::stoul(t_.substr(i_, 4), nullptr, 16);
        i_ += 4;
        return v;
    }
    std::string string() {
        expect('"');
        std::string out;
        for (;;) {
            if (i_ >= t_.size()) fail("unterminated string");
            const char c = t_[i_++];
            if (c == '"') return out;
            if (c != '\\') {
                out.push_back(c);
                continue;
            }
            if (i_ >= t_.size()) fail("bad escape");
            const char e = t_[i_++];
            switch (e) {
                case '"': out.push_back('"'); break;
                case '\\': out.push_back('\\'); break;
                case '/': out.push_back('/'); break;
                case 'b': out.push_back('\b'); break;
                case 'f': out.push_back('\f'); break;
                case 'n': out.push_back('\n'); break;
                case 'r': out.push_back('\r'); break;
                case 't': out.push_back('\t'); break;
                case 'u': {
                    unsigned long cp = hex4();
                    if (cp >= 0xD800 && cp < 0xDC00 && t_.compare(i_, 2, "\\u") == 0) {
                        i_ += 2;
                        const unsigned long lo = hex4();
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    }
                    utf8(out, cp);
                    break;
                }
                default: fail("bad escape");
            }
        }
    }

    const std::string& t_;
    std::size_t i_ = 0;
};

inline Value parse(const std::string& text) { return Parser(text).parse(); }

}  // namespace mjson

#endif
