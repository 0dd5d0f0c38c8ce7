// Text side of the shim: UTF-8/UTF-16/code page conversions, number formatting, StringFormat, the MQL5
// string functions, Print/Alert/Comment, input parsing and the math functions.

#include "terminal.h"

#include <locale.h>
#include <wctype.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <string>

namespace mql_detail {

namespace {

constexpr char16_t kReplacement = 0xFFFD;

void append_code_point(std::u16string &out, char32_t code_point) {
    if (code_point >= 0x10000) {
        code_point -= 0x10000;
        out.push_back(static_cast<char16_t>(0xD800 + (code_point >> 10)));
        out.push_back(static_cast<char16_t>(0xDC00 + (code_point & 0x3FF)));
    } else {
        out.push_back(static_cast<char16_t>(code_point));
    }
}


// Windows-1252, the ANSI code page of a Western MetaTrader install: bytes 0x80-0x9F differ from Latin-1.
constexpr char16_t kCp1252High[32] = {
    0x20AC, 0xFFFD, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0xFFFD, 0x017D, 0xFFFD, 0xFFFD, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0xFFFD, 0x017E, 0x0178,
};

char cp1252_byte(char16_t unit) {
    if (unit < 0x80 || (unit >= 0xA0 && unit <= 0xFF)) {
        return static_cast<char>(unit);
    }
    for (int i = 0; i < 32; ++i) {
        if (kCp1252High[i] == unit && unit != kReplacement) {
            return static_cast<char>(0x80 + i);
        }
    }
    return '?';
}

std::string narrow(std::u16string_view text) {
    std::string out;
    for (char16_t unit : text) {
        out.push_back(unit < 0x80 ? static_cast<char>(unit) : '?');
    }
    return out;
}

std::string printf_text(const char *format, auto... values) {
    char buffer[512];
    const int length = std::snprintf(buffer, sizeof buffer, format, values...);
    if (length < 0) {
        return std::string();
    }
    if (static_cast<std::size_t>(length) < sizeof buffer) {
        return std::string(buffer, static_cast<std::size_t>(length));
    }
    std::string big(static_cast<std::size_t>(length) + 1, '\0');
    std::snprintf(big.data(), big.size(), format, values...);
    big.resize(static_cast<std::size_t>(length));
    return big;
}

bool is_trim_space(char16_t unit) { return unit == ' ' || unit == '\t' || unit == '\r' || unit == '\n'; }

locale_t unicode_locale() {
    static locale_t locale = newlocale(LC_CTYPE_MASK, "C.UTF-8", static_cast<locale_t>(nullptr));
    return locale;
}

char16_t change_case(char16_t unit, bool upper) {
    if (unit >= 0xD800 && unit <= 0xDFFF) {
        return unit;
    }
    locale_t locale = unicode_locale();
    if (locale == static_cast<locale_t>(nullptr)) {
        if (upper && unit >= 'a' && unit <= 'z') {
            return static_cast<char16_t>(unit - 32);
        }
        if (!upper && unit >= 'A' && unit <= 'Z') {
            return static_cast<char16_t>(unit + 32);
        }
        return unit;
    }
    const wint_t changed = upper ? towupper_l(unit, locale) : towlower_l(unit, locale);
    return changed <= 0xFFFF ? static_cast<char16_t>(changed) : unit;
}

}  // namespace

void append_utf8(std::string &out, char32_t code_point) {
    if (code_point < 0x80) {
        out.push_back(static_cast<char>(code_point));
    } else if (code_point < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (code_point >> 6)));
        out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
    } else if (code_point < 0x10000) {
        out.push_back(static_cast<char>(0xE0 | (code_point >> 12)));
        out.push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
    } else {
        out.push_back(static_cast<char>(0xF0 | (code_point >> 18)));
        out.push_back(static_cast<char>(0x80 | ((code_point >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
    }
}

std::u16string utf8_to_utf16(std::string_view bytes) {
    std::u16string out;
    out.reserve(bytes.size());
    std::size_t i = 0;
    const std::size_t size = bytes.size();
    while (i < size) {
        const unsigned char lead = static_cast<unsigned char>(bytes[i]);
        if (lead < 0x80) {
            out.push_back(lead);
            ++i;
            continue;
        }
        int needed = 0;
        char32_t code_point = 0;
        unsigned char lower = 0x80;
        unsigned char upper = 0xBF;
        if (lead >= 0xC2 && lead <= 0xDF) {
            needed = 1;
            code_point = lead & 0x1F;
        } else if (lead >= 0xE0 && lead <= 0xEF) {
            needed = 2;
            code_point = lead & 0x0F;
            lower = lead == 0xE0 ? 0xA0 : 0x80;
            upper = lead == 0xED ? 0x9F : 0xBF;
        } else if (lead >= 0xF0 && lead <= 0xF4) {
            needed = 3;
            code_point = lead & 0x07;
            lower = lead == 0xF0 ? 0x90 : 0x80;
            upper = lead == 0xF4 ? 0x8F : 0xBF;
        } else {
            out.push_back(kReplacement);
            ++i;
            continue;
        }
        std::size_t j = i + 1;
        bool valid = true;
        for (int k = 0; k < needed; ++k, ++j) {
            const unsigned char next = j < size ? static_cast<unsigned char>(bytes[j]) : 0;
            if (j >= size || next < lower || next > upper) {
                valid = false;
                break;
            }
            code_point = (code_point << 6) | (next & 0x3F);
            lower = 0x80;
            upper = 0xBF;
        }
        if (valid) {
            append_code_point(out, code_point);
        } else {
            // One replacement per maximal invalid subsequence, as the WHATWG decoder does.
            out.push_back(kReplacement);
        }
        i = j;
    }
    return out;
}

std::string utf16_to_utf8(std::u16string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char16_t unit = text[i];
        if (unit >= 0xD800 && unit <= 0xDBFF && i + 1 < text.size() && text[i + 1] >= 0xDC00 && text[i + 1] <= 0xDFFF) {
            append_utf8(out, 0x10000 + ((static_cast<char32_t>(unit) - 0xD800) << 10) + (text[i + 1] - 0xDC00));
            ++i;
        } else if (unit >= 0xD800 && unit <= 0xDFFF) {
            append_utf8(out, kReplacement);
        } else {
            append_utf8(out, unit);
        }
    }
    return out;
}

std::u16string ascii_to_utf16(std::string_view text) { return std::u16string(text.begin(), text.end()); }

std::u16string number_text(long long value) { return ascii_to_utf16(std::to_string(value)); }
std::u16string number_text(unsigned long long value) { return ascii_to_utf16(std::to_string(value)); }
std::u16string number_text(double value) { return double_text(value); }
std::u16string number_text(float value) { return float_text(value); }

// MQL5 prints doubles with up to 16 significant digits, in whichever of fixed or scientific is shorter.
std::u16string double_text(double value) { return ascii_to_utf16(printf_text("%.16g", value)); }
std::u16string float_text(float value) { return ascii_to_utf16(printf_text("%.5f", static_cast<double>(value))); }

long long parse_integer(std::u16string_view text) {
    const std::string bytes = narrow(text);
    return std::strtoll(bytes.c_str(), nullptr, 10);
}

double parse_double(std::u16string_view text) {
    const std::string bytes = narrow(text);
    return std::strtod(bytes.c_str(), nullptr);
}

std::string encode(const std::u16string &text, uint codepage) {
    if (codepage == CP_UTF8) {
        return utf16_to_utf8(text);
    }
    std::string out;
    out.reserve(text.size());
    for (char16_t unit : text) {
        out.push_back(cp1252_byte(unit));
    }
    return out;
}

std::u16string decode(const unsigned char *bytes, std::size_t count, uint codepage) {
    if (codepage == CP_UTF8) {
        return utf8_to_utf16(std::string_view(reinterpret_cast<const char *>(bytes), count));
    }
    std::u16string out;
    out.reserve(count);
    for (std::size_t i = 0; i < count; ++i) {
        const unsigned char byte = bytes[i];
        out.push_back(byte >= 0x80 && byte < 0xA0 ? kCp1252High[byte - 0x80] : static_cast<char16_t>(byte));
    }
    return out;
}

void set_last_error(int code) { _LastError = code; }

void array_out_of_range(const std::source_location &where, long index, long size) {
    throw MqlCriticalError("array out of range in '" + std::string(where.file_name()) + "' (" + std::to_string(where.line()) + "," +
                           std::to_string(where.column()) + "): index " + std::to_string(index) + ", size " +
                           std::to_string(size));
}

namespace {

struct Spec {
    std::string flags;
    int width = -1;
    int precision = -1;
    bool wide = false;  // ll / I64: a 64-bit integer
    char conversion = 0;
};

long long signed_value(const FormatArg &arg, bool wide) {
    long long value = 0;
    switch (arg.kind) {
        case FormatArg::Kind::signed_integer:
        case FormatArg::Kind::boolean:
            value = arg.integer;
            break;
        case FormatArg::Kind::unsigned_integer:
            value = static_cast<long long>(arg.unsigned_integer);
            break;
        case FormatArg::Kind::floating:
            value = static_cast<long long>(arg.floating);
            break;
        case FormatArg::Kind::text:
            value = parse_integer(arg.text);
            break;
    }
    return wide ? value : static_cast<long long>(static_cast<int>(value));
}

unsigned long long unsigned_value(const FormatArg &arg, bool wide) {
    const unsigned long long value = arg.kind == FormatArg::Kind::unsigned_integer
                                         ? arg.unsigned_integer
                                         : static_cast<unsigned long long>(signed_value(arg, true));
    return wide ? value : static_cast<unsigned long long>(static_cast<unsigned int>(value));
}

double floating_value(const FormatArg &arg) {
    switch (arg.kind) {
        case FormatArg::Kind::floating:
            return arg.floating;
        case FormatArg::Kind::unsigned_integer:
            return static_cast<double>(arg.unsigned_integer);
        case FormatArg::Kind::text:
            return parse_double(arg.text);
        default:
            return static_cast<double>(arg.integer);
    }
}

std::u16string text_value(const FormatArg &arg) {
    switch (arg.kind) {
        case FormatArg::Kind::text:
            return arg.text;
        case FormatArg::Kind::boolean:
            return ascii_to_utf16(arg.integer ? "true" : "false");
        case FormatArg::Kind::floating:
            return double_text(arg.floating);
        case FormatArg::Kind::unsigned_integer:
            return number_text(arg.unsigned_integer);
        default:
            return number_text(arg.integer);
    }
}

std::u16string pad(std::u16string text, const Spec &spec) {
    if (spec.width > 0 && static_cast<int>(text.size()) < spec.width) {
        const std::size_t missing = static_cast<std::size_t>(spec.width) - text.size();
        if (spec.flags.find('-') != std::string::npos) {
            text.append(missing, u' ');
        } else {
            text.insert(0, missing, u' ');
        }
    }
    return text;
}

std::u16string convert(const Spec &spec, const FormatArg &arg) {
    std::string c_format = "%" + spec.flags;
    if (spec.width >= 0) {
        c_format += std::to_string(spec.width);
    }
    if (spec.precision >= 0) {
        c_format += "." + std::to_string(spec.precision);
    }
    switch (spec.conversion) {
        case 'd':
        case 'i':
            return ascii_to_utf16(printf_text((c_format + "lld").c_str(), signed_value(arg, spec.wide)));
        case 'u':
        case 'o':
        case 'x':
        case 'X':
            return ascii_to_utf16(
                printf_text((c_format + "ll" + spec.conversion).c_str(), unsigned_value(arg, spec.wide)));
        case 'e':
        case 'E':
        case 'f':
        case 'F':
        case 'g':
        case 'G':
        case 'a':
        case 'A':
            return ascii_to_utf16(printf_text((c_format + spec.conversion).c_str(), floating_value(arg)));
        case 'c':
        case 'C':
            return pad(std::u16string(1, static_cast<char16_t>(signed_value(arg, true))), spec);
        case 's':
        case 'S': {
            std::u16string text = text_value(arg);
            if (spec.precision >= 0 && static_cast<int>(text.size()) > spec.precision) {
                text.resize(static_cast<std::size_t>(spec.precision));
            }
            return pad(text, spec);
        }
        default:
            return std::u16string();
    }
}

}  // namespace

std::u16string format(const std::u16string &format_string, const std::vector<FormatArg> &args) {
    std::u16string out;
    std::size_t next_arg = 0;
    const std::size_t size = format_string.size();
    auto take_number = [&](std::size_t &i) {
        if (i < size && format_string[i] == '*') {
            ++i;
            return next_arg < args.size() ? static_cast<int>(signed_value(args[next_arg++], true)) : 0;
        }
        int number = 0;
        bool any = false;
        while (i < size && format_string[i] >= '0' && format_string[i] <= '9') {
            number = number * 10 + (format_string[i] - '0');
            any = true;
            ++i;
        }
        return any ? number : -1;
    };
    for (std::size_t i = 0; i < size; ++i) {
        if (format_string[i] != '%') {
            out.push_back(format_string[i]);
            continue;
        }
        const std::size_t start = i;
        ++i;
        if (i < size && format_string[i] == '%') {
            out.push_back('%');
            continue;
        }
        Spec spec;
        while (i < size && std::u16string_view(u"-+ #0").find(format_string[i]) != std::u16string_view::npos) {
            spec.flags.push_back(static_cast<char>(format_string[i]));
            ++i;
        }
        spec.width = take_number(i);
        if (i < size && format_string[i] == '.') {
            ++i;
            spec.precision = take_number(i);
            if (spec.precision < 0) {
                spec.precision = 0;
            }
        }
        const std::u16string_view rest(format_string.data() + i, size - i);
        if (rest.starts_with(u"I64")) {
            spec.wide = true;
            i += 3;
        } else if (rest.starts_with(u"I32")) {
            i += 3;
        } else if (rest.starts_with(u"ll")) {
            spec.wide = true;
            i += 2;
        } else if (rest.starts_with(u"hh")) {
            i += 2;
        } else if (!rest.empty() && (rest[0] == 'l' || rest[0] == 'h')) {
            i += 1;
        }
        if (i >= size || std::u16string_view(u"diuoxXeEfFgGaAcCsS").find(format_string[i]) == std::u16string_view::npos) {
            // Not a conversion MQL5 knows: written out as it stands.
            out.append(format_string, start, i - start + (i < size ? 1 : 0));
            continue;
        }
        spec.conversion = static_cast<char>(format_string[i]);
        if (next_arg >= args.size()) {
            set_last_error(ERR_WRONG_FORMATSTRING);
            continue;
        }
        out += convert(spec, args[next_arg++]);
    }
    return out;
}

void emit(Channel channel, const std::u16string &text) {
    using mql_terminal::EventKind;
    const std::string bytes = utf16_to_utf8(text);
    switch (channel) {
        case Channel::print:
            mql_terminal::record(EventKind::print, bytes);
            break;
        case Channel::alert:
            mql_terminal::record(EventKind::alert, bytes);
            break;
        case Channel::comment: {
            if (mql_terminal::state().mode == mql_terminal::State::Mode::optimization) {
                break;  // Comment does nothing while the tester optimises
            }
            std::u16string shown = text.substr(0, mql_terminal::kCommentMaxChars);
            if (shown.size() < text.size() && !shown.empty() && shown.back() >= 0xD800 && shown.back() <= 0xDBFF) {
                shown.pop_back();  // half a surrogate pair cannot be shown
            }
            const std::string shown_bytes = utf16_to_utf8(shown);
            if (shown_bytes != mql_terminal::state().comment_text) {
                mql_terminal::state().comment_text = shown_bytes;
                mql_terminal::record(EventKind::comment, shown_bytes);
            }
            break;
        }
    }
}

void bad_input(const std::string &name, const std::string &value, const std::string &expected) {
    throw std::invalid_argument("input " + name + ": '" + value + "' is not " + expected);
}

long long input_integer(const std::string &name, const std::string &value, long long minimum, long long maximum) {
    errno = 0;
    char *end = nullptr;
    const long long parsed = std::strtoll(value.c_str(), &end, 10);
    if (value.empty() || *end != '\0' || errno == ERANGE || parsed < minimum || parsed > maximum) {
        bad_input(name, value, "an integer in [" + std::to_string(minimum) + ", " + std::to_string(maximum) + "]");
    }
    return parsed;
}

unsigned long long input_unsigned(const std::string &name, const std::string &value, unsigned long long maximum) {
    errno = 0;
    char *end = nullptr;
    const unsigned long long parsed = std::strtoull(value.c_str(), &end, 10);
    if (value.empty() || value[0] == '-' || *end != '\0' || errno == ERANGE || parsed > maximum) {
        bad_input(name, value, "an unsigned integer up to " + std::to_string(maximum));
    }
    return parsed;
}

double input_double(const std::string &name, const std::string &value) {
    char *end = nullptr;
    const double parsed = std::strtod(value.c_str(), &end);
    if (value.empty() || *end != '\0' || !std::isfinite(parsed)) {
        bad_input(name, value, "a number");
    }
    return parsed;
}

bool input_bool(const std::string &name, const std::string &value) {
    if (value == "true") {
        return true;
    }
    if (value == "false") {
        return false;
    }
    bad_input(name, value, "true or false");
}

}  // namespace mql_detail

using mql_detail::ascii_to_utf16;
using mql_detail::set_last_error;

int StringLen(const string &text) { return static_cast<int>(text.utf16().size()); }

string StringSubstr(const string &text, int start, int length) {
    const int size = StringLen(text);
    if (start < 0 || start >= size) {
        return string();
    }
    if (length < 0 || length > size - start) {
        length = size - start;
    }
    return string::from_utf16(text.utf16().substr(static_cast<std::size_t>(start), static_cast<std::size_t>(length)));
}

int StringFind(const string &text, const string &match, int start) {
    if (start < 0) {
        start = 0;
    }
    if (start > StringLen(text)) {
        return -1;
    }
    const std::size_t found = text.utf16().find(match.utf16(), static_cast<std::size_t>(start));
    return found == std::u16string::npos ? -1 : static_cast<int>(found);
}

int StringTrimLeft(string &text) {
    std::u16string &units = text.utf16();
    std::size_t removed = 0;
    while (removed < units.size() && mql_detail::is_trim_space(units[removed])) {
        ++removed;
    }
    units.erase(0, removed);
    return static_cast<int>(removed);
}

int StringTrimRight(string &text) {
    std::u16string &units = text.utf16();
    std::size_t kept = units.size();
    while (kept > 0 && mql_detail::is_trim_space(units[kept - 1])) {
        --kept;
    }
    const int removed = static_cast<int>(units.size() - kept);
    units.resize(kept);
    return removed;
}

int StringSplit(const string &text, ushort separator, MqlArray<string> &result) {
    result.clear();
    const std::u16string &units = text.utf16();
    if (units.empty()) {
        return 0;
    }
    std::size_t begin = 0;
    while (true) {
        const std::size_t found = units.find(static_cast<char16_t>(separator), begin);
        const std::size_t end = found == std::u16string::npos ? units.size() : found;
        result.items().push_back(string::from_utf16(units.substr(begin, end - begin)));
        if (found == std::u16string::npos) {
            break;
        }
        begin = found + 1;
    }
    return result.count();
}

ushort StringGetCharacter(const string &text, int position) {
    if (position < 0 || position >= StringLen(text)) {
        set_last_error(ERR_STRINGPOS_OUTOFRANGE);
        return 0;
    }
    return text.utf16()[static_cast<std::size_t>(position)];
}

// MQL5: character 0 cuts the string; position == length appends.
bool StringSetCharacter(string &text, int position, ushort character) {
    std::u16string &units = text.utf16();
    if (position < 0 || position > static_cast<int>(units.size())) {
        set_last_error(ERR_STRINGPOS_OUTOFRANGE);
        return false;
    }
    if (position == static_cast<int>(units.size())) {
        if (character != 0) {
            units.push_back(character);
        }
        return true;
    }
    if (character == 0) {
        units.resize(static_cast<std::size_t>(position));
    } else {
        units[static_cast<std::size_t>(position)] = character;
    }
    return true;
}

int StringReplace(string &text, const string &find, const string &replacement) {
    const std::u16string &needle = find.utf16();
    if (needle.empty()) {
        set_last_error(ERR_INVALID_PARAMETER);
        return -1;
    }
    std::u16string &units = text.utf16();
    std::u16string out;
    int count = 0;
    std::size_t begin = 0;
    while (true) {
        const std::size_t found = units.find(needle, begin);
        if (found == std::u16string::npos) {
            break;
        }
        out.append(units, begin, found - begin);
        out += replacement.utf16();
        begin = found + needle.size();
        ++count;
    }
    out.append(units, begin, std::u16string::npos);
    units = std::move(out);
    return count;
}

bool StringToLower(string &text) {
    for (char16_t &unit : text.utf16()) {
        unit = mql_detail::change_case(unit, false);
    }
    return true;
}

bool StringToUpper(string &text) {
    for (char16_t &unit : text.utf16()) {
        unit = mql_detail::change_case(unit, true);
    }
    return true;
}

int StringCompare(const string &left, const string &right, bool case_sensitive) {
    string a = left;
    string b = right;
    if (!case_sensitive) {
        StringToLower(a);
        StringToLower(b);
    }
    const int order = a.utf16().compare(b.utf16());
    return order < 0 ? -1 : (order > 0 ? 1 : 0);
}

bool StringAdd(string &text, const string &addition) {
    text += addition;
    return true;
}

bool StringInit(string &text, int length, ushort character) {
    if (length < 0) {
        set_last_error(ERR_INVALID_PARAMETER);
        return false;
    }
    text = string::from_utf16(character == 0 ? std::u16string() : std::u16string(static_cast<std::size_t>(length), character));
    return true;
}

int StringFill(string &text, ushort character) {
    for (char16_t &unit : text.utf16()) {
        unit = character;
    }
    return StringLen(text);
}

string ShortToString(ushort character) { return string::from_utf16(std::u16string(1, character)); }

string CharToString(uchar character) {
    return string::from_utf16(mql_detail::decode(&character, 1, CP_ACP));
}

string IntegerToString(long number, int length, ushort fill) {
    std::u16string text = ascii_to_utf16(std::to_string(number));
    if (length > static_cast<int>(text.size())) {
        text.insert(0, static_cast<std::size_t>(length) - text.size(), fill);
    }
    return string::from_utf16(text);
}

long StringToInteger(const string &text) { return mql_detail::parse_integer(text.utf16()); }

double StringToDouble(const string &text) { return mql_detail::parse_double(text.utf16()); }

string DoubleToString(double value, int digits) {
    if (digits >= 0 && digits <= 16) {
        return string::from_utf16(ascii_to_utf16(mql_detail::printf_text("%.*f", digits, value)));
    }
    if (digits >= -16 && digits <= -1) {
        return string::from_utf16(ascii_to_utf16(mql_detail::printf_text("%.*e", -digits, value)));
    }
    return string::from_utf16(ascii_to_utf16(mql_detail::printf_text("%.8f", value)));
}

double NormalizeDouble(double value, int digits) {
    if (digits < 0) {
        digits = 0;
    }
    if (digits > 8) {
        digits = 8;
    }
    const double scale = std::pow(10.0, digits);
    return std::round(value * scale) / scale;
}

string TimeToString(datetime value, int mode) {
    const std::time_t seconds = static_cast<std::time_t>(value);
    std::tm parts{};
    gmtime_r(&seconds, &parts);
    std::string text;
    if (mode & TIME_DATE) {
        text += mql_detail::printf_text("%04d.%02d.%02d", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday);
    }
    if (mode & (TIME_MINUTES | TIME_SECONDS)) {
        if (!text.empty()) {
            text += ' ';
        }
        text += mql_detail::printf_text("%02d:%02d", parts.tm_hour, parts.tm_min);
        if (mode & TIME_SECONDS) {
            text += mql_detail::printf_text(":%02d", parts.tm_sec);
        }
    }
    return string::from_utf16(ascii_to_utf16(text));
}

// "yyyy.mm.dd [hh:mi[:ss]]", the form TimeToString writes.
datetime StringToTime(const string &text) {
    const std::string bytes = mql_detail::narrow(text.utf16());
    std::tm parts{};
    int year = 1970;
    int month = 1;
    int day = 1;
    const int fields = std::sscanf(bytes.c_str(), "%d.%d.%d %d:%d:%d", &year, &month, &day, &parts.tm_hour,
                                   &parts.tm_min, &parts.tm_sec);
    if (fields < 3) {
        set_last_error(ERR_INVALID_DATETIME);
        return 0;
    }
    parts.tm_year = year - 1900;
    parts.tm_mon = month - 1;
    parts.tm_mday = day;
    return static_cast<datetime>(timegm(&parts));
}

bool TimeToStruct(datetime value, MqlDateTime &parts) {
    const std::time_t seconds = static_cast<std::time_t>(value);
    std::tm broken{};
    gmtime_r(&seconds, &broken);
    parts.year = broken.tm_year + 1900;
    parts.mon = broken.tm_mon + 1;
    parts.day = broken.tm_mday;
    parts.hour = broken.tm_hour;
    parts.min = broken.tm_min;
    parts.sec = broken.tm_sec;
    parts.day_of_week = broken.tm_wday;
    parts.day_of_year = broken.tm_yday;
    return true;
}

datetime StructToTime(MqlDateTime &parts) {
    std::tm broken{};
    broken.tm_year = parts.year - 1900;
    broken.tm_mon = parts.mon - 1;
    broken.tm_mday = parts.day;
    broken.tm_hour = parts.hour;
    broken.tm_min = parts.min;
    broken.tm_sec = parts.sec;
    return static_cast<datetime>(timegm(&broken));
}

double MathRound(double value) { return std::round(value); }
double MathFloor(double value) { return std::floor(value); }
double MathCeil(double value) { return std::ceil(value); }
double MathPow(double base, double exponent) { return std::pow(base, exponent); }
double MathLog(double value) { return std::log(value); }
double MathLog10(double value) { return std::log10(value); }
double MathExp(double value) { return std::exp(value); }
double MathSqrt(double value) { return std::sqrt(value); }
double MathMod(double value, double divisor) { return std::fmod(value, divisor); }
bool MathIsValidNumber(double value) { return std::isfinite(value); }

namespace {
// The Microsoft C runtime's generator, which MetaTrader's MathRand follows: same seed, same sequence.
unsigned int g_random_state = 1;
}  // namespace

int MathRand() {
    g_random_state = g_random_state * 214013u + 2531011u;
    return static_cast<int>((g_random_state >> 16) & 0x7FFF);
}

void MathSrand(int seed) {
    g_random_state = static_cast<unsigned int>(seed);
    _RandomSeed = seed;
}
