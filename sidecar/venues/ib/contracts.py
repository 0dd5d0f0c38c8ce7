"""IB contracts: venue symbols, the query that resolves one, and the on-disk cache of resolved contracts.

A venue symbol is `SYMBOL.CURRENCY`, the way TWS writes forex local symbols: MT5's EURUSD (base EUR, profit USD)
becomes `EUR.USD`, traded as the CASH pair on IDEALPRO or as a CFD on the chosen exchange. Overrides use the same
form for other CFDs (`IBUS500.USD`). IB names contracts by conId; resolving a symbol costs a contract-details
round trip, so every resolved contract is kept in a JSON file under the data directory (cleared by the
*reset cache* setting).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from dataclasses import asdict, dataclass, replace
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from ib_async import Contract, ContractDetails

from sidecar.model import Instrument

log = logging.getLogger("csmc.venue.ib")
CACHE_VERSION = 1
ONE = Decimal(1)
# ib_async marks "no value" with the largest double; anything that large is not a real size or tick.
_UNSET_ABOVE = 1e300


def venue_symbol_of(symbol: str, currency: str) -> str:
    return f"{symbol}.{currency}"


def split_venue_symbol(venue_symbol: str) -> tuple[str, str] | None:
    """`EUR.USD` → (EUR, USD); None when the text is not SYMBOL.CURRENCY."""
    symbol, dot, currency = venue_symbol.rpartition(".")
    if not dot or not symbol or len(currency) != 3 or not currency.isalpha():
        return None
    return symbol, currency


def trading_exchange(sec_type: str, exchange: str) -> str:
    """Forex pairs trade on IDEALPRO whatever the setting says; CFDs on the configured exchange."""
    return "IDEALPRO" if sec_type == "CASH" else exchange


def query_contract(venue_symbol: str, sec_type: str, exchange: str) -> Contract | None:
    parts = split_venue_symbol(venue_symbol)
    if parts is None:
        return None
    symbol, currency = parts
    return Contract(secType=sec_type, symbol=symbol, currency=currency, exchange=trading_exchange(sec_type, exchange))


def plain_decimal(value: float | Decimal) -> Decimal:
    """ib_async's float as the decimal TWS wrote: 2000.0 → 2000, 0.1 → 0.1 (not 0.1000000000000000055…), without
    trailing zeros or an exponent, so that quantities derived from it print as a trader writes them. TWS's "unset"
    marker (the largest double) counts as 0."""
    if isinstance(value, float) and value > _UNSET_ABOVE:
        return Decimal(0)
    exact = value if isinstance(value, Decimal) else Decimal(repr(value))
    if exact == exact.to_integral_value():
        return exact.quantize(ONE) + 0  # + 0 turns -0 into 0
    return exact.normalize()


def _rule(value: float, default: Decimal) -> Decimal:
    """A size or tick rule from contract details; TWS leaves a rule it does not report at 0 or unset."""
    rule = plain_decimal(value)
    return rule if rule > 0 else default


@dataclass(frozen=True)
class ContractSpec:
    """What the adapter keeps of a resolved contract: enough to trade it, and its trading rules."""

    venue_symbol: str
    con_id: int
    symbol: str
    sec_type: str
    currency: str
    exchange: str
    local_symbol: str
    lot_step: Decimal
    min_qty: Decimal
    tick: Decimal

    @classmethod
    def from_details(cls, venue_symbol: str, details: ContractDetails, exchange: str) -> ContractSpec:
        c = details.contract
        assert c is not None
        # Servers below version 164 send no size rules (ib_async leaves them at 0): IB forex and CFD
        # quantities are then whole units of the base currency or underlying. IB's contract details carry no
        # maximum order size and no trading status, so `max_qty` and `trading` keep their defaults.
        step = _rule(details.sizeIncrement, ONE)
        return replace(
            cls.from_position(venue_symbol, c, exchange),
            lot_step=step,
            min_qty=max(_rule(details.minSize, step), step),
            tick=_rule(details.minTick, Decimal(0)),
        )

    @classmethod
    def from_position(cls, venue_symbol: str, contract: Contract, exchange: str) -> ContractSpec:
        """A contract as a position names it, with whole-unit rules: tradable by conId when its details cannot
        be read, and the base that `from_details` adds the contract's own rules to."""
        return cls(
            venue_symbol=venue_symbol,
            con_id=contract.conId,
            symbol=contract.symbol,
            sec_type=contract.secType,
            currency=contract.currency,
            exchange=trading_exchange(contract.secType, exchange),
            local_symbol=contract.localSymbol,
            lot_step=ONE,
            min_qty=ONE,
            tick=Decimal(0),
        )

    def instrument(self) -> Instrument:
        return Instrument(
            symbol=self.venue_symbol,
            base=self.symbol,
            quote=self.currency,
            lot_step=self.lot_step,
            min_qty=self.min_qty,
            tick=self.tick,
        )

    def contract(self) -> Contract:
        return Contract(
            conId=self.con_id,
            symbol=self.symbol,
            secType=self.sec_type,
            currency=self.currency,
            exchange=self.exchange,
            localSymbol=self.local_symbol,
        )

    def to_json(self) -> dict[str, Any]:
        return {k: str(v) if isinstance(v, Decimal) else v for k, v in asdict(self).items()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ContractSpec:
        return cls(
            venue_symbol=str(data["venue_symbol"]),
            con_id=int(data["con_id"]),
            symbol=str(data["symbol"]),
            sec_type=str(data["sec_type"]),
            currency=str(data["currency"]),
            exchange=str(data["exchange"]),
            local_symbol=str(data["local_symbol"]),
            lot_step=Decimal(data["lot_step"]),
            min_qty=Decimal(data["min_qty"]),
            tick=Decimal(data["tick"]),
        )


class ContractCache:
    """Resolved contracts per security type and exchange, kept in one JSON file.

    A damaged or foreign file is set aside with a warning rather than trusted: the contracts are simply
    resolved again.
    """

    def __init__(self, path: Path, *, reset: bool = False) -> None:
        self.path = path
        self._specs: dict[str, ContractSpec] = {}
        if reset and path.exists():
            path.unlink()
            log.info("contract cache %s cleared (reset cache is on)", path)
        self._load()

    @staticmethod
    def _key(sec_type: str, exchange: str, venue_symbol: str) -> str:
        return f"{sec_type}/{trading_exchange(sec_type, exchange)}/{venue_symbol}"

    def specs(self, sec_type: str, exchange: str) -> list[ContractSpec]:
        prefix = f"{sec_type}/{trading_exchange(sec_type, exchange)}/"
        return [spec for key, spec in sorted(self._specs.items()) if key.startswith(prefix)]

    def put(self, spec: ContractSpec) -> None:
        self._specs[self._key(spec.sec_type, spec.exchange, spec.venue_symbol)] = spec
        self._save()

    def _load(self) -> None:
        if not self.path.exists():
            return
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if data.get("version") != CACHE_VERSION:
                raise ValueError(f"cache version {data.get('version')!r}")
            self._specs = {key: ContractSpec.from_json(value) for key, value in data["contracts"].items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError, InvalidOperation) as e:
            log.warning("The IB contract cache %s cannot be read (%s); contracts are looked up again.", self.path, e)
            self._specs = {}
            with contextlib.suppress(OSError):
                self.path.replace(self.path.with_suffix(".damaged"))

    def _save(self) -> None:
        data = {"version": CACHE_VERSION, "contracts": {k: v.to_json() for k, v in sorted(self._specs.items())}}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError as e:
            # The cache only saves round trips: losing it costs a lookup at the next start, nothing more.
            log.warning("Cannot write the IB contract cache %s: %s", self.path, e)
