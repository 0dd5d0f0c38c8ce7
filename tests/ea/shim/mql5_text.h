// MQL5 string functions, conversions, Print/Alert/Comment and StringFormat/PrintFormat.
#pragma once

#include "mql5_array.h"
#include "mql5_core.h"
#include "mql5_string.h"

#include <string>
#include <type_traits>
#include <vector>

namespace mql_detail {

// One StringFormat argument, keeping what printf-style conversion needs to know about its C++ type.
struct FormatArg {
    enum class Kind { signed_integer, unsigned_integer, boolean, floating, text };
    Kind kind = Kind::signed_integer;
    long long integer = 0;
    unsigned long long unsigned_integer = 0;
    int bytes = 4;  // width of the integer type: %d of a 64-bit value keeps only its low 32 bits, as in MQL5
    double floating = 0.0;
    std::u16string text;
};

std::u16string format(const std::u16string &format_string, const std::vector<FormatArg> &args);
std::u16string double_text(double value);
std::u16string float_text(float value);
std::string encode(const std::u16string &text, uint codepage);
std::u16string decode(const unsigned char *bytes, std::size_t count, uint codepage);

enum class Channel { print, alert, comment };
void emit(Channel channel, const std::u16string &text);

template <class T>
void append_value(std::u16string &out, const T &value) {
    using V = std::remove_cv_t<T>;
    if constexpr (std::is_same_v<V, string>) {
        out += value.utf16();
    } else if constexpr (std::is_array_v<V> && std::is_same_v<std::remove_cv_t<std::remove_extent_t<V>>, char>) {
        out += string(value).utf16();
    } else if constexpr (is_char_pointer<V>) {
        static_assert(always_false<V>, "MQL5 shim: a char pointer is not a string (see the note on string's "
                                       "constructor): `\"text\" + number` is pointer arithmetic in C++");
    } else if constexpr (std::is_same_v<V, bool>) {
        out += ascii_to_utf16(value ? "true" : "false");
    } else if constexpr (std::is_enum_v<V>) {
        out += number_text(static_cast<long long>(value));
    } else if constexpr (std::is_same_v<V, float>) {
        out += float_text(value);
    } else if constexpr (std::is_floating_point_v<V>) {
        out += double_text(static_cast<double>(value));
    } else if constexpr (std::is_integral_v<V> && std::is_signed_v<V>) {
        out += number_text(static_cast<long long>(value));
    } else if constexpr (std::is_integral_v<V>) {
        out += number_text(static_cast<unsigned long long>(value));
    } else {
        static_assert(always_false<V>, "MQL5 shim: this type cannot be printed or concatenated");
    }
}

template <class... Args>
std::u16string concat(const Args &...args) {
    std::u16string out;
    (append_value(out, args), ...);
    return out;
}

template <class T>
FormatArg format_arg(const T &value) {
    using V = std::remove_cv_t<T>;
    FormatArg arg;
    if constexpr (std::is_same_v<V, string> || std::is_array_v<V> || is_char_pointer<V>) {
        arg.kind = FormatArg::Kind::text;
        append_value(arg.text, value);
    } else if constexpr (std::is_same_v<V, bool>) {
        arg.kind = FormatArg::Kind::boolean;
        arg.integer = value ? 1 : 0;
    } else if constexpr (std::is_floating_point_v<V>) {
        arg.kind = FormatArg::Kind::floating;
        arg.floating = static_cast<double>(value);
    } else if constexpr (std::is_enum_v<V>) {
        arg.kind = FormatArg::Kind::signed_integer;
        arg.integer = static_cast<long long>(value);
        arg.bytes = 4;
    } else if constexpr (std::is_integral_v<V> && std::is_signed_v<V>) {
        arg.kind = FormatArg::Kind::signed_integer;
        arg.integer = static_cast<long long>(value);
        arg.bytes = static_cast<int>(sizeof(V));
    } else if constexpr (std::is_integral_v<V>) {
        arg.kind = FormatArg::Kind::unsigned_integer;
        arg.unsigned_integer = static_cast<unsigned long long>(value);
        arg.bytes = static_cast<int>(sizeof(V));
    } else {
        static_assert(always_false<V>, "MQL5 shim: this type cannot be a StringFormat argument");
    }
    return arg;
}

template <class... Args>
std::u16string format_with(const string &format_string, const Args &...args) {
    return format(format_string.utf16(), std::vector<FormatArg>{format_arg(args)...});
}

}  // namespace mql_detail

int StringLen(const string &text);
string StringSubstr(const string &text, int start, int length = -1);
int StringFind(const string &text, const string &match, int start = 0);
int StringTrimLeft(string &text);
int StringTrimRight(string &text);
int StringSplit(const string &text, ushort separator, MqlArray<string> &result);
ushort StringGetCharacter(const string &text, int position);
bool StringSetCharacter(string &text, int position, ushort character);
int StringReplace(string &text, const string &find, const string &replacement);
bool StringToLower(string &text);
bool StringToUpper(string &text);
int StringCompare(const string &left, const string &right, bool case_sensitive = true);
bool StringAdd(string &text, const string &addition);
bool StringInit(string &text, int length = 0, ushort character = 0);
int StringFill(string &text, ushort character);
string ShortToString(ushort character);
string CharToString(uchar character);
string IntegerToString(long number, int length = 0, ushort fill = ' ');
long StringToInteger(const string &text);
double StringToDouble(const string &text);
string DoubleToString(double value, int digits = 8);
double NormalizeDouble(double value, int digits);
string TimeToString(datetime value, int mode = TIME_DATE | TIME_MINUTES);
datetime StringToTime(const string &text);

template <class... Args>
int StringConcatenate(string &result, const Args &...args) {
    result = string::from_utf16(mql_detail::concat(args...));
    return static_cast<int>(result.utf16().size());
}

// MQL5 semantics: with count = -1 the terminating 0 is copied too; a dynamic array grows but never shrinks.
template <class A>
    requires mql_detail::array_of_element<A, uchar>
int StringToCharArray(const string &text, A &array, int start = 0, int count = -1, uint codepage = CP_ACP) {
    using AT = mql_detail::array_of<A>;
    std::string bytes = mql_detail::encode(text.utf16(), codepage);
    bytes.push_back('\0');
    if (start < 0) {
        mql_detail::set_last_error(ERR_INVALID_PARAMETER);
        return 0;
    }
    int wanted = static_cast<int>(bytes.size());
    if (count >= 0 && count < wanted) {
        wanted = count;
    }
    if (start + wanted > AT::size(array)) {
        if constexpr (AT::is_dynamic) {
            AT::resize(array, start + wanted);
        } else {
            wanted = AT::size(array) > start ? AT::size(array) - start : 0;
        }
    }
    for (int i = 0; i < wanted; ++i) {
        AT::at(array, start + i) = static_cast<uchar>(bytes[static_cast<std::size_t>(i)]);
    }
    return wanted;
}

// Stops at the first 0 byte; invalid UTF-8 becomes U+FFFD.
template <class A>
    requires mql_detail::array_of_element<A, uchar>
string CharArrayToString(const A &array, int start = 0, int count = -1, uint codepage = CP_ACP) {
    using AT = mql_detail::array_of<A>;
    const int size = AT::size(array);
    if (start < 0 || start > size) {
        mql_detail::set_last_error(ERR_INVALID_PARAMETER);
        return string();
    }
    int end = (count < 0 || count > size - start) ? size : start + count;
    std::string bytes;
    for (int i = start; i < end; ++i) {
        const uchar byte = AT::at(array, i);
        if (byte == 0) {
            break;
        }
        bytes.push_back(static_cast<char>(byte));
    }
    return string::from_utf16(
        mql_detail::decode(reinterpret_cast<const unsigned char *>(bytes.data()), bytes.size(), codepage));
}

template <class... Args>
string StringFormat(const string &format_string, const Args &...args) {
    return string::from_utf16(mql_detail::format_with(format_string, args...));
}

template <class... Args>
void PrintFormat(const string &format_string, const Args &...args) {
    mql_detail::emit(mql_detail::Channel::print, mql_detail::format_with(format_string, args...));
}

template <class First, class... Args>
void Print(const First &first, const Args &...args) {
    mql_detail::emit(mql_detail::Channel::print, mql_detail::concat(first, args...));
}

template <class First, class... Args>
void Alert(const First &first, const Args &...args) {
    mql_detail::emit(mql_detail::Channel::alert, mql_detail::concat(first, args...));
}

template <class... Args>
void Comment(const Args &...args) {
    mql_detail::emit(mql_detail::Channel::comment, mql_detail::concat(args...));
}
