// The MQL5 `string`: UTF-16 text, built from UTF-8 source literals, never silently from numbers.
#pragma once

#include "mql5_core.h"

#include <string>
#include <string_view>
#include <type_traits>

namespace mql_detail {

template <class>
inline constexpr bool always_false = false;

template <class T>
inline constexpr bool is_char_pointer =
    std::is_pointer_v<T> && std::is_same_v<std::remove_cv_t<std::remove_pointer_t<T>>, char>;

std::u16string utf8_to_utf16(std::string_view bytes);
std::string utf16_to_utf8(std::u16string_view text);
std::u16string ascii_to_utf16(std::string_view text);
void append_utf8(std::string &out, char32_t code_point);
std::u16string number_text(long long value);
std::u16string number_text(unsigned long long value);
std::u16string number_text(double value);
std::u16string number_text(float value);
long long parse_integer(std::u16string_view text);
double parse_double(std::u16string_view text);

}  // namespace mql_detail

class string {
public:
    string() = default;

    // A source literal (or __FUNCTION__): UTF-8 bytes up to the first NUL.
    template <std::size_t N>
    string(const char (&literal)[N]) : m_text(mql_detail::utf8_to_utf16(std::string_view(literal, length_of(literal)))) {}

    // In C++ `"text" + number` is pointer arithmetic: it would compile to garbage text, so a char pointer is
    // refused here with an explanation. (The translator already turns `"a" + "b"` and `c ? "a" : "bc"`, which
    // C++ reads differently from MQL5, into their MQL5 meaning.)
    template <class P, std::enable_if_t<mql_detail::is_char_pointer<P>, int> = 0>
    string(const P &) {
        static_assert(mql_detail::always_false<P>,
                      "MQL5 shim: a char pointer is not a string. `\"text\" + number` is pointer arithmetic in C++: "
                      "convert numbers with IntegerToString/DoubleToString; a macro that stands for a literal needs "
                      "a (string) cast where it meets a number or a ?: branch.");
    }

    // MQL5 typecasts (string)number; implicit number-to-string conversion is deliberately not offered.
    template <class T, std::enable_if_t<std::is_arithmetic_v<T> || std::is_enum_v<T>, int> = 0>
    explicit string(T value) : m_text(text_of(value)) {}

    // MQL5 typecasts (int)text, (double)text.
    template <class T, std::enable_if_t<std::is_arithmetic_v<T> && !std::is_same_v<T, bool>, int> = 0>
    explicit operator T() const {
        if constexpr (std::is_floating_point_v<T>) {
            return static_cast<T>(mql_detail::parse_double(m_text));
        } else {
            return static_cast<T>(mql_detail::parse_integer(m_text));
        }
    }

    static string from_utf16(std::u16string text) {
        string result;
        result.m_text = std::move(text);
        return result;
    }
    static string from_utf8(std::string_view bytes) { return from_utf16(mql_detail::utf8_to_utf16(bytes)); }

    const std::u16string &utf16() const { return m_text; }
    std::u16string &utf16() { return m_text; }
    std::string utf8() const { return mql_detail::utf16_to_utf8(m_text); }

    string &operator+=(const string &other) {
        m_text += other.m_text;
        return *this;
    }
    friend string operator+(const string &left, const string &right) { return from_utf16(left.m_text + right.m_text); }
    friend bool operator==(const string &left, const string &right) { return left.m_text == right.m_text; }
    friend bool operator!=(const string &left, const string &right) { return left.m_text != right.m_text; }
    friend bool operator<(const string &left, const string &right) { return left.m_text < right.m_text; }
    friend bool operator>(const string &left, const string &right) { return left.m_text > right.m_text; }
    friend bool operator<=(const string &left, const string &right) { return left.m_text <= right.m_text; }
    friend bool operator>=(const string &left, const string &right) { return left.m_text >= right.m_text; }

private:
    template <std::size_t N>
    static constexpr std::size_t length_of(const char (&literal)[N]) {
        std::size_t length = 0;
        while (length < N && literal[length] != '\0') {
            ++length;
        }
        return length;
    }

    template <class T>
    static std::u16string text_of(T value) {
        if constexpr (std::is_same_v<T, bool>) {
            return mql_detail::ascii_to_utf16(value ? "true" : "false");
        } else if constexpr (std::is_enum_v<T>) {
            return mql_detail::number_text(static_cast<long long>(value));
        } else if constexpr (std::is_floating_point_v<T>) {
            return mql_detail::number_text(value);
        } else if constexpr (std::is_signed_v<T>) {
            return mql_detail::number_text(static_cast<long long>(value));
        } else {
            return mql_detail::number_text(static_cast<unsigned long long>(value));
        }
    }

    std::u16string m_text;
};
