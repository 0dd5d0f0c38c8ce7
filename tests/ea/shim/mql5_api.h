// MQL5 terminal functions: program and timer control, errors, information, account, positions, deal
// history, symbols, time, math, files, sockets, DLL imports and hashing.
#pragma once

#include "mql5_array.h"
#include "mql5_core.h"
#include "mql5_string.h"

#include <string>
#include <type_traits>
#include <vector>

struct MqlTradeRequest {
    ENUM_TRADE_REQUEST_ACTIONS action{};
    ulong magic = 0;
    ulong order = 0;
    string symbol;
    double volume = 0.0;
    double price = 0.0;
    double stoplimit = 0.0;
    double sl = 0.0;
    double tp = 0.0;
    ulong deviation = 0;
    ENUM_ORDER_TYPE type{};
    ENUM_ORDER_TYPE_FILLING type_filling{};
    ENUM_ORDER_TYPE_TIME type_time{};
    datetime expiration = 0;
    string comment;
    ulong position = 0;
    ulong position_by = 0;
};

struct MqlTradeResult {
    uint retcode = 0;
    ulong deal = 0;
    ulong order = 0;
    double volume = 0.0;
    double price = 0.0;
    double bid = 0.0;
    double ask = 0.0;
    string comment;
    uint request_id = 0;
    int retcode_external = 0;
};

struct MqlTradeTransaction {
    ulong deal = 0;
    ulong order = 0;
    string symbol;
    ENUM_TRADE_TRANSACTION_TYPE type{};
    ENUM_ORDER_TYPE order_type{};
    ENUM_ORDER_STATE order_state{};
    ENUM_DEAL_TYPE deal_type{};
    ENUM_ORDER_TYPE_TIME time_type{};
    datetime time_expiration = 0;
    double price = 0.0;
    double price_trigger = 0.0;
    double price_sl = 0.0;
    double price_tp = 0.0;
    double volume = 0.0;
    ulong position = 0;
    ulong position_by = 0;
};

struct MqlDateTime {
    int year = 0;
    int mon = 0;
    int day = 0;
    int hour = 0;
    int min = 0;
    int sec = 0;
    int day_of_week = 0;
    int day_of_year = 0;
};

// Predefined variables.
inline int _LastError = 0;
inline bool _StopFlag = false;
inline int _UninitReason = 0;
inline string _Symbol;
inline int _Digits = 5;
inline double _Point = 0.00001;
inline ENUM_TIMEFRAMES _Period = PERIOD_H1;
inline int _RandomSeed = 1;

namespace mql_detail {

bool crypt_encode(ENUM_CRYPT_METHOD method, const std::vector<uchar> &data, const std::vector<uchar> &key,
                  std::vector<uchar> &result);
bool crypt_decode(ENUM_CRYPT_METHOD method, const std::vector<uchar> &data, const std::vector<uchar> &key,
                  std::vector<uchar> &result);
void require_dlls(const char *library, const char *function);
bool fill_random(unsigned char *buffer, std::size_t length);
int socket_send(int socket, const unsigned char *bytes, uint length);
int socket_read(int socket, std::vector<unsigned char> &bytes, uint max_length, uint timeout_ms);
std::vector<uchar> file_read_bytes(int handle, std::size_t count, bool &ok);
uint file_write_bytes(int handle, const unsigned char *bytes, std::size_t count);
uint file_write_line(int handle, const std::vector<std::u16string> &fields);

template <class A>
std::vector<uchar> bytes_of(const A &array) {
    using AT = array_of<A>;
    std::vector<uchar> bytes(static_cast<std::size_t>(AT::size(array)));
    for (int i = 0; i < AT::size(array); ++i) {
        bytes[static_cast<std::size_t>(i)] = AT::at(array, i);
    }
    return bytes;
}

}  // namespace mql_detail

// Program and events.
bool EventSetTimer(int seconds);
bool EventSetMillisecondTimer(int milliseconds);
void EventKillTimer();
void ExpertRemove();
bool IsStopped();
int UninitializeReason();
void Sleep(int milliseconds);
long ChartID();
string Symbol();
ENUM_TIMEFRAMES Period();
int GetLastError();
void ResetLastError();
void SetUserError(ushort user_error);

// Information.
int MQLInfoInteger(ENUM_MQL_INFO_INTEGER property);
string MQLInfoString(ENUM_MQL_INFO_STRING property);
int TerminalInfoInteger(ENUM_TERMINAL_INFO_INTEGER property);
double TerminalInfoDouble(ENUM_TERMINAL_INFO_DOUBLE property);
string TerminalInfoString(ENUM_TERMINAL_INFO_STRING property);
long AccountInfoInteger(ENUM_ACCOUNT_INFO_INTEGER property);
double AccountInfoDouble(ENUM_ACCOUNT_INFO_DOUBLE property);
string AccountInfoString(ENUM_ACCOUNT_INFO_STRING property);

// Positions of the scripted account.
int PositionsTotal();
ulong PositionGetTicket(int index);
bool PositionSelect(const string &symbol);
bool PositionSelectByTicket(ulong ticket);
string PositionGetSymbol(int index);
long PositionGetInteger(ENUM_POSITION_PROPERTY_INTEGER property);
bool PositionGetInteger(ENUM_POSITION_PROPERTY_INTEGER property, long &value);
double PositionGetDouble(ENUM_POSITION_PROPERTY_DOUBLE property);
bool PositionGetDouble(ENUM_POSITION_PROPERTY_DOUBLE property, double &value);
string PositionGetString(ENUM_POSITION_PROPERTY_STRING property);
bool PositionGetString(ENUM_POSITION_PROPERTY_STRING property, string &value);
int OrdersTotal();

// Deal history.
bool HistorySelect(datetime from_date, datetime to_date);
bool HistorySelectByPosition(long position_id);
int HistoryDealsTotal();
ulong HistoryDealGetTicket(int index);
bool HistoryDealSelect(ulong ticket);
long HistoryDealGetInteger(ulong ticket, ENUM_DEAL_PROPERTY_INTEGER property);
bool HistoryDealGetInteger(ulong ticket, ENUM_DEAL_PROPERTY_INTEGER property, long &value);
double HistoryDealGetDouble(ulong ticket, ENUM_DEAL_PROPERTY_DOUBLE property);
bool HistoryDealGetDouble(ulong ticket, ENUM_DEAL_PROPERTY_DOUBLE property, double &value);
string HistoryDealGetString(ulong ticket, ENUM_DEAL_PROPERTY_STRING property);
bool HistoryDealGetString(ulong ticket, ENUM_DEAL_PROPERTY_STRING property, string &value);

// Symbols.
int SymbolsTotal(bool selected);
string SymbolName(int index, bool selected);
bool SymbolSelect(const string &name, bool select);
bool SymbolExist(const string &name, bool &is_custom);
double SymbolInfoDouble(const string &name, ENUM_SYMBOL_INFO_DOUBLE property);
bool SymbolInfoDouble(const string &name, ENUM_SYMBOL_INFO_DOUBLE property, double &value);
long SymbolInfoInteger(const string &name, ENUM_SYMBOL_INFO_INTEGER property);
bool SymbolInfoInteger(const string &name, ENUM_SYMBOL_INFO_INTEGER property, long &value);
string SymbolInfoString(const string &name, ENUM_SYMBOL_INFO_STRING property);
bool SymbolInfoString(const string &name, ENUM_SYMBOL_INFO_STRING property, string &value);

// Time.
uint GetTickCount();
ulong GetTickCount64();
ulong GetMicrosecondCount();
datetime TimeCurrent();
datetime TimeTradeServer();
datetime TimeLocal();
datetime TimeGMT();
int TimeGMTOffset();
bool TimeToStruct(datetime value, MqlDateTime &parts);
datetime StructToTime(MqlDateTime &parts);

// Math.
double MathRound(double value);
double MathFloor(double value);
double MathCeil(double value);
double MathPow(double base, double exponent);
double MathLog(double value);
double MathLog10(double value);
double MathExp(double value);
double MathSqrt(double value);
double MathMod(double value, double divisor);
bool MathIsValidNumber(double value);
int MathRand();
void MathSrand(int seed);

template <class T>
T MathAbs(T value) {
    if constexpr (std::is_unsigned_v<T>) {
        return value;
    } else {
        return value < 0 ? -value : value;
    }
}
template <class A, class B>
std::common_type_t<A, B> MathMax(A left, B right) {
    using C = std::common_type_t<A, B>;
    return static_cast<C>(left) > static_cast<C>(right) ? static_cast<C>(left) : static_cast<C>(right);
}
template <class A, class B>
std::common_type_t<A, B> MathMin(A left, B right) {
    using C = std::common_type_t<A, B>;
    return static_cast<C>(left) < static_cast<C>(right) ? static_cast<C>(left) : static_cast<C>(right);
}

// Files, in the sandbox <data path>/MQL5/Files (or the common folder with FILE_COMMON).
int FileOpen(const string &name, int flags, short delimiter = '\t', uint codepage = CP_ACP);
int FileOpen(const string &name, int flags, const string &delimiter, uint codepage = CP_ACP);
void FileClose(int handle);
void FileFlush(int handle);
bool FileIsExist(const string &name, int common_flag = 0);
bool FileDelete(const string &name, int common_flag = 0);
ulong FileSize(int handle);
ulong FileTell(int handle);
bool FileSeek(int handle, long offset, int origin);
bool FileIsEnding(int handle);
uint FileWriteString(int handle, const string &text, int length = -1);
string FileReadString(int handle, int length = -1);

template <class A>
    requires mql_detail::mql_array<A> && std::is_trivially_copyable_v<typename mql_detail::array_of<A>::element>
uint FileWriteArray(int handle, const A &array, int start = 0, int count = WHOLE_ARRAY) {
    using AT = mql_detail::array_of<A>;
    using E = typename AT::element;
    const int size = AT::size(array);
    if (start < 0 || start > size) {
        mql_detail::set_last_error(ERR_INVALID_PARAMETER);
        return 0;
    }
    if (count < 0 || count > size - start) {
        count = size - start;
    }
    if (count == 0) {
        return 0;
    }
    const uint written = mql_detail::file_write_bytes(handle, reinterpret_cast<const unsigned char *>(&AT::at(array, start)),
                                                      static_cast<std::size_t>(count) * sizeof(E));
    return written / static_cast<uint>(sizeof(E));
}

template <class A>
    requires mql_detail::mql_array<A> && std::is_trivially_copyable_v<typename mql_detail::array_of<A>::element>
uint FileReadArray(int handle, A &array, int start = 0, int count = WHOLE_ARRAY) {
    using AT = mql_detail::array_of<A>;
    using E = typename AT::element;
    bool ok = false;
    const std::size_t wanted = count < 0 ? static_cast<std::size_t>(-1) : static_cast<std::size_t>(count) * sizeof(E);
    std::vector<uchar> bytes = mql_detail::file_read_bytes(handle, wanted, ok);
    if (!ok) {
        return 0;
    }
    const int elements = static_cast<int>(bytes.size() / sizeof(E));
    if (start + elements > AT::size(array)) {
        if constexpr (AT::is_dynamic) {
            AT::resize(array, start + elements);
        }
    }
    const int stored = std::min(elements, AT::size(array) - start);
    for (int i = 0; i < stored; ++i) {
        E element;
        __builtin_memcpy(&element, bytes.data() + static_cast<std::size_t>(i) * sizeof(E), sizeof(E));
        AT::at(array, start + i) = element;
    }
    return static_cast<uint>(stored);
}

// FileWrite: the arguments separated by the file's delimiter, then a line end.
template <class... Args>
uint FileWrite(int handle, const Args &...args) {
    return mql_detail::file_write_line(handle, std::vector<std::u16string>{mql_detail::concat(args)...});
}

// Sockets: real TCP; SocketConnect refuses hosts missing from the scenario's allowed_urls (error 4014).
int SocketCreate(uint flags = SOCKET_DEFAULT);
bool SocketClose(int socket);
bool SocketConnect(int socket, const string &server, uint port, uint timeout_receive_ms);
bool SocketIsConnected(int socket);
uint SocketIsReadable(int socket);
bool SocketIsWritable(int socket);
bool SocketTimeouts(int socket, uint timeout_send_ms, uint timeout_receive_ms);

template <class A>
    requires mql_detail::array_of_element<A, uchar>
int SocketSend(int socket, const A &buffer, uint buffer_length) {
    using AT = mql_detail::array_of<A>;
    const uint available = static_cast<uint>(AT::size(buffer));
    if (buffer_length > available) {
        buffer_length = available;
    }
    if (buffer_length == 0) {
        return mql_detail::socket_send(socket, nullptr, 0);
    }
    return mql_detail::socket_send(socket, &AT::at(buffer, 0), buffer_length);
}

// Reads what is available, up to buffer_max_length bytes, waiting at most timeout_ms for the first byte.
template <class A>
    requires mql_detail::array_of_element<A, uchar>
int SocketRead(int socket, A &buffer, uint buffer_max_length, uint timeout_ms) {
    using AT = mql_detail::array_of<A>;
    if constexpr (!AT::is_dynamic) {
        if (buffer_max_length > static_cast<uint>(AT::size(buffer))) {
            buffer_max_length = static_cast<uint>(AT::size(buffer));
        }
    }
    std::vector<unsigned char> bytes;
    const int received = mql_detail::socket_read(socket, bytes, buffer_max_length, timeout_ms);
    if (received <= 0) {
        return received;
    }
    if constexpr (AT::is_dynamic) {
        AT::resize(buffer, received);
    }
    for (int i = 0; i < received; ++i) {
        AT::at(buffer, i) = bytes[static_cast<std::size_t>(i)];
    }
    return received;
}

// DLL imports the EA declares in #import blocks (removed by the translator).
int ShellExecuteW(long hwnd, const string &operation, const string &file, const string &parameters,
                  const string &directory, int show_command);

// advapi32.dll RtlGenRandom. Like the real call it writes `length` bytes into the buffer it is given, so a
// buffer shorter than `length` is reported as a critical error instead of corrupting memory.
template <class A>
    requires mql_detail::array_of_element<A, uchar>
bool SystemFunction036(A &buffer, uint length) {
    using AT = mql_detail::array_of<A>;
    mql_detail::require_dlls("advapi32.dll", "SystemFunction036");
    if (length > static_cast<uint>(AT::size(buffer))) {
        throw MqlCriticalError("SystemFunction036: the buffer holds " + std::to_string(AT::size(buffer)) +
                               " bytes but " + std::to_string(length) + " were requested (memory corruption in "
                               "MetaTrader)");
    }
    if (length == 0) {
        return true;
    }
    return mql_detail::fill_random(&AT::at(buffer, 0), length);
}

namespace mql_detail {

// CryptEncode/CryptDecode semantics for the result array: a dynamic one is resized, a fixed one must be large
// enough (else ERR_SMALL_ARRAY and 0); the number of bytes written is returned.
template <class R>
int store_crypt_result(const std::vector<uchar> &output, R &result) {
    using RT = array_of<R>;
    if constexpr (RT::is_dynamic) {
        RT::resize(result, static_cast<int>(output.size()));
    } else if (static_cast<int>(output.size()) > RT::size(result)) {
        set_last_error(ERR_SMALL_ARRAY);
        return 0;
    }
    for (std::size_t i = 0; i < output.size(); ++i) {
        RT::at(result, static_cast<int>(i)) = output[i];
    }
    return static_cast<int>(output.size());
}

}  // namespace mql_detail

template <class D, class K, class R>
    requires mql_detail::array_of_element<D, uchar> && mql_detail::array_of_element<K, uchar> &&
             mql_detail::array_of_element<R, uchar>
int CryptEncode(ENUM_CRYPT_METHOD method, const D &data, const K &key, R &result) {
    std::vector<uchar> output;
    if (!mql_detail::crypt_encode(method, mql_detail::bytes_of(data), mql_detail::bytes_of(key), output)) {
        return 0;
    }
    return mql_detail::store_crypt_result(output, result);
}

template <class D, class K, class R>
    requires mql_detail::array_of_element<D, uchar> && mql_detail::array_of_element<K, uchar> &&
             mql_detail::array_of_element<R, uchar>
int CryptDecode(ENUM_CRYPT_METHOD method, const D &data, const K &key, R &result) {
    std::vector<uchar> output;
    if (!mql_detail::crypt_decode(method, mql_detail::bytes_of(data), mql_detail::bytes_of(key), output)) {
        return 0;
    }
    return mql_detail::store_crypt_result(output, result);
}

template <class T>
void ZeroMemory(T &value) {
    value = T{};
}
template <class T>
void ZeroMemory(MqlArray<T> &array) {
    for (auto &item : array.items()) {
        item = T{};
    }
}
template <class T, std::size_t N>
void ZeroMemory(T (&array)[N]) {
    for (T &item : array) {
        item = T{};
    }
}

// EnumToString for the terminal's enumerations an EA is likely to log; the translator adds one for every
// enumeration defined in the MQL5 sources.
string EnumToString(ENUM_TRADE_TRANSACTION_TYPE value);
string EnumToString(ENUM_DEAL_ENTRY value);
string EnumToString(ENUM_DEAL_TYPE value);
string EnumToString(ENUM_DEAL_REASON value);
string EnumToString(ENUM_POSITION_TYPE value);
string EnumToString(ENUM_ORDER_TYPE value);
string EnumToString(ENUM_ORDER_STATE value);
string EnumToString(ENUM_ACCOUNT_MARGIN_MODE value);
string EnumToString(ENUM_ACCOUNT_TRADE_MODE value);

// Input setting, generated by the translator at the end of the expert's source.
void __csmc_set_input(const std::string &name, const std::string &value);
std::vector<std::string> __csmc_input_names();

namespace mql_detail {

[[noreturn]] void bad_input(const std::string &name, const std::string &value, const std::string &expected);
long long input_integer(const std::string &name, const std::string &value, long long minimum, long long maximum);
unsigned long long input_unsigned(const std::string &name, const std::string &value, unsigned long long maximum);
double input_double(const std::string &name, const std::string &value);
bool input_bool(const std::string &name, const std::string &value);

}  // namespace mql_detail
