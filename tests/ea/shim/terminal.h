// The scripted terminal behind the shim: settings from the scenario, the account, the program's timer and
// stop flags, the event log and the OS resources the EA opened. Shared by the shim runtime and the runner;
// MQL5 code never includes it.
#pragma once

#include "mql5.h"

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace mql_terminal {

using Clock = std::chrono::steady_clock;

// Volumes are kept in units of 1e-8 lots so that netting adds and subtracts exactly.
inline constexpr long kVolumeUnitsPerLot = 100000000;
// Comment shows at most this many characters and cuts the rest (MQL5 reference, Comment).
inline constexpr std::size_t kCommentMaxChars = 2045;

// shell: a ShellExecuteW call (the command line); process: what became of a started process.
enum class EventKind { print, alert, comment, shell, process, step, runtime_error };

struct Event {
    double t_ms = 0.0;
    EventKind kind = EventKind::print;
    std::string text;
};

struct SymbolSpec {
    std::string name;
    std::string base = "EUR";
    std::string profit = "USD";
    std::string margin;
    std::string description;
    double contract_size = 100000.0;
    double volume_step = 0.01;
    double volume_min = 0.01;
    double volume_max = 100.0;
    double bid = 1.0;
    double ask = 1.0;
    double point = 0.00001;
    int digits = 5;
    bool selected = true;
};

struct Position {
    ulong ticket = 0;
    ulong identifier = 0;
    std::string symbol;
    int type = POSITION_TYPE_BUY;
    long volume_units = 0;
    double price_open = 0.0;
    long magic = 0;
    long time = 0;
    long time_msc = 0;
    long time_update = 0;
    long time_update_msc = 0;
    std::string comment;
    int reason = POSITION_REASON_CLIENT;
};

struct Deal {
    ulong ticket = 0;
    ulong order = 0;
    long time = 0;
    long time_msc = 0;
    int type = DEAL_TYPE_BUY;
    int entry = DEAL_ENTRY_IN;
    int reason = DEAL_REASON_CLIENT;
    long magic = 0;
    ulong position_id = 0;
    long volume_units = 0;
    double price = 0.0;
    double profit = 0.0;
    std::string symbol;
    std::string comment;
};

struct Process {
    pid_t pid = 0;
    std::string command;
    bool running = true;
    int wait_status = 0;
};

struct State {
    bool narrate = false;
    Clock::time_point started = Clock::now();

    // Terminal settings.
    bool dlls_allowed = true;
    bool connected = true;
    bool trade_allowed = true;
    // MetaTrader answers SocketIsReadable with 1 for an empty buffer and leaves the real check to the next read.
    bool speculative_readable = false;
    // The error SocketConnect reports for a host missing from allowed_hosts (4014 as far as known; configurable
    // so that the EA's handling of any other code can be tested).
    int not_allowed_error = 4014;
    // Where the program runs: a live chart, or the Strategy Tester (single run, optimisation, visual mode).
    enum class Mode { live, tester, optimization, visual };
    Mode mode = Mode::live;
    std::vector<std::string> allowed_hosts;
    std::string run_dir;
    std::string terminal_path;
    std::string data_path;
    std::string common_path;
    std::string program_name = "Expert";
    long chart_id = 133246500000000001L;

    // Account.
    long login = 0;
    std::string server = "Demo-Server";
    std::string currency = "USD";
    std::string company = "Scripted Broker Ltd";
    std::string account_name = "Test Account";
    int margin_mode = ACCOUNT_MARGIN_MODE_RETAIL_NETTING;
    int trade_mode = ACCOUNT_TRADE_MODE_DEMO;
    long leverage = 100;
    double balance = 10000.0;
    long server_offset_s = 0;
    std::vector<SymbolSpec> symbols;
    std::vector<Position> positions;
    std::vector<Deal> deals;
    std::optional<Position> selected_position;
    std::vector<ulong> selected_deals;

    // Program.
    int timer_period_ms = 0;
    Clock::time_point timer_next_due;
    bool remove_requested = false;
    std::string comment_text;
    std::vector<Event> events;
    std::vector<Process> processes;
    int process_counter = 0;
};

State &state();

double elapsed_ms();
// Logs an event; with narration on it is also shown on stderr (as `narration` when that is given).
void record(EventKind kind, const std::string &text, const std::string &narration = "");
const SymbolSpec *find_symbol(const std::string &name);
std::string volume_text(long volume_units);

// Reaps processes that ended by themselves, recording how they ended.
void reap_processes();
// Sends `signal` to every started process that still runs; with wait, collects them.
void signal_processes(int signal, bool wait);
// SIGTERM, then SIGKILL for those still running after `grace_ms`.
void terminate_processes(int grace_ms);
std::string describe_wait_status(int status);
void close_all_handles();

}  // namespace mql_terminal
