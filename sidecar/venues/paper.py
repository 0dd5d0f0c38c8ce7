"""An in-process simulated venue: the demo, dry runs and the engine's tests trade against it.

It enforces lot steps, minimum size and notional like a real venue, fills market orders at a settable
price, and can be told to fail in each of the ways the engine must survive (see `Fault`). With a state
file it keeps its positions across processes, so `csmc sync --dry-run` sees what `csmc run` left.
"""

from __future__ import annotations

import json
import os
from collections import Counter, deque
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from pathlib import Path

from sidecar.errors import OrderRejected, OutcomeUnknown, VenueUnavailable
from sidecar.mapping import round_toward_zero
from sidecar.model import (
    AccountSummary,
    Instrument,
    Leg,
    LegKey,
    OrderRequest,
    OrderResult,
    OrderState,
    PositionMode,
    VenuePosition,
    signed_delta,
)
from sidecar.venues.base import VenueAdapter


class Fault(StrEnum):
    """What the next `submit` does instead of a plain fill."""

    REJECT = "reject"
    UNAVAILABLE = "unavailable"
    UNKNOWN_NOT_ACCEPTED = "unknown_not_accepted"  # the request was lost on the way in
    UNKNOWN_ACCEPTED = "unknown_accepted"  # executed, but the answer was lost on the way out
    ACCEPT_OPEN = "accept_open"  # accepted but left working: it fills later, at `fill_open()`
    EXPIRE = "expire"  # accepted, then ended with nothing executed (no liquidity, self-trade prevention)


@dataclass(frozen=True)
class Execution:
    client_id: str
    key: LegKey
    qty_before: Decimal
    qty_after: Decimal


def _inst(symbol: str, base: str, quote: str, step: str, min_qty: str, min_notional: str = "0") -> Instrument:
    return Instrument(symbol, base, quote, Decimal(step), Decimal(min_qty), Decimal(min_notional))


DEFAULT_INSTRUMENTS: tuple[Instrument, ...] = (
    _inst("EURUSD", "EUR", "USD", "1", "1"),
    _inst("GBPUSD", "GBP", "USD", "1", "1"),
    _inst("USDJPY", "USD", "JPY", "1", "1"),
    _inst("XAUUSD", "XAU", "USD", "0.01", "0.01"),
    _inst("BTCUSD", "BTC", "USD", "0.0001", "0.0001", "5"),
    _inst("ETHUSD", "ETH", "USD", "0.001", "0.001", "5"),
)
DEFAULT_PRICES: dict[str, Decimal] = {
    "EURUSD": Decimal("1.08"),
    "GBPUSD": Decimal("1.27"),
    "USDJPY": Decimal("150"),
    "XAUUSD": Decimal("2400"),
    "BTCUSD": Decimal("90000"),
    "ETHUSD": Decimal("3000"),
}


class PaperVenue(VenueAdapter):
    name = "Paper"

    def __init__(
        self,
        *,
        position_mode: PositionMode = PositionMode.ONE_WAY,
        instruments: tuple[Instrument, ...] = DEFAULT_INSTRUMENTS,
        prices: Mapping[str, Decimal] | None = None,
        positions: Mapping[LegKey, Decimal] | None = None,
        state_file: Path | None = None,
    ) -> None:
        super().__init__()
        self.mode = position_mode
        self._instruments = {i.symbol: i for i in instruments}
        self.prices: dict[str, Decimal] = dict(DEFAULT_PRICES if prices is None else prices)
        self.fee_rate = Decimal(0)  # of each fill's value, charged in the quote currency and reported
        self.holdings: dict[LegKey, Decimal] = dict(positions or {})
        self.orders: dict[str, OrderResult] = {}
        self.order_symbols: dict[str, str] = {}
        self.working: dict[str, OrderRequest] = {}
        self.executions: list[Execution] = []
        self.submitted: list[OrderRequest] = []
        self.submits = 0
        #: Every request the engine made, by kind, as a real venue would count them against its limits.
        self.requests: Counter[str] = Counter()
        self.faults: deque[Fault] = deque()
        self.failing_reads = 0  # the next N position reads raise VenueUnavailable
        self.failing_lookups = 0  # the next N lookups raise VenueUnavailable
        self.connected = False
        self.on_execution: Callable[[Execution], None] | None = None
        self._state_file = state_file
        if state_file is not None and state_file.exists():
            self._load(state_file)

    # --- test and demo controls -------------------------------------------------------------------

    def inject(self, *faults: Fault) -> None:
        self.faults.extend(faults)

    def set_position(self, key: LegKey, qty: Decimal) -> None:
        """Change a position behind the copier's back, as a manual trade on the venue would."""
        self.holdings[key] = qty
        self._save()

    def fill_open(self) -> None:
        """Execute every order left working, as a venue does when a slow fill finally arrives."""
        for order in list(self.working.values()):
            del self.working[order.client_id]
            self._execute(order)

    def set_trading(self, symbol: str, trading: bool) -> None:
        """The venue halts or resumes an instrument (a break, a settlement); `refresh_instruments` then sees it."""
        self._instruments[symbol] = replace(self._instruments[symbol], trading=trading)

    def drop_connection(self) -> None:
        self.connected = False

    def restore_connection(self) -> None:
        self.connected = True
        if self.on_reconnect is not None:
            self.on_reconnect()

    # --- VenueAdapter -----------------------------------------------------------------------------

    async def connect(self) -> None:
        self.connected = True

    async def close(self) -> None:
        self.connected = False

    async def instruments(self) -> Mapping[str, Instrument]:
        return self._instruments

    async def refresh_instruments(self) -> Mapping[str, Instrument]:
        self._require_connection()
        self.requests["rules"] += 1
        return dict(self._instruments)

    def venue_symbol(self, base: str, quote: str) -> str:
        return f"{base}{quote}"

    async def account(self) -> AccountSummary:
        self._require_connection()
        return AccountSummary("PAPER", self.mode, {"USD": Decimal(1_000_000)})

    async def positions(self) -> list[VenuePosition]:
        self._require_connection()
        self.requests["positions"] += 1
        if self.failing_reads:
            self.failing_reads -= 1
            raise VenueUnavailable("Paper: position read failed (injected)")
        return [VenuePosition(k, q) for k, q in sorted(self.holdings.items()) if q != 0]

    async def reference_price(self, symbol: str) -> Decimal | None:
        self.requests["price"] += 1
        return self.prices.get(symbol)

    async def reference_prices(self, symbols: Collection[str]) -> dict[str, Decimal]:
        self.requests["prices"] += 1  # one request for all, like an all-symbols ticker
        return {s: self.prices[s] for s in symbols if s in self.prices}

    async def server_time(self) -> datetime:
        return datetime.now(UTC)

    async def submit(self, order: OrderRequest) -> OrderResult:
        self._require_connection()
        self.submits += 1
        self.requests["order"] += 1
        self.submitted.append(order)
        fault = self.faults.popleft() if self.faults else None
        if fault is Fault.REJECT:
            raise OrderRejected(f"Paper: order {order.client_id} rejected (injected)")
        if fault is Fault.UNAVAILABLE:
            raise VenueUnavailable("Paper: venue busy (injected)", retry_after=0.0)
        if fault is Fault.UNKNOWN_NOT_ACCEPTED:
            raise OutcomeUnknown(f"Paper: no answer for order {order.client_id} (injected)")
        if fault is Fault.ACCEPT_OPEN:
            self.working[order.client_id] = order
            self.order_symbols[order.client_id] = order.symbol
            self.orders[order.client_id] = OrderResult(order.client_id, OrderState.OPEN)
            return self.orders[order.client_id]
        if fault is Fault.EXPIRE:
            self.order_symbols[order.client_id] = order.symbol
            self.orders[order.client_id] = OrderResult(order.client_id, OrderState.REJECTED)
            return self.orders[order.client_id]
        result = self._execute(order)
        if fault is Fault.UNKNOWN_ACCEPTED:
            raise OutcomeUnknown(f"Paper: answer for order {order.client_id} lost (injected)")
        return result

    async def lookup(self, symbol: str, client_id: str, *, sent_at: datetime | None = None) -> OrderResult:
        self._require_connection()
        self.requests["lookup"] += 1
        if self.failing_lookups:
            self.failing_lookups -= 1
            raise VenueUnavailable("Paper: order lookup failed (injected)")
        if self.order_symbols.get(client_id, symbol) != symbol:
            # Like a real venue, asked by symbol and client id: another symbol's order is not found.
            return OrderResult(client_id, OrderState.ABSENT)
        return self.orders.get(client_id, OrderResult(client_id, OrderState.ABSENT))

    # --- internals --------------------------------------------------------------------------------

    def _require_connection(self) -> None:
        if not self.connected:
            raise VenueUnavailable("Paper: not connected")

    def _execute(self, order: OrderRequest) -> OrderResult:
        instrument = self._instruments.get(order.symbol)
        if instrument is None:
            raise OrderRejected(f"Paper: unknown symbol {order.symbol}")
        self._check_rules(order, instrument)
        key = LegKey(order.symbol, order.leg)
        before = self.holdings.get(key, Decimal(0))
        after = before + signed_delta(order.leg, order.side, order.qty)
        if self.mode is PositionMode.SPOT and after < 0:
            raise OrderRejected(f"Paper: insufficient {instrument.base} balance to sell {order.qty}")
        if order.reduce_only and (abs(after) > abs(before) or after * before < 0):
            raise OrderRejected(f"Paper: reduce-only order {order.client_id} would increase the position")
        if order.leg is not Leg.NET and after < 0:
            raise OrderRejected(f"Paper: order {order.client_id} would make the {order.leg.value} leg negative")
        self.holdings[key] = after
        price = self.prices.get(order.symbol)
        fee = order.qty * price * self.fee_rate if price is not None and self.fee_rate else None
        result = OrderResult(order.client_id, OrderState.FILLED, order.qty, price, fee, instrument.quote if fee else "")
        self.orders[order.client_id] = result
        self.order_symbols[order.client_id] = order.symbol
        execution = Execution(order.client_id, key, before, after)
        self.executions.append(execution)
        self._save()
        if self.on_execution is not None:
            self.on_execution(execution)
        return result

    def _check_rules(self, order: OrderRequest, instrument: Instrument) -> None:
        if order.qty <= 0 or round_toward_zero(order.qty, instrument.lot_step) != order.qty:
            raise OrderRejected(
                f"Paper: quantity {order.qty} of {order.symbol} is not a multiple of the lot step {instrument.lot_step}"
            )
        if order.qty < instrument.min_qty:
            raise OrderRejected(f"Paper: quantity {order.qty} is below the minimum {instrument.min_qty}")
        if instrument.max_qty and order.qty > instrument.max_qty:
            raise OrderRejected(f"Paper: quantity {order.qty} is above the maximum {instrument.max_qty}")
        if not instrument.trading:
            raise OrderRejected(f"Paper: {order.symbol} is not trading now")
        price = self.prices.get(order.symbol)
        waived = order.reduce_only and instrument.reduce_only_waives_min_notional
        if price is not None and not waived and order.qty * price * instrument.multiplier < instrument.min_notional:
            raise OrderRejected(f"Paper: notional below the minimum {instrument.min_notional} {instrument.quote}")

    def _save(self) -> None:
        if self._state_file is None:
            return
        state = {
            "positions": [[k.symbol, k.leg.value, str(q)] for k, q in self.holdings.items()],
            "orders": {
                cid: [r.state.value, str(r.filled_qty), self.order_symbols.get(cid, "")]
                for cid, r in self.orders.items()
            },
        }
        tmp = self._state_file.with_suffix(".tmp")
        self._state_file.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(state), encoding="utf-8")
        os.replace(tmp, self._state_file)

    def _load(self, path: Path) -> None:
        state = json.loads(path.read_text(encoding="utf-8"))
        self.holdings = {LegKey(s, Leg(leg)): Decimal(q) for s, leg, q in state.get("positions", [])}
        orders = state.get("orders", {})
        self.orders = {cid: OrderResult(cid, OrderState(row[0]), Decimal(row[1])) for cid, row in orders.items()}
        self.order_symbols = {cid: row[2] for cid, row in orders.items() if len(row) > 2 and row[2]}
