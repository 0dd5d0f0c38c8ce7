// A small JSON reader and writer for scenario and result files. Numbers keep their source text so that
// decimal quantities ("0.10", 5000) are never forced through binary floating point.
#pragma once

#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace json {

struct ParseError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

class Value {
public:
    enum class Type { null, boolean, number, string, array, object };

    Value() = default;
    static Value make_bool(bool value);
    static Value make_number(std::string text);
    static Value make_string(std::string text);
    static Value make_array();
    static Value make_object();

    Type type() const { return m_type; }
    bool is_null() const { return m_type == Type::null; }
    bool is_bool() const { return m_type == Type::boolean; }
    bool is_number() const { return m_type == Type::number; }
    bool is_string() const { return m_type == Type::string; }
    bool is_array() const { return m_type == Type::array; }
    bool is_object() const { return m_type == Type::object; }

    bool as_bool() const { return m_bool; }
    // Number text for numbers, the string for strings.
    const std::string &text() const { return m_text; }
    const std::vector<Value> &items() const { return m_items; }
    std::vector<Value> &items() { return m_items; }
    // Members in file order.
    const std::vector<std::pair<std::string, Value>> &members() const { return m_members; }
    std::vector<std::pair<std::string, Value>> &members() { return m_members; }
    const Value *find(const std::string &key) const;

private:
    Type m_type = Type::null;
    bool m_bool = false;
    std::string m_text;
    std::vector<Value> m_items;
    std::vector<std::pair<std::string, Value>> m_members;
};

Value parse(const std::string &text);
std::string quote(const std::string &text);

}  // namespace json
