#include "account.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>

namespace account {

namespace {

using mql_terminal::Deal;
using mql_terminal::kVolumeUnitsPerLot;
using mql_terminal::Position;
using mql_terminal::state;

string text(const std::string &utf8) { return string::from_utf8(utf8); }

double lots(long volume_units) { return static_cast<double>(volume_units) / static_cast<double>(kVolumeUnitsPerLot); }

long now_msc() {
    const auto since_epoch = std::chrono::system_clock::now().time_since_epoch();
    return static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch).count()) +
           state().server_offset_s * 1000;
}

int opposite(int position_type) { return position_type == POSITION_TYPE_BUY ? POSITION_TYPE_SELL : POSITION_TYPE_BUY; }

int deal_type_for(int side) { return side == POSITION_TYPE_BUY ? DEAL_TYPE_BUY : DEAL_TYPE_SELL; }

double realised(const Position &position, double price, long volume_units) {
    const mql_terminal::SymbolSpec *symbol = mql_terminal::find_symbol(position.symbol);
    const double contract = symbol == nullptr ? 1.0 : symbol->contract_size;
    const double direction = position.type == POSITION_TYPE_BUY ? 1.0 : -1.0;
    return (price - position.price_open) * direction * lots(volume_units) * contract;
}

Transaction order_transaction(ENUM_TRADE_TRANSACTION_TYPE type, ulong order, const std::string &symbol,
                              ENUM_ORDER_TYPE order_type, ENUM_ORDER_STATE order_state, long volume_units,
                              double price, ulong position, ulong position_by) {
    Transaction transaction;
    transaction.trans.type = type;
    transaction.trans.order = order;
    transaction.trans.symbol = text(symbol);
    transaction.trans.order_type = order_type;
    transaction.trans.order_state = order_state;
    transaction.trans.time_type = ORDER_TIME_GTC;
    transaction.trans.volume = lots(volume_units);
    transaction.trans.price = price;
    transaction.trans.position = position;
    transaction.trans.position_by = position_by;
    return transaction;
}

Transaction deal_transaction(const Deal &deal) {
    Transaction transaction;
    transaction.trans.type = TRADE_TRANSACTION_DEAL_ADD;
    transaction.trans.deal = deal.ticket;
    transaction.trans.order = deal.order;
    transaction.trans.symbol = text(deal.symbol);
    transaction.trans.deal_type = static_cast<ENUM_DEAL_TYPE>(deal.type);
    transaction.trans.order_type = deal.type == DEAL_TYPE_BUY ? ORDER_TYPE_BUY : ORDER_TYPE_SELL;
    transaction.trans.order_state = ORDER_STATE_STARTED;
    transaction.trans.price = deal.price;
    transaction.trans.volume = lots(deal.volume_units);
    transaction.trans.position = deal.position_id;
    return transaction;
}

}  // namespace

long parse_volume(const std::string &text) {
    std::size_t at = 0;
    long whole = 0;
    long fraction = 0;
    int fraction_digits = 0;
    bool any_digit = false;
    while (at < text.size() && text[at] >= '0' && text[at] <= '9') {
        whole = whole * 10 + (text[at] - '0');
        any_digit = true;
        if (whole > 1000000000L) {
            throw StepError("volume '" + text + "' is too large");
        }
        ++at;
    }
    if (at < text.size() && text[at] == '.') {
        ++at;
        while (at < text.size() && text[at] >= '0' && text[at] <= '9') {
            if (fraction_digits == 8) {
                throw StepError("volume '" + text + "' has more than 8 decimals");
            }
            fraction = fraction * 10 + (text[at] - '0');
            ++fraction_digits;
            any_digit = true;
            ++at;
        }
    }
    if (!any_digit || at != text.size()) {
        throw StepError("volume '" + text + "' is not a plain positive decimal");
    }
    while (fraction_digits < 8) {
        fraction *= 10;
        ++fraction_digits;
    }
    const long units = whole * kVolumeUnitsPerLot + fraction;
    if (units <= 0) {
        throw StepError("volume '" + text + "' must be positive");
    }
    return units;
}

bool Book::hedging() const { return state().margin_mode == ACCOUNT_MARGIN_MODE_RETAIL_HEDGING; }

void Book::add_balance(double amount) {
    Deal &deposit = add_deal(0, DEAL_TYPE_BALANCE, DEAL_ENTRY_IN, 0, DEAL_REASON_CLIENT, 0, 0, 0.0, "", "deposit");
    deposit.profit = amount;
    // The deposit predates the session, as it does on any real account.
    deposit.time -= 86400;
    deposit.time_msc -= 86400L * 1000;
}

Position *Book::open_position(ulong identifier) {
    for (Position &position : state().positions) {
        if (position.identifier == identifier) {
            return &position;
        }
    }
    return nullptr;
}

ulong Book::resolve(const std::string &reference) const {
    const auto label = m_labels.find(reference);
    if (label != m_labels.end()) {
        return label->second;
    }
    char *end = nullptr;
    errno = 0;
    const unsigned long long number = std::strtoull(reference.c_str(), &end, 10);
    if (reference.empty() || *end != '\0' || errno == ERANGE) {
        throw StepError("no position is labelled '" + reference + "'");
    }
    return static_cast<ulong>(number);
}

Deal &Book::add_deal(ulong order, int type, int entry, long magic, int reason, ulong position_id, long volume_units,
                     double price, const std::string &symbol, const std::string &comment) {
    Deal deal;
    deal.ticket = m_next_deal++;
    deal.order = order;
    deal.time_msc = now_msc();
    deal.time = deal.time_msc / 1000;
    deal.type = type;
    deal.entry = entry;
    deal.magic = magic;
    deal.reason = reason;
    deal.position_id = position_id;
    deal.volume_units = volume_units;
    deal.price = price;
    deal.symbol = symbol;
    deal.comment = comment;
    state().deals.push_back(deal);
    return state().deals.back();
}

void Book::remove_empty_positions() {
    auto &positions = state().positions;
    positions.erase(std::remove_if(positions.begin(), positions.end(),
                                   [](const Position &position) { return position.volume_units == 0; }),
                    positions.end());
}

std::vector<Transaction> Book::deal(const MarketDeal &order) {
    const mql_terminal::SymbolSpec *symbol = mql_terminal::find_symbol(order.symbol);
    if (symbol == nullptr) {
        throw StepError("symbol '" + order.symbol + "' is not in the scenario's symbols");
    }
    const double price = order.price ? *order.price : (order.side == POSITION_TYPE_BUY ? symbol->ask : symbol->bid);
    const int reason = order.reason ? *order.reason : (order.magic != 0 ? DEAL_REASON_EXPERT : DEAL_REASON_CLIENT);
    const long stamp_msc = now_msc();

    Position *target = nullptr;
    if (order.close) {
        const ulong identifier = resolve(*order.close);
        target = open_position(identifier);
        if (target == nullptr) {
            throw StepError("position '" + *order.close + "' (" + std::to_string(identifier) + ") is not open");
        }
        if (target->symbol != order.symbol) {
            throw StepError("position '" + *order.close + "' is on " + target->symbol + ", not " + order.symbol);
        }
        if (target->type == order.side) {
            throw StepError("closing position '" + *order.close + "' needs a deal in the opposite direction");
        }
        if (hedging() && order.volume_units > target->volume_units) {
            throw StepError("cannot close " + mql_terminal::volume_text(order.volume_units) + " lots of position '" +
                            *order.close + "', which holds " + mql_terminal::volume_text(target->volume_units));
        }
    }
    if (!hedging()) {
        Position *netted = nullptr;
        for (Position &position : state().positions) {
            if (position.symbol == order.symbol) {
                netted = &position;
            }
        }
        if (order.close && netted != target) {
            throw StepError("position '" + *order.close + "' is not the open position of " + order.symbol);
        }
        target = netted;
    }

    const ulong order_ticket = m_next_order++;
    int entry = DEAL_ENTRY_IN;
    double profit = 0.0;
    ulong position_id = 0;
    if (target == nullptr) {
        Position opened;
        opened.ticket = order_ticket;
        opened.identifier = order_ticket;
        opened.symbol = order.symbol;
        opened.type = order.side;
        opened.volume_units = order.volume_units;
        opened.price_open = price;
        opened.magic = order.magic;
        opened.time_msc = stamp_msc;
        opened.time = stamp_msc / 1000;
        opened.time_update_msc = stamp_msc;
        opened.time_update = stamp_msc / 1000;
        opened.comment = order.comment;
        opened.reason = reason <= DEAL_REASON_EXPERT ? reason : POSITION_REASON_CLIENT;
        state().positions.push_back(opened);
        position_id = opened.identifier;
    } else {
        position_id = target->identifier;
        if (target->type == order.side) {
            const long total = target->volume_units + order.volume_units;
            target->price_open = (target->price_open * static_cast<double>(target->volume_units) +
                                   price * static_cast<double>(order.volume_units)) /
                                 static_cast<double>(total);
            target->volume_units = total;
        } else if (order.volume_units <= target->volume_units) {
            entry = DEAL_ENTRY_OUT;
            profit = realised(*target, price, order.volume_units);
            target->volume_units -= order.volume_units;
        } else {
            // Netting reversal: the position keeps its identifier and turns around.
            entry = DEAL_ENTRY_INOUT;
            profit = realised(*target, price, target->volume_units);
            target->volume_units = order.volume_units - target->volume_units;
            target->type = order.side;
            target->price_open = price;
        }
        target->time_update_msc = stamp_msc;
        target->time_update = stamp_msc / 1000;
    }
    Deal &made = add_deal(order_ticket, deal_type_for(order.side), entry, order.magic, reason, position_id,
                          order.volume_units, price, order.symbol, order.comment);
    made.profit = profit;
    state().balance += profit;
    const Deal deal_copy = made;
    remove_empty_positions();
    if (order.label) {
        m_labels[*order.label] = position_id;
    }

    const auto order_type = order.side == POSITION_TYPE_BUY ? ORDER_TYPE_BUY : ORDER_TYPE_SELL;
    const ulong closing = (hedging() && order.close) ? position_id : 0;
    return {
        order_transaction(TRADE_TRANSACTION_ORDER_ADD, order_ticket, order.symbol, order_type, ORDER_STATE_STARTED,
                          order.volume_units, price, closing, 0),
        deal_transaction(deal_copy),
        order_transaction(TRADE_TRANSACTION_ORDER_DELETE, order_ticket, order.symbol, order_type, ORDER_STATE_FILLED,
                          order.volume_units, price, position_id, 0),
        order_transaction(TRADE_TRANSACTION_HISTORY_ADD, order_ticket, order.symbol, order_type, ORDER_STATE_FILLED,
                          0, price, position_id, 0),
    };
}

std::vector<Transaction> Book::close_by(const std::string &position, const std::string &by) {
    if (!hedging()) {
        throw StepError("close_by needs a hedging account");
    }
    Position *first = open_position(resolve(position));
    Position *second = open_position(resolve(by));
    if (first == nullptr || second == nullptr) {
        throw StepError("close_by: position '" + (first == nullptr ? position : by) + "' is not open");
    }
    if (first == second || first->symbol != second->symbol || first->type == second->type) {
        throw StepError("close_by needs two opposite positions on one symbol");
    }
    const ulong order_ticket = m_next_order++;
    const long volume = std::min(first->volume_units, second->volume_units);
    const double price = second->price_open;
    std::vector<Transaction> transactions;
    transactions.push_back(order_transaction(TRADE_TRANSACTION_ORDER_ADD, order_ticket, first->symbol,
                                             ORDER_TYPE_CLOSE_BY, ORDER_STATE_STARTED, volume, price,
                                             first->identifier, second->identifier));
    for (Position *closed : {first, second}) {
        Deal &made = add_deal(order_ticket, deal_type_for(opposite(closed->type)), DEAL_ENTRY_OUT_BY, closed->magic,
                              DEAL_REASON_CLIENT, closed->identifier, volume, price, closed->symbol, "");
        made.profit = realised(*closed, price, volume);
        state().balance += made.profit;
        closed->volume_units -= volume;
        transactions.push_back(deal_transaction(made));
    }
    const std::string symbol = first->symbol;
    const ulong first_id = first->identifier;
    const ulong second_id = second->identifier;
    remove_empty_positions();
    transactions.push_back(order_transaction(TRADE_TRANSACTION_ORDER_DELETE, order_ticket, symbol, ORDER_TYPE_CLOSE_BY,
                                             ORDER_STATE_FILLED, volume, price, first_id, second_id));
    transactions.push_back(order_transaction(TRADE_TRANSACTION_HISTORY_ADD, order_ticket, symbol, ORDER_TYPE_CLOSE_BY,
                                             ORDER_STATE_FILLED, 0, price, first_id, second_id));
    return transactions;
}

}  // namespace account
