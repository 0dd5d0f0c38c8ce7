"""MT5 symbol and volume → venue instrument and quantity.

An MT5 symbol is mapped through, in order: a user override (by exact MT5 name, then by its root), or
the position's base and profit currency, with the profit currency replaced by the venue's quote
currency (USD → USDT). The root is the MT5 name without the broker's decorations ("#BTCUSD.m" → "BTCUSD").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal, localcontext

from sidecar.errors import ConfigError
from sidecar.model import Instrument

_ROOT = re.compile(r"[A-Z0-9]+")


class UnknownSymbol(ConfigError):
    """An MT5 symbol has no venue instrument: that symbol is not copied until an override is added."""


@dataclass(frozen=True)
class SymbolOverride:
    symbol: str
    multiplier: Decimal = Decimal(1)


@dataclass(frozen=True)
class MappedSymbol:
    mt5_symbol: str
    instrument: Instrument
    multiplier: Decimal


class SymbolMapper:
    def __init__(
        self,
        instruments: Mapping[str, Instrument],
        venue_symbol: Callable[[str, str], str],
        *,
        overrides: Mapping[str, SymbolOverride] | None = None,
        prefixes: tuple[str, ...] = (),
        suffixes: tuple[str, ...] = (),
        mt_profit_currency: str = "",
        quote_currency: str = "",
        multiplier: Decimal = Decimal(1),
    ) -> None:
        self._instruments = instruments
        self._venue_symbol = venue_symbol
        self._overrides = dict(overrides or {})
        self._prefixes = prefixes
        self._suffixes = suffixes
        self._mt_profit_currency = mt_profit_currency.upper()
        self._quote_currency = quote_currency.upper()
        self._multiplier = multiplier
        # MT5 sends the same few symbols in every table: each is mapped once (or refused once).
        self._mapped: dict[tuple[str, str, str], MappedSymbol | UnknownSymbol] = {}

    @property
    def instruments(self) -> Mapping[str, Instrument]:
        return self._instruments

    def update_instruments(self, instruments: Mapping[str, Instrument]) -> None:
        """The venue's rules were read again: map every symbol afresh."""
        self._instruments = instruments
        self._mapped.clear()

    def forget_unknown(self) -> None:
        """The venue learned instruments it did not list before (looked up lazily): refusals may no longer hold."""
        self._mapped = {k: v for k, v in self._mapped.items() if isinstance(v, MappedSymbol)}

    def root(self, mt5_symbol: str) -> str:
        name = mt5_symbol
        for prefix in self._prefixes:
            if prefix and name.startswith(prefix):
                name = name[len(prefix) :]
        for suffix in self._suffixes:
            if suffix and name.endswith(suffix):
                name = name[: -len(suffix)]
        # Brokers decorate with lower-case or punctuation ("EURUSDm", "EURUSD.pro", "#US500"): keep the
        # first run of upper-case letters and digits.
        match = _ROOT.search(name)
        return match.group(0) if match else name

    def quote_for(self, profit_currency: str) -> str:
        profit = profit_currency.upper()
        if self._quote_currency and profit == self._mt_profit_currency:
            return self._quote_currency
        return profit

    def _candidate(
        self, mt5_symbol: str, base_currency: str, profit_currency: str
    ) -> tuple[str, SymbolOverride | None, str | None]:
        """The symbol's root, its override if any, and the venue symbol to look up (None: not a currency pair)."""
        root = self.root(mt5_symbol)
        override = self._overrides.get(mt5_symbol) or self._overrides.get(root)
        if override is not None:
            return root, override, override.symbol
        base = base_currency.upper()
        quote = self.quote_for(profit_currency)
        return root, None, (self._venue_symbol(base, quote) if base and base != quote else None)

    def venue_symbol_for(self, mt5_symbol: str, base_currency: str, profit_currency: str) -> str | None:
        """The venue symbol `map` looks up for this MT5 symbol, or None when it cannot name one."""
        return self._candidate(mt5_symbol, base_currency, profit_currency)[2]

    def map(self, mt5_symbol: str, base_currency: str, profit_currency: str) -> MappedSymbol:
        """The venue instrument and multiplier of an MT5 symbol; raises UnknownSymbol with advice."""
        cache_key = (mt5_symbol, base_currency, profit_currency)
        known = self._mapped.get(cache_key)
        if known is None:
            try:
                known = self._map(mt5_symbol, base_currency, profit_currency)
            except UnknownSymbol as e:
                known = e
            self._mapped[cache_key] = known
        if isinstance(known, UnknownSymbol):
            raise UnknownSymbol(str(known))
        return known

    def _map(self, mt5_symbol: str, base_currency: str, profit_currency: str) -> MappedSymbol:
        root, override, candidate = self._candidate(mt5_symbol, base_currency, profit_currency)
        if candidate is None:
            raise UnknownSymbol(
                f"MT5 symbol {mt5_symbol} (base {base_currency or '?'}, profit {profit_currency or '?'}) is not a "
                f"currency pair, so it cannot be mapped automatically. Add it to [mapping.overrides] in the "
                f'profile, e.g. "{root}" = {{ symbol = "<venue symbol>" }}.'
            )
        instrument = self._instruments.get(candidate)
        if instrument is None and override is not None:
            raise UnknownSymbol(
                f"The override for MT5 symbol {mt5_symbol} names venue symbol {candidate}, which the "
                f"venue does not list. Correct [mapping.overrides] in the profile."
            )
        if instrument is None:
            base, quote = base_currency.upper(), self.quote_for(profit_currency)
            raise UnknownSymbol(
                f"MT5 symbol {mt5_symbol} maps to {candidate} ({base}/{quote}), which the venue does not list. "
                f'Add an override to the profile: [mapping.overrides] "{root}" = {{ symbol = "<venue symbol>" }}.'
            )
        multiplier = override.multiplier * self._multiplier if override is not None else self._multiplier
        return MappedSymbol(mt5_symbol, instrument, multiplier)


def venue_quantity(lots: Decimal, contract_size: Decimal, mapped: MappedSymbol) -> Decimal:
    """MT5 lots → venue units: lots × contract size × multiplier, in the venue's own unit."""
    with localcontext() as ctx:
        ctx.prec = 34
        return lots * contract_size * mapped.multiplier / mapped.instrument.multiplier


def round_toward_zero(qty: Decimal, step: Decimal) -> Decimal:
    """Largest multiple of `step` not further from zero than `qty`: never sends more than was asked."""
    if step <= 0:
        return qty
    with localcontext() as ctx:
        ctx.prec = 34
        steps = (qty / step).to_integral_value(rounding=ROUND_DOWN)
        return steps * step if steps else Decimal(0)
