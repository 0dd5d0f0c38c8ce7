// Terminal side of the shim: the scripted terminal's state, the event log, program and timer control,
// terminal/account/symbol information, positions, deal history and time.

#include "terminal.h"

#include <time.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <thread>

namespace mql_terminal {

State &state() {
    static State instance;
    return instance;
}

double elapsed_ms() {
    return std::chrono::duration<double, std::milli>(Clock::now() - state().started).count();
}

namespace {

const char *narration_label(EventKind kind) {
    switch (kind) {
        case EventKind::print:
            return "EA";
        case EventKind::alert:
            return "ALERT";
        case EventKind::comment:
            return "chart comment";
        case EventKind::shell:
            return "ShellExecuteW";
        case EventKind::process:
            return "process";
        case EventKind::step:
            return ">>";
        case EventKind::runtime_error:
            return "CRITICAL";
    }
    return "?";
}

}  // namespace

void record(EventKind kind, const std::string &text, const std::string &narration) {
    const double now = elapsed_ms();
    state().events.push_back(Event{now, kind, text});
    if (state().narrate) {
        std::string shown = narration.empty() ? text : narration;
        for (std::size_t at = shown.find('\n'); at != std::string::npos; at = shown.find('\n', at + 1)) {
            shown.insert(at + 1, "             ");
        }
        std::fprintf(stderr, "[%8.3fs] %s: %s\n", now / 1000.0, narration_label(kind), shown.c_str());
        std::fflush(stderr);
    }
}

const SymbolSpec *find_symbol(const std::string &name) {
    for (const SymbolSpec &symbol : state().symbols) {
        if (symbol.name == name) {
            return &symbol;
        }
    }
    return nullptr;
}

std::string volume_text(long volume_units) {
    char buffer[64];
    const char *sign = volume_units < 0 ? "-" : "";
    const long magnitude = volume_units < 0 ? -volume_units : volume_units;
    std::snprintf(buffer, sizeof buffer, "%s%ld.%08ld", sign, magnitude / kVolumeUnitsPerLot,
                  magnitude % kVolumeUnitsPerLot);
    std::string text = buffer;
    while (text.back() == '0') {
        text.pop_back();
    }
    if (text.back() == '.') {
        text.pop_back();
    }
    return text;
}

}  // namespace mql_terminal

using mql_detail::set_last_error;
using mql_terminal::state;

namespace {

string text(const std::string &utf8) { return string::from_utf8(utf8); }

double lots(long volume_units) {
    return static_cast<double>(volume_units) / static_cast<double>(mql_terminal::kVolumeUnitsPerLot);
}

double position_profit(const mql_terminal::Position &position) {
    const mql_terminal::SymbolSpec *symbol = mql_terminal::find_symbol(position.symbol);
    if (symbol == nullptr) {
        return 0.0;
    }
    const double current = position.type == POSITION_TYPE_BUY ? symbol->bid : symbol->ask;
    const double direction = position.type == POSITION_TYPE_BUY ? 1.0 : -1.0;
    return (current - position.price_open) * direction * lots(position.volume_units) * symbol->contract_size;
}

const mql_terminal::Position *selected_position() {
    if (!state().selected_position) {
        set_last_error(ERR_TRADE_POSITION_NOT_FOUND);
        return nullptr;
    }
    return &*state().selected_position;
}

// HistoryDealGet* only sees deals in the current selection, as in MetaTrader.
const mql_terminal::Deal *selected_deal(ulong ticket) {
    const auto &selected = state().selected_deals;
    if (std::find(selected.begin(), selected.end(), ticket) == selected.end()) {
        set_last_error(ERR_TRADE_DEAL_NOT_FOUND);
        return nullptr;
    }
    for (const mql_terminal::Deal &deal : state().deals) {
        if (deal.ticket == ticket) {
            return &deal;
        }
    }
    set_last_error(ERR_TRADE_DEAL_NOT_FOUND);
    return nullptr;
}

const mql_terminal::SymbolSpec *known_symbol(const string &name) {
    const mql_terminal::SymbolSpec *symbol = mql_terminal::find_symbol(name.utf8());
    if (symbol == nullptr) {
        set_last_error(ERR_MARKET_UNKNOWN_SYMBOL);
    }
    return symbol;
}

long wall_seconds() { return static_cast<long>(::time(nullptr)); }

}  // namespace

bool EventSetTimer(int seconds) {
    if (seconds <= 0) {
        set_last_error(ERR_INVALID_PARAMETER);
        return false;
    }
    return EventSetMillisecondTimer(seconds * 1000);
}

bool EventSetMillisecondTimer(int milliseconds) {
    if (milliseconds <= 0) {
        set_last_error(ERR_INVALID_PARAMETER);
        return false;
    }
    state().timer_period_ms = milliseconds;
    state().timer_next_due = mql_terminal::Clock::now() + std::chrono::milliseconds(milliseconds);
    return true;
}

void EventKillTimer() { state().timer_period_ms = 0; }

void ExpertRemove() {
    state().remove_requested = true;
    _StopFlag = true;
}

bool IsStopped() { return _StopFlag; }
int UninitializeReason() { return _UninitReason; }

void Sleep(int milliseconds) {
    if (milliseconds > 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(milliseconds));
    }
}

long ChartID() { return state().chart_id; }
string Symbol() { return _Symbol; }
ENUM_TIMEFRAMES Period() { return _Period; }
int GetLastError() { return _LastError; }
void ResetLastError() { _LastError = 0; }
void SetUserError(ushort user_error) { _LastError = ERR_USER_ERROR_FIRST + user_error; }

int MQLInfoInteger(ENUM_MQL_INFO_INTEGER property) {
    switch (property) {
        case MQL_PROGRAM_TYPE:
            return PROGRAM_EXPERT;
        case MQL_DLLS_ALLOWED:
            return state().dlls_allowed ? 1 : 0;
        case MQL_TRADE_ALLOWED:
            return state().trade_allowed ? 1 : 0;
        case MQL_MEMORY_LIMIT:
            return 4096;
        case MQL_TESTER:
            return state().mode != mql_terminal::State::Mode::live ? 1 : 0;
        case MQL_OPTIMIZATION:
            return state().mode == mql_terminal::State::Mode::optimization ? 1 : 0;
        case MQL_VISUAL_MODE:
            return state().mode == mql_terminal::State::Mode::visual ? 1 : 0;
        default:
            return 0;
    }
}

string MQLInfoString(ENUM_MQL_INFO_STRING property) {
    switch (property) {
        case MQL_PROGRAM_NAME:
            return text(state().program_name);
        case MQL_PROGRAM_PATH:
            return text(state().data_path + "\\MQL5\\Experts\\" + state().program_name + ".ex5");
    }
    set_last_error(ERR_MQL5_WRONG_PROPERTY);
    return string();
}

int TerminalInfoInteger(ENUM_TERMINAL_INFO_INTEGER property) {
    switch (property) {
        case TERMINAL_BUILD:
            return __MQLBUILD__;
        case TERMINAL_CONNECTED:
            return state().connected ? 1 : 0;
        case TERMINAL_DLLS_ALLOWED:
            return state().dlls_allowed ? 1 : 0;
        case TERMINAL_TRADE_ALLOWED:
            return state().trade_allowed ? 1 : 0;
        case TERMINAL_CODEPAGE:
            return 1252;
        case TERMINAL_CPU_CORES:
            return static_cast<int>(std::thread::hardware_concurrency());
        case TERMINAL_X64:
            return 1;
        case TERMINAL_MAXBARS:
            return 100000;
        case TERMINAL_SCREEN_DPI:
            return 96;
        default:
            return 0;
    }
}

double TerminalInfoDouble(ENUM_TERMINAL_INFO_DOUBLE) { return 0.0; }

string TerminalInfoString(ENUM_TERMINAL_INFO_STRING property) {
    switch (property) {
        case TERMINAL_COMPANY:
            return text(state().company);
        case TERMINAL_NAME:
            return "MetaTrader 5";
        case TERMINAL_PATH:
            return text(state().terminal_path);
        case TERMINAL_DATA_PATH:
            return text(state().data_path);
        case TERMINAL_COMMONDATA_PATH:
            return text(state().common_path);
        case TERMINAL_LANGUAGE:
            return "English";
    }
    set_last_error(ERR_TERMINAL_WRONG_PROPERTY);
    return string();
}

long AccountInfoInteger(ENUM_ACCOUNT_INFO_INTEGER property) {
    switch (property) {
        case ACCOUNT_LOGIN:
            return state().login;
        case ACCOUNT_TRADE_MODE:
            return state().trade_mode;
        case ACCOUNT_LEVERAGE:
            return state().leverage;
        case ACCOUNT_MARGIN_MODE:
            return state().margin_mode;
        case ACCOUNT_TRADE_ALLOWED:
        case ACCOUNT_TRADE_EXPERT:
            return 1;
        case ACCOUNT_CURRENCY_DIGITS:
            return 2;
        case ACCOUNT_LIMIT_ORDERS:
            return 200;
        default:
            set_last_error(ERR_ACCOUNT_WRONG_PROPERTY);
            return 0;
    }
}

double AccountInfoDouble(ENUM_ACCOUNT_INFO_DOUBLE property) {
    double profit = 0.0;
    for (const mql_terminal::Position &position : state().positions) {
        profit += position_profit(position);
    }
    switch (property) {
        case ACCOUNT_BALANCE:
            return state().balance;
        case ACCOUNT_PROFIT:
            return profit;
        case ACCOUNT_EQUITY:
        case ACCOUNT_MARGIN_FREE:
            return state().balance + profit;
        default:
            return 0.0;
    }
}

string AccountInfoString(ENUM_ACCOUNT_INFO_STRING property) {
    switch (property) {
        case ACCOUNT_NAME:
            return text(state().account_name);
        case ACCOUNT_COMPANY:
            return text(state().company);
        case ACCOUNT_SERVER:
            return text(state().server);
        case ACCOUNT_CURRENCY:
            return text(state().currency);
    }
    set_last_error(ERR_ACCOUNT_WRONG_PROPERTY);
    return string();
}

int PositionsTotal() { return static_cast<int>(state().positions.size()); }

ulong PositionGetTicket(int index) {
    if (index < 0 || index >= PositionsTotal()) {
        set_last_error(ERR_TRADE_POSITION_NOT_FOUND);
        return 0;
    }
    state().selected_position = state().positions[static_cast<std::size_t>(index)];
    return state().selected_position->ticket;
}

string PositionGetSymbol(int index) {
    if (PositionGetTicket(index) == 0) {
        return string();
    }
    return text(state().selected_position->symbol);
}

// On a hedging account several positions share a symbol: the one with the smallest ticket is selected.
bool PositionSelect(const string &symbol) {
    const std::string wanted = symbol.utf8();
    const mql_terminal::Position *best = nullptr;
    for (const mql_terminal::Position &position : state().positions) {
        if (position.symbol == wanted && (best == nullptr || position.ticket < best->ticket)) {
            best = &position;
        }
    }
    if (best == nullptr) {
        set_last_error(ERR_TRADE_POSITION_NOT_FOUND);
        return false;
    }
    state().selected_position = *best;
    return true;
}

bool PositionSelectByTicket(ulong ticket) {
    for (const mql_terminal::Position &position : state().positions) {
        if (position.ticket == ticket) {
            state().selected_position = position;
            return true;
        }
    }
    set_last_error(ERR_TRADE_POSITION_NOT_FOUND);
    return false;
}

bool PositionGetInteger(ENUM_POSITION_PROPERTY_INTEGER property, long &value) {
    const mql_terminal::Position *position = selected_position();
    if (position == nullptr) {
        return false;
    }
    switch (property) {
        case POSITION_TICKET:
            value = static_cast<long>(position->ticket);
            return true;
        case POSITION_IDENTIFIER:
            value = static_cast<long>(position->identifier);
            return true;
        case POSITION_TYPE:
            value = position->type;
            return true;
        case POSITION_MAGIC:
            value = position->magic;
            return true;
        case POSITION_TIME:
            value = position->time;
            return true;
        case POSITION_TIME_MSC:
            value = position->time_msc;
            return true;
        case POSITION_TIME_UPDATE:
            value = position->time_update;
            return true;
        case POSITION_TIME_UPDATE_MSC:
            value = position->time_update_msc;
            return true;
        case POSITION_REASON:
            value = position->reason;
            return true;
    }
    set_last_error(ERR_TRADE_WRONG_PROPERTY);
    return false;
}

long PositionGetInteger(ENUM_POSITION_PROPERTY_INTEGER property) {
    long value = 0;
    return PositionGetInteger(property, value) ? value : 0;
}

bool PositionGetDouble(ENUM_POSITION_PROPERTY_DOUBLE property, double &value) {
    const mql_terminal::Position *position = selected_position();
    if (position == nullptr) {
        return false;
    }
    const mql_terminal::SymbolSpec *symbol = mql_terminal::find_symbol(position->symbol);
    switch (property) {
        case POSITION_VOLUME:
            value = lots(position->volume_units);
            return true;
        case POSITION_PRICE_OPEN:
            value = position->price_open;
            return true;
        case POSITION_PRICE_CURRENT:
            value = symbol == nullptr ? 0.0 : (position->type == POSITION_TYPE_BUY ? symbol->bid : symbol->ask);
            return true;
        case POSITION_PROFIT:
            value = position_profit(*position);
            return true;
        case POSITION_SL:
        case POSITION_TP:
        case POSITION_SWAP:
            value = 0.0;
            return true;
    }
    set_last_error(ERR_TRADE_WRONG_PROPERTY);
    return false;
}

double PositionGetDouble(ENUM_POSITION_PROPERTY_DOUBLE property) {
    double value = 0.0;
    return PositionGetDouble(property, value) ? value : 0.0;
}

bool PositionGetString(ENUM_POSITION_PROPERTY_STRING property, string &value) {
    const mql_terminal::Position *position = selected_position();
    if (position == nullptr) {
        return false;
    }
    switch (property) {
        case POSITION_SYMBOL:
            value = text(position->symbol);
            return true;
        case POSITION_COMMENT:
            value = text(position->comment);
            return true;
        case POSITION_EXTERNAL_ID:
            value = string();
            return true;
    }
    set_last_error(ERR_TRADE_WRONG_PROPERTY);
    return false;
}

string PositionGetString(ENUM_POSITION_PROPERTY_STRING property) {
    string value;
    return PositionGetString(property, value) ? value : string();
}

int OrdersTotal() { return 0; }

bool HistorySelect(datetime from_date, datetime to_date) {
    auto &selected = state().selected_deals;
    selected.clear();
    for (const mql_terminal::Deal &deal : state().deals) {
        if (deal.time >= from_date && deal.time <= to_date) {
            selected.push_back(deal.ticket);
        }
    }
    return true;
}

bool HistorySelectByPosition(long position_id) {
    auto &selected = state().selected_deals;
    selected.clear();
    for (const mql_terminal::Deal &deal : state().deals) {
        if (static_cast<long>(deal.position_id) == position_id) {
            selected.push_back(deal.ticket);
        }
    }
    return true;
}

int HistoryDealsTotal() { return static_cast<int>(state().selected_deals.size()); }

ulong HistoryDealGetTicket(int index) {
    if (index < 0 || index >= HistoryDealsTotal()) {
        set_last_error(ERR_TRADE_DEAL_NOT_FOUND);
        return 0;
    }
    return state().selected_deals[static_cast<std::size_t>(index)];
}

bool HistoryDealSelect(ulong ticket) {
    for (const mql_terminal::Deal &deal : state().deals) {
        if (deal.ticket == ticket) {
            state().selected_deals.assign(1, ticket);
            return true;
        }
    }
    set_last_error(ERR_TRADE_DEAL_NOT_FOUND);
    return false;
}

bool HistoryDealGetInteger(ulong ticket, ENUM_DEAL_PROPERTY_INTEGER property, long &value) {
    const mql_terminal::Deal *deal = selected_deal(ticket);
    if (deal == nullptr) {
        return false;
    }
    switch (property) {
        case DEAL_TICKET:
            value = static_cast<long>(deal->ticket);
            return true;
        case DEAL_ORDER:
            value = static_cast<long>(deal->order);
            return true;
        case DEAL_TIME:
            value = deal->time;
            return true;
        case DEAL_TIME_MSC:
            value = deal->time_msc;
            return true;
        case DEAL_TYPE:
            value = deal->type;
            return true;
        case DEAL_ENTRY:
            value = deal->entry;
            return true;
        case DEAL_MAGIC:
            value = deal->magic;
            return true;
        case DEAL_REASON:
            value = deal->reason;
            return true;
        case DEAL_POSITION_ID:
            value = static_cast<long>(deal->position_id);
            return true;
    }
    set_last_error(ERR_TRADE_WRONG_PROPERTY);
    return false;
}

long HistoryDealGetInteger(ulong ticket, ENUM_DEAL_PROPERTY_INTEGER property) {
    long value = 0;
    return HistoryDealGetInteger(ticket, property, value) ? value : 0;
}

bool HistoryDealGetDouble(ulong ticket, ENUM_DEAL_PROPERTY_DOUBLE property, double &value) {
    const mql_terminal::Deal *deal = selected_deal(ticket);
    if (deal == nullptr) {
        return false;
    }
    switch (property) {
        case DEAL_VOLUME:
            value = lots(deal->volume_units);
            return true;
        case DEAL_PRICE:
            value = deal->price;
            return true;
        case DEAL_PROFIT:
            value = deal->profit;
            return true;
        case DEAL_COMMISSION:
        case DEAL_SWAP:
        case DEAL_FEE:
            value = 0.0;
            return true;
    }
    set_last_error(ERR_TRADE_WRONG_PROPERTY);
    return false;
}

double HistoryDealGetDouble(ulong ticket, ENUM_DEAL_PROPERTY_DOUBLE property) {
    double value = 0.0;
    return HistoryDealGetDouble(ticket, property, value) ? value : 0.0;
}

bool HistoryDealGetString(ulong ticket, ENUM_DEAL_PROPERTY_STRING property, string &value) {
    const mql_terminal::Deal *deal = selected_deal(ticket);
    if (deal == nullptr) {
        return false;
    }
    switch (property) {
        case DEAL_SYMBOL:
            value = text(deal->symbol);
            return true;
        case DEAL_COMMENT:
            value = text(deal->comment);
            return true;
        case DEAL_EXTERNAL_ID:
            value = string();
            return true;
    }
    set_last_error(ERR_TRADE_WRONG_PROPERTY);
    return false;
}

string HistoryDealGetString(ulong ticket, ENUM_DEAL_PROPERTY_STRING property) {
    string value;
    return HistoryDealGetString(ticket, property, value) ? value : string();
}

int SymbolsTotal(bool selected) {
    int count = 0;
    for (const mql_terminal::SymbolSpec &symbol : state().symbols) {
        count += (!selected || symbol.selected) ? 1 : 0;
    }
    return count;
}

string SymbolName(int index, bool selected) {
    int position = 0;
    for (const mql_terminal::SymbolSpec &symbol : state().symbols) {
        if (selected && !symbol.selected) {
            continue;
        }
        if (position++ == index) {
            return text(symbol.name);
        }
    }
    set_last_error(ERR_MARKET_UNKNOWN_SYMBOL);
    return string();
}

bool SymbolSelect(const string &name, bool select) {
    for (mql_terminal::SymbolSpec &symbol : state().symbols) {
        if (symbol.name == name.utf8()) {
            symbol.selected = select;
            return true;
        }
    }
    set_last_error(ERR_MARKET_UNKNOWN_SYMBOL);
    return false;
}

bool SymbolExist(const string &name, bool &is_custom) {
    is_custom = false;
    return mql_terminal::find_symbol(name.utf8()) != nullptr;
}

bool SymbolInfoDouble(const string &name, ENUM_SYMBOL_INFO_DOUBLE property, double &value) {
    const mql_terminal::SymbolSpec *symbol = known_symbol(name);
    if (symbol == nullptr) {
        return false;
    }
    switch (property) {
        case SYMBOL_BID:
        case SYMBOL_LAST:
            value = symbol->bid;
            return true;
        case SYMBOL_ASK:
            value = symbol->ask;
            return true;
        case SYMBOL_POINT:
        case SYMBOL_TRADE_TICK_SIZE:
            value = symbol->point;
            return true;
        case SYMBOL_TRADE_TICK_VALUE:
            value = symbol->point * symbol->contract_size;
            return true;
        case SYMBOL_TRADE_CONTRACT_SIZE:
            value = symbol->contract_size;
            return true;
        case SYMBOL_VOLUME_MIN:
            value = symbol->volume_min;
            return true;
        case SYMBOL_VOLUME_MAX:
            value = symbol->volume_max;
            return true;
        case SYMBOL_VOLUME_STEP:
            value = symbol->volume_step;
            return true;
        case SYMBOL_VOLUME_LIMIT:
            value = 0.0;
            return true;
    }
    set_last_error(ERR_MARKET_WRONG_PROPERTY);
    return false;
}

double SymbolInfoDouble(const string &name, ENUM_SYMBOL_INFO_DOUBLE property) {
    double value = 0.0;
    return SymbolInfoDouble(name, property, value) ? value : 0.0;
}

bool SymbolInfoInteger(const string &name, ENUM_SYMBOL_INFO_INTEGER property, long &value) {
    const mql_terminal::SymbolSpec *symbol = known_symbol(name);
    if (symbol == nullptr) {
        return false;
    }
    switch (property) {
        case SYMBOL_DIGITS:
            value = symbol->digits;
            return true;
        case SYMBOL_SELECT:
        case SYMBOL_VISIBLE:
            value = symbol->selected ? 1 : 0;
            return true;
        case SYMBOL_EXIST:
            value = 1;
            return true;
        case SYMBOL_TRADE_MODE:
            value = SYMBOL_TRADE_MODE_FULL;
            return true;
        case SYMBOL_CUSTOM:
        case SYMBOL_SPREAD:
        case SYMBOL_TRADE_CALC_MODE:
        case SYMBOL_TRADE_EXEMODE:
        case SYMBOL_EXPIRATION_MODE:
        case SYMBOL_FILLING_MODE:
        case SYMBOL_ORDER_MODE:
            value = 0;
            return true;
    }
    set_last_error(ERR_MARKET_WRONG_PROPERTY);
    return false;
}

long SymbolInfoInteger(const string &name, ENUM_SYMBOL_INFO_INTEGER property) {
    long value = 0;
    return SymbolInfoInteger(name, property, value) ? value : 0;
}

bool SymbolInfoString(const string &name, ENUM_SYMBOL_INFO_STRING property, string &value) {
    const mql_terminal::SymbolSpec *symbol = known_symbol(name);
    if (symbol == nullptr) {
        return false;
    }
    switch (property) {
        case SYMBOL_CURRENCY_BASE:
            value = text(symbol->base);
            return true;
        case SYMBOL_CURRENCY_PROFIT:
            value = text(symbol->profit);
            return true;
        case SYMBOL_CURRENCY_MARGIN:
            value = text(symbol->margin.empty() ? symbol->base : symbol->margin);
            return true;
        case SYMBOL_DESCRIPTION:
            value = text(symbol->description);
            return true;
        case SYMBOL_PATH:
            value = text("Scripted\\" + symbol->name);
            return true;
        case SYMBOL_BANK:
        case SYMBOL_ISIN:
        case SYMBOL_BASIS:
            value = string();
            return true;
    }
    set_last_error(ERR_MARKET_WRONG_PROPERTY);
    return false;
}

string SymbolInfoString(const string &name, ENUM_SYMBOL_INFO_STRING property) {
    string value;
    return SymbolInfoString(name, property, value) ? value : string();
}

uint GetTickCount() { return static_cast<uint>(GetTickCount64()); }

ulong GetTickCount64() {
    timespec now{};
    clock_gettime(CLOCK_MONOTONIC, &now);
    return static_cast<ulong>(now.tv_sec) * 1000u + static_cast<ulong>(now.tv_nsec / 1000000);
}

ulong GetMicrosecondCount() {
    return static_cast<ulong>(
        std::chrono::duration_cast<std::chrono::microseconds>(mql_terminal::Clock::now() - state().started).count());
}

datetime TimeGMT() { return wall_seconds(); }
datetime TimeCurrent() { return wall_seconds() + state().server_offset_s; }
datetime TimeTradeServer() { return TimeCurrent(); }

datetime TimeLocal() {
    const time_t now = static_cast<time_t>(wall_seconds());
    struct tm local {};
    localtime_r(&now, &local);
    return static_cast<datetime>(now + local.tm_gmtoff);
}

int TimeGMTOffset() { return static_cast<int>(TimeGMT() - TimeLocal()); }

namespace {

struct EnumName {
    int value;
    const char *name;
};

template <std::size_t N>
string enum_text(const EnumName (&names)[N], int value, const char *type) {
    for (const EnumName &entry : names) {
        if (entry.value == value) {
            return string::from_utf8(entry.name);
        }
    }
    return string::from_utf8(std::string(type) + "::" + std::to_string(value));
}

#define CSMC_NAME(value) {value, #value}

}  // namespace

string EnumToString(ENUM_TRADE_TRANSACTION_TYPE value) {
    static const EnumName names[] = {
        CSMC_NAME(TRADE_TRANSACTION_ORDER_ADD),      CSMC_NAME(TRADE_TRANSACTION_ORDER_UPDATE),
        CSMC_NAME(TRADE_TRANSACTION_ORDER_DELETE),   CSMC_NAME(TRADE_TRANSACTION_HISTORY_ADD),
        CSMC_NAME(TRADE_TRANSACTION_HISTORY_UPDATE), CSMC_NAME(TRADE_TRANSACTION_HISTORY_DELETE),
        CSMC_NAME(TRADE_TRANSACTION_DEAL_ADD),       CSMC_NAME(TRADE_TRANSACTION_DEAL_UPDATE),
        CSMC_NAME(TRADE_TRANSACTION_DEAL_DELETE),    CSMC_NAME(TRADE_TRANSACTION_POSITION),
        CSMC_NAME(TRADE_TRANSACTION_REQUEST),
    };
    return enum_text(names, value, "ENUM_TRADE_TRANSACTION_TYPE");
}

string EnumToString(ENUM_DEAL_ENTRY value) {
    static const EnumName names[] = {CSMC_NAME(DEAL_ENTRY_IN), CSMC_NAME(DEAL_ENTRY_OUT), CSMC_NAME(DEAL_ENTRY_INOUT),
                                     CSMC_NAME(DEAL_ENTRY_OUT_BY)};
    return enum_text(names, value, "ENUM_DEAL_ENTRY");
}

string EnumToString(ENUM_DEAL_TYPE value) {
    static const EnumName names[] = {
        CSMC_NAME(DEAL_TYPE_BUY),    CSMC_NAME(DEAL_TYPE_SELL),       CSMC_NAME(DEAL_TYPE_BALANCE),
        CSMC_NAME(DEAL_TYPE_CREDIT), CSMC_NAME(DEAL_TYPE_CHARGE),     CSMC_NAME(DEAL_TYPE_CORRECTION),
        CSMC_NAME(DEAL_TYPE_BONUS),  CSMC_NAME(DEAL_TYPE_COMMISSION),
    };
    return enum_text(names, value, "ENUM_DEAL_TYPE");
}

string EnumToString(ENUM_DEAL_REASON value) {
    static const EnumName names[] = {
        CSMC_NAME(DEAL_REASON_CLIENT), CSMC_NAME(DEAL_REASON_MOBILE),   CSMC_NAME(DEAL_REASON_WEB),
        CSMC_NAME(DEAL_REASON_EXPERT), CSMC_NAME(DEAL_REASON_SL),       CSMC_NAME(DEAL_REASON_TP),
        CSMC_NAME(DEAL_REASON_SO),     CSMC_NAME(DEAL_REASON_ROLLOVER), CSMC_NAME(DEAL_REASON_VMARGIN),
        CSMC_NAME(DEAL_REASON_SPLIT),
    };
    return enum_text(names, value, "ENUM_DEAL_REASON");
}

string EnumToString(ENUM_POSITION_TYPE value) {
    static const EnumName names[] = {CSMC_NAME(POSITION_TYPE_BUY), CSMC_NAME(POSITION_TYPE_SELL)};
    return enum_text(names, value, "ENUM_POSITION_TYPE");
}

string EnumToString(ENUM_ORDER_TYPE value) {
    static const EnumName names[] = {
        CSMC_NAME(ORDER_TYPE_BUY),        CSMC_NAME(ORDER_TYPE_SELL),           CSMC_NAME(ORDER_TYPE_BUY_LIMIT),
        CSMC_NAME(ORDER_TYPE_SELL_LIMIT), CSMC_NAME(ORDER_TYPE_BUY_STOP),       CSMC_NAME(ORDER_TYPE_SELL_STOP),
        CSMC_NAME(ORDER_TYPE_BUY_STOP_LIMIT), CSMC_NAME(ORDER_TYPE_SELL_STOP_LIMIT), CSMC_NAME(ORDER_TYPE_CLOSE_BY),
    };
    return enum_text(names, value, "ENUM_ORDER_TYPE");
}

string EnumToString(ENUM_ORDER_STATE value) {
    static const EnumName names[] = {
        CSMC_NAME(ORDER_STATE_STARTED),     CSMC_NAME(ORDER_STATE_PLACED),        CSMC_NAME(ORDER_STATE_CANCELED),
        CSMC_NAME(ORDER_STATE_PARTIAL),     CSMC_NAME(ORDER_STATE_FILLED),        CSMC_NAME(ORDER_STATE_REJECTED),
        CSMC_NAME(ORDER_STATE_EXPIRED),     CSMC_NAME(ORDER_STATE_REQUEST_ADD),   CSMC_NAME(ORDER_STATE_REQUEST_MODIFY),
        CSMC_NAME(ORDER_STATE_REQUEST_CANCEL),
    };
    return enum_text(names, value, "ENUM_ORDER_STATE");
}

string EnumToString(ENUM_ACCOUNT_MARGIN_MODE value) {
    static const EnumName names[] = {CSMC_NAME(ACCOUNT_MARGIN_MODE_RETAIL_NETTING), CSMC_NAME(ACCOUNT_MARGIN_MODE_EXCHANGE),
                                     CSMC_NAME(ACCOUNT_MARGIN_MODE_RETAIL_HEDGING)};
    return enum_text(names, value, "ENUM_ACCOUNT_MARGIN_MODE");
}

string EnumToString(ENUM_ACCOUNT_TRADE_MODE value) {
    static const EnumName names[] = {CSMC_NAME(ACCOUNT_TRADE_MODE_DEMO), CSMC_NAME(ACCOUNT_TRADE_MODE_CONTEST),
                                     CSMC_NAME(ACCOUNT_TRADE_MODE_REAL)};
    return enum_text(names, value, "ENUM_ACCOUNT_TRADE_MODE");
}
