// The scripted trading account: market deals and close-by operations change the position table and the
// deal history exactly as an MT5 server would, and produce the trade transactions the terminal reports.
#pragma once

#include "../shim/terminal.h"

#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace account {

struct StepError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct Transaction {
    MqlTradeTransaction trans;
    MqlTradeRequest request;
    MqlTradeResult result;
};

struct MarketDeal {
    std::string symbol;
    int side = POSITION_TYPE_BUY;
    long volume_units = 0;
    std::optional<double> price;
    long magic = 0;
    std::string comment;
    std::optional<int> reason;
    std::optional<std::string> close;  // label or numeric position id
    std::optional<std::string> label;
};

// Parses a plain decimal volume ("0.10", 5) into 1e-8 lot units.
long parse_volume(const std::string &text);

class Book {
public:
    void add_balance(double amount);
    std::vector<Transaction> deal(const MarketDeal &order);
    std::vector<Transaction> close_by(const std::string &position, const std::string &by);
    bool hedging() const;

private:
    mql_terminal::Position *open_position(ulong identifier);
    ulong resolve(const std::string &reference) const;
    mql_terminal::Deal &add_deal(ulong order, int type, int entry, long magic, int reason, ulong position_id,
                                 long volume_units, double price, const std::string &symbol,
                                 const std::string &comment);
    void remove_empty_positions();

    std::map<std::string, ulong> m_labels;
    ulong m_next_order = 1001;
    ulong m_next_deal = 5001;
};

}  // namespace account
