"""Spot accounts: which instrument's position a base currency's balance is.

A spot venue holds balances, not positions; the copier reads the balance of BTC as the position of the one
instrument that owns BTC. That is the BTC/quote pair by default, or the instrument an override names.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sidecar.errors import ConfigError
from sidecar.model import Instrument


def position_symbols(
    instruments: Mapping[str, Instrument], quote: str, overrides: Iterable[str], venue: str
) -> dict[str, str]:
    """Base currency → the venue symbol whose position its balance is."""
    quote = quote.upper()
    owners = {i.base: i.symbol for i in instruments.values() if i.quote == quote}
    claimed: dict[str, str] = {}
    for symbol in overrides:
        instrument = instruments.get(symbol)
        if instrument is None:
            continue  # the symbol mapper reports an override that names no instrument
        if claimed.get(instrument.base, symbol) != symbol:
            raise ConfigError(
                f"[mapping.overrides] map MT5 symbols to both {claimed[instrument.base]} and {symbol}. On {venue} "
                f"Spot a position is the balance of its base currency ({instrument.base}), so only one "
                f"instrument per base currency can be copied. Keep one of the two overrides."
            )
        claimed[instrument.base] = symbol
    owners.update(claimed)
    owners.pop(quote, None)  # the quote currency is cash, never a position
    return owners
