"""KuCoin's symbol and contract lists → Instrument: the trading rules a market order must meet.

Spot (`GET /api/v2/symbols`): an order's `size` is in the base currency, a multiple of `baseIncrement`, at
least `baseMinSize`, at most `baseMaxSize`, and worth at least `minFunds` of the quote currency.

Futures (`GET /api/v1/contracts/active`): an order's `size` is a whole number of lots (a multiple of
`lotSize`, at most `maxOrderQty`), and one lot is `multiplier` base units (0.001 BTC for XBTUSDTM). The
engine counts in base units, so a contract's Instrument has multiplier 1 and its lot step, minimum and
maximum in base units; `Contracts.lot` keeps KuCoin's multiplier for converting orders and positions.
Inverse contracts (settled in the base currency, sized in USD) are not copied and left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sidecar.decimals import ZERO, dec, plain, rule  # noqa: F401 (the venue modules import them from here)
from sidecar.model import Instrument

# KuCoin Futures names bitcoin XBT (XBTUSDTM); MT5 and KuCoin Spot call it BTC.
FUTURES_ALIASES = {"XBT": "BTC"}
PERPETUAL = "FFWCSX"  # contract type of perpetual swaps; dated futures are FFICSX
TRADING = "Open"  # contract status while it trades; Paused, BeingSettled, CancelOnly, … do not take orders


def common_name(currency: str) -> str:
    return FUTURES_ALIASES.get(currency.upper(), currency.upper())


def spot_instrument(row: Mapping[str, Any]) -> Instrument:
    return Instrument(
        symbol=str(row["symbol"]),
        base=str(row.get("baseCurrency", "")),
        quote=str(row.get("quoteCurrency", "")),
        lot_step=rule(row.get("baseIncrement")),
        min_qty=rule(row.get("baseMinSize")),
        min_notional=rule(row.get("minFunds")),
        tick=rule(row.get("priceIncrement")),
        max_qty=rule(row.get("baseMaxSize")),
        trading=row.get("enableTrading") is True,
    )


def parse_spot_symbols(rows: Iterable[Any]) -> dict[str, Instrument]:
    return {str(r["symbol"]): spot_instrument(r) for r in rows if isinstance(r, Mapping) and r.get("symbol")}


@dataclass
class Contracts:
    """The linear contracts of the futures endpoint: rules in base units, and KuCoin's lot of each."""

    instruments: dict[str, Instrument] = field(default_factory=dict)
    lot: dict[str, Decimal] = field(default_factory=dict)  # base units per lot (KuCoin's `multiplier`)
    by_pair: dict[tuple[str, str], str] = field(default_factory=dict)  # (BTC, USDT) → XBTUSDTM


def parse_contracts(rows: Iterable[Any]) -> Contracts:
    out = Contracts()
    for row in rows:
        if not isinstance(row, Mapping) or not row.get("symbol"):
            continue
        multiplier = dec(row.get("multiplier"))
        if row.get("isInverse") is True or multiplier <= 0:
            continue
        symbol = str(row["symbol"])
        lots_per_step = max(dec(row.get("lotSize")), Decimal(1))
        step = Decimal(plain(multiplier * lots_per_step))
        out.instruments[symbol] = Instrument(
            symbol=symbol,
            base=str(row.get("baseCurrency", "")),
            quote=str(row.get("quoteCurrency", "")),
            lot_step=step,
            min_qty=step,
            tick=rule(row.get("tickSize")),
            max_qty=Decimal(plain(multiplier * dec(row.get("maxOrderQty")))),
            trading=row.get("status") == TRADING,
        )
        out.lot[symbol] = Decimal(plain(multiplier))
        pair = (common_name(str(row.get("baseCurrency", ""))), str(row.get("quoteCurrency", "")).upper())
        # A perpetual wins the pair over a dated contract of the same currencies.
        if pair not in out.by_pair or row.get("type") == PERPETUAL:
            out.by_pair[pair] = symbol
    return out


def futures_symbol(base: str, quote: str) -> str:
    """KuCoin's name of a perpetual when the contract list does not say: BTC, USDT → XBTUSDTM."""
    aliases = {v: k for k, v in FUTURES_ALIASES.items()}
    return f"{aliases.get(base.upper(), base.upper())}{quote.upper()}M"
