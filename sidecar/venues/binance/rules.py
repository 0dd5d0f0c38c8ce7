"""exchangeInfo → Instrument: the trading rules a MARKET order must meet.

Binance checks a MARKET order against LOT_SIZE and, when it is set, MARKET_LOT_SIZE, so the step is the
coarser of the two, the minimum the larger and the maximum the smaller. A minimum notional counts for
MARKET orders only where Binance applies it to them: Spot's NOTIONAL / legacy MIN_NOTIONAL carry an
apply-to-market flag, USDⓈ-M's MIN_NOTIONAL (field `notional`) always applies, except to reduce-only orders.

Every symbol Binance lists is kept, trading or not: a symbol in BREAK (Spot) or SETTLING (USDⓈ-M) is still
the instrument MT5's position belongs to, and reading the rules again shows when it trades again.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from sidecar.decimals import ZERO, dec, plain, rule
from sidecar.model import Instrument

# Binance's IP weight limits per minute when exchangeInfo does not say (its `rateLimits` REQUEST_WEIGHT row).
DEFAULT_WEIGHT_LIMIT = {"spot": 6000, "futures": 2400}


def common_step(steps: Iterable[Decimal]) -> Decimal:
    """The smallest step that is a multiple of every non-zero step (their least common multiple)."""
    live = [s for s in steps if s > 0]
    if not live:
        return ZERO
    scale = max(max(-s.as_tuple().exponent, 0) for s in live)  # type: ignore[operator]
    ints = [int(s.scaleb(scale)) for s in live]
    return Decimal(plain(Decimal(math.lcm(*ints)).scaleb(-scale)))


def _filters(info: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {f.get("filterType", ""): f for f in info.get("filters", []) if isinstance(f, Mapping)}


def market_min_notional(filters: Mapping[str, Mapping[str, Any]], *, futures: bool) -> Decimal:
    if futures:
        return dec(filters.get("MIN_NOTIONAL", {}).get("notional"))
    minimum = ZERO
    notional = filters.get("NOTIONAL")
    if notional is not None and notional.get("applyMinToMarket", False):
        minimum = max(minimum, dec(notional.get("minNotional")))
    legacy = filters.get("MIN_NOTIONAL")
    if legacy is not None and legacy.get("applyToMarket", False):
        minimum = max(minimum, dec(legacy.get("minNotional")))
    return minimum


def market_max_qty(filters: Mapping[str, Mapping[str, Any]]) -> Decimal:
    """The largest MARKET order: the smaller maxQty of LOT_SIZE and MARKET_LOT_SIZE (0 where neither sets one)."""
    limits = [rule(filters.get(name, {}).get("maxQty")) for name in ("LOT_SIZE", "MARKET_LOT_SIZE")]
    live = [q for q in limits if q > 0]
    return min(live) if live else ZERO


def parse_symbol(info: Mapping[str, Any], *, futures: bool) -> Instrument | None:
    """One exchangeInfo symbol as an Instrument; None for one that never takes MARKET orders on this endpoint
    (a margin-only Spot pair, a symbol without the MARKET order type)."""
    if not futures and info.get("isSpotTradingAllowed") is False:
        return None
    if "MARKET" not in info.get("orderTypes", ["MARKET"]):
        return None
    filters = _filters(info)
    lot = filters.get("LOT_SIZE", {})
    market_lot = filters.get("MARKET_LOT_SIZE", {})
    step = common_step([dec(lot.get("stepSize")), dec(market_lot.get("stepSize"))])
    min_qty = max(rule(lot.get("minQty")), rule(market_lot.get("minQty")))
    return Instrument(
        symbol=str(info["symbol"]),
        base=str(info.get("baseAsset", "")),
        quote=str(info.get("quoteAsset", "")),
        lot_step=step,
        min_qty=min_qty,
        min_notional=Decimal(plain(market_min_notional(filters, futures=futures))),
        tick=rule(filters.get("PRICE_FILTER", {}).get("tickSize")),
        max_qty=market_max_qty(filters),
        # Spot statuses: TRADING, END_OF_DAY, HALT, BREAK; USDⓈ-M: PENDING_TRADING, TRADING, PRE_SETTLE,
        # SETTLING, CLOSE, … (Binance's ENUM definitions). Only TRADING takes orders.
        trading=info.get("status") == "TRADING",
        # USDⓈ-M -4164: "Order's notional must be no smaller than %s (unless you choose reduce only)". Binance's
        # USDⓈ-M general info counts a hedge-mode LONG+SELL or SHORT+BUY order as reduce-only / close-position
        # ("Reduce-only / Close-position: … positionSide = BOTH with reduceOnly = true, or LONG+SELL, or
        # SHORT+BUY"), so the waiver covers both Position Modes. Spot has no reduce-only order.
        reduce_only_waives_min_notional=futures,
    )


def parse_exchange_info(data: Mapping[str, Any], *, futures: bool) -> dict[str, Instrument]:
    out: dict[str, Instrument] = {}
    for info in data.get("symbols", []):
        if isinstance(info, Mapping) and "symbol" in info:
            instrument = parse_symbol(info, futures=futures)
            if instrument is not None:
                out[instrument.symbol] = instrument
    return out


def symbol_statuses(data: Mapping[str, Any]) -> dict[str, str]:
    """Symbol → Binance's status word (TRADING, BREAK, SETTLING, …), for messages."""
    return {
        str(info["symbol"]): str(info.get("status", ""))
        for info in data.get("symbols", [])
        if isinstance(info, Mapping) and "symbol" in info
    }


def request_weight_limit(data: Mapping[str, Any], *, futures: bool) -> int:
    """The IP's request weight per minute, from exchangeInfo's `rateLimits`."""
    for row in data.get("rateLimits", []):
        if (
            isinstance(row, Mapping)
            and row.get("rateLimitType") == "REQUEST_WEIGHT"
            and row.get("interval") == "MINUTE"
            and int(row.get("intervalNum", 1) or 1) == 1
        ):
            limit = int(dec(row.get("limit")))
            if limit > 0:
                return limit
    return DEFAULT_WEIGHT_LIMIT["futures" if futures else "spot"]
