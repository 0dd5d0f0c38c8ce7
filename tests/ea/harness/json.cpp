#include "json.h"

#include "../shim/mql5_string.h"

#include <cstdio>

namespace json {

Value Value::make_bool(bool value) {
    Value result;
    result.m_type = Type::boolean;
    result.m_bool = value;
    return result;
}

Value Value::make_number(std::string text) {
    Value result;
    result.m_type = Type::number;
    result.m_text = std::move(text);
    return result;
}

Value Value::make_string(std::string text) {
    Value result;
    result.m_type = Type::string;
    result.m_text = std::move(text);
    return result;
}

Value Value::make_array() {
    Value result;
    result.m_type = Type::array;
    return result;
}

Value Value::make_object() {
    Value result;
    result.m_type = Type::object;
    return result;
}

const Value *Value::find(const std::string &key) const {
    for (const auto &member : m_members) {
        if (member.first == key) {
            return &member.second;
        }
    }
    return nullptr;
}

namespace {

class Parser {
public:
    explicit Parser(const std::string &text) : m_text(text) {}

    Value document() {
        Value value = parse_value(0);
        skip_space();
        if (m_at != m_text.size()) {
            fail("unexpected text after the JSON value");
        }
        return value;
    }

private:
    [[noreturn]] void fail(const std::string &message) const {
        std::size_t line = 1;
        std::size_t column = 1;
        for (std::size_t i = 0; i < m_at && i < m_text.size(); ++i) {
            if (m_text[i] == '\n') {
                ++line;
                column = 1;
            } else {
                ++column;
            }
        }
        throw ParseError("line " + std::to_string(line) + ", column " + std::to_string(column) + ": " + message);
    }

    void skip_space() {
        while (m_at < m_text.size() &&
               (m_text[m_at] == ' ' || m_text[m_at] == '\t' || m_text[m_at] == '\n' || m_text[m_at] == '\r')) {
            ++m_at;
        }
    }

    bool take(const char *word) {
        const std::string expected(word);
        if (m_text.compare(m_at, expected.size(), expected) == 0) {
            m_at += expected.size();
            return true;
        }
        return false;
    }

    Value parse_value(int depth) {
        if (depth > 64) {
            fail("nested too deeply");
        }
        skip_space();
        if (m_at >= m_text.size()) {
            fail("unexpected end of input");
        }
        const char c = m_text[m_at];
        if (c == '{') {
            return parse_object(depth);
        }
        if (c == '[') {
            return parse_array(depth);
        }
        if (c == '"') {
            return Value::make_string(parse_string());
        }
        if (take("true")) {
            return Value::make_bool(true);
        }
        if (take("false")) {
            return Value::make_bool(false);
        }
        if (take("null")) {
            return Value();
        }
        if (c == '-' || (c >= '0' && c <= '9')) {
            return parse_number();
        }
        fail(std::string("unexpected character '") + c + "'");
    }

    Value parse_object(int depth) {
        Value object = Value::make_object();
        ++m_at;
        skip_space();
        if (m_at < m_text.size() && m_text[m_at] == '}') {
            ++m_at;
            return object;
        }
        while (true) {
            skip_space();
            if (m_at >= m_text.size() || m_text[m_at] != '"') {
                fail("expected a member name");
            }
            std::string key = parse_string();
            if (object.find(key) != nullptr) {
                fail("duplicate member '" + key + "'");
            }
            skip_space();
            if (m_at >= m_text.size() || m_text[m_at] != ':') {
                fail("expected ':'");
            }
            ++m_at;
            Value value = parse_value(depth + 1);
            object.members().emplace_back(std::move(key), std::move(value));
            skip_space();
            if (m_at < m_text.size() && m_text[m_at] == ',') {
                ++m_at;
                continue;
            }
            if (m_at < m_text.size() && m_text[m_at] == '}') {
                ++m_at;
                return object;
            }
            fail("expected ',' or '}'");
        }
    }

    Value parse_array(int depth) {
        Value array = Value::make_array();
        ++m_at;
        skip_space();
        if (m_at < m_text.size() && m_text[m_at] == ']') {
            ++m_at;
            return array;
        }
        while (true) {
            array.items().push_back(parse_value(depth + 1));
            skip_space();
            if (m_at < m_text.size() && m_text[m_at] == ',') {
                ++m_at;
                continue;
            }
            if (m_at < m_text.size() && m_text[m_at] == ']') {
                ++m_at;
                return array;
            }
            fail("expected ',' or ']'");
        }
    }

    Value parse_number() {
        const std::size_t start = m_at;
        auto digits = [&] {
            const std::size_t from = m_at;
            while (m_at < m_text.size() && m_text[m_at] >= '0' && m_text[m_at] <= '9') {
                ++m_at;
            }
            return m_at > from;
        };
        if (m_text[m_at] == '-') {
            ++m_at;
        }
        if (!digits()) {
            fail("malformed number");
        }
        if (m_at < m_text.size() && m_text[m_at] == '.') {
            ++m_at;
            if (!digits()) {
                fail("malformed number");
            }
        }
        if (m_at < m_text.size() && (m_text[m_at] == 'e' || m_text[m_at] == 'E')) {
            ++m_at;
            if (m_at < m_text.size() && (m_text[m_at] == '+' || m_text[m_at] == '-')) {
                ++m_at;
            }
            if (!digits()) {
                fail("malformed number");
            }
        }
        return Value::make_number(m_text.substr(start, m_at - start));
    }

    unsigned hex4() {
        if (m_at + 4 > m_text.size()) {
            fail("truncated \\u escape");
        }
        unsigned value = 0;
        for (int i = 0; i < 4; ++i) {
            const char c = m_text[m_at++];
            value <<= 4;
            if (c >= '0' && c <= '9') {
                value |= static_cast<unsigned>(c - '0');
            } else if (c >= 'a' && c <= 'f') {
                value |= static_cast<unsigned>(c - 'a' + 10);
            } else if (c >= 'A' && c <= 'F') {
                value |= static_cast<unsigned>(c - 'A' + 10);
            } else {
                fail("bad \\u escape");
            }
        }
        return value;
    }

    std::string parse_string() {
        ++m_at;
        std::string out;
        while (true) {
            if (m_at >= m_text.size()) {
                fail("unterminated string");
            }
            const char c = m_text[m_at++];
            if (c == '"') {
                return out;
            }
            if (static_cast<unsigned char>(c) < 0x20) {
                fail("control character in string");
            }
            if (c != '\\') {
                out.push_back(c);
                continue;
            }
            if (m_at >= m_text.size()) {
                fail("unterminated string");
            }
            const char escape = m_text[m_at++];
            switch (escape) {
                case '"':
                case '\\':
                case '/':
                    out.push_back(escape);
                    break;
                case 'b':
                    out.push_back('\b');
                    break;
                case 'f':
                    out.push_back('\f');
                    break;
                case 'n':
                    out.push_back('\n');
                    break;
                case 'r':
                    out.push_back('\r');
                    break;
                case 't':
                    out.push_back('\t');
                    break;
                case 'u': {
                    unsigned code_point = hex4();
                    if (code_point >= 0xD800 && code_point <= 0xDBFF) {
                        if (!take("\\u")) {
                            fail("unpaired surrogate");
                        }
                        const unsigned low = hex4();
                        if (low < 0xDC00 || low > 0xDFFF) {
                            fail("unpaired surrogate");
                        }
                        code_point = 0x10000 + ((code_point - 0xD800) << 10) + (low - 0xDC00);
                    } else if (code_point >= 0xDC00 && code_point <= 0xDFFF) {
                        fail("unpaired surrogate");
                    }
                    mql_detail::append_utf8(out, static_cast<char32_t>(code_point));
                    break;
                }
                default:
                    fail(std::string("bad escape '\\") + escape + "'");
            }
        }
    }

    const std::string &m_text;
    std::size_t m_at = 0;
};

}  // namespace

Value parse(const std::string &text) { return Parser(text).document(); }

std::string quote(const std::string &text) {
    std::string out = "\"";
    for (const char c : text) {
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            default:
                if (static_cast<unsigned char>(c) < 0x20) {
                    char escaped[8];
                    std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned>(c));
                    out += escaped;
                } else {
                    out.push_back(c);
                }
        }
    }
    out += "\"";
    return out;
}

}  // namespace json
