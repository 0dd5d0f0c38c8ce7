"""The sync engine: what MT5 holds → what the venue should hold → the orders that close the gap.

Rules (DESIGN.md, "The sync engine"):
- Level-triggered: every snapshot is the whole filtered MT5 position table; older sequence numbers are ignored.
- Book = the last venue position known. delta = target − book, rounded toward zero to the lot step; nothing
  below the minimum size or notional is sent (except a reduce-only order where the venue waives the notional),
  and the residual is reported as a mismatch. A change above the venue's largest order goes out in chunks.
- One writer per venue position (instrument, or instrument leg in hedge mode): a lock per leg serialises
  snapshot-driven and periodic work; different legs proceed in parallel.
- Submit once, then resolve: an order is journalled (and synced to disk) before it is sent; an unknown outcome
  blocks its leg until the venue is asked for that client id. Only an order proven absent is sent again, with
  the same client id, and only after the venue position has been read again.
- Fail closed: a leg whose venue position was never read, or whose last order is unresolved, gets no order.

Speed (only work that changed): a snapshot reconciles only the legs whose target it changed; prices are asked
for only when an order is about to be sent, from a short-lived cache filled by one all-symbols request, and a
fill's own price refreshes it.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum

from bridge.messages import Deal, Position
from sidecar.errors import ConfigError, OrderRejected, OutcomeUnknown, VenueError, VenueUnavailable
from sidecar.journal import Journal
from sidecar.mapping import SymbolMapper, UnknownSymbol, round_toward_zero, venue_quantity
from sidecar.model import (
    Instrument,
    Leg,
    LegKey,
    MarginMode,
    OrderRequest,
    OrderResult,
    OrderState,
    PositionMode,
    order_side,
    signed_delta,
)
from sidecar.venues.base import VenueAdapter

log = logging.getLogger("csmc.engine")
ZERO = Decimal(0)
PRICE_TTL_S = 5.0  # a reference price older than this is asked for again before an order needs it
RULES_REFRESH_S = 120.0  # how often the rules are read again while an instrument is not trading
MAX_STEPS = 64  # orders one leg may send in one pass: chunks above the venue's maximum, partial fills
LOOK_AGAIN_FIRST_S, LOOK_AGAIN_MAX_S = 0.5, 30.0  # asking after an order the venue still works on


class CopyMode(StrEnum):
    MIRROR = "mirror"  # sync at startup on: the venue is made equal to MT5
    FOLLOW = "follow"  # sync at startup off: the venue keeps its start-up offset and copies changes only


class AlertLevel(StrEnum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True)
class Alert:
    level: AlertLevel
    text: str
    code: str = ""
    critical: bool = False


@dataclass(frozen=True)
class Targets:
    """Venue quantities the MT5 table asks for, and which MT5 symbols feed each one."""

    quantities: dict[LegKey, Decimal]
    sources: dict[LegKey, tuple[str, ...]]
    unmapped: dict[str, str]  # MT5 symbol → why it could not be mapped
    clamped: tuple[LegKey, ...]  # short targets held at zero on a spot venue


def compute_targets(positions: Iterable[Position], mapper: SymbolMapper, position_mode: PositionMode) -> Targets:
    quantities: dict[LegKey, Decimal] = {}
    sources: dict[LegKey, set[str]] = {}
    unmapped: dict[str, str] = {}
    for position in positions:
        try:
            mapped = mapper.map(position.symbol, position.base_currency, position.profit_currency)
        except UnknownSymbol as e:
            unmapped[position.symbol] = str(e)
            continue
        units = venue_quantity(position.volume, position.contract_size, mapped)
        symbol = mapped.instrument.symbol
        if position_mode is PositionMode.HEDGE:
            key = LegKey(symbol, Leg.LONG if position.side == "buy" else Leg.SHORT)
            amount = units
        else:
            key = LegKey(symbol)
            amount = units if position.side == "buy" else -units
        quantities[key] = quantities.get(key, ZERO) + amount
        sources.setdefault(key, set()).add(position.symbol)
    if position_mode is PositionMode.HEDGE:
        # Both legs are always targeted, so a closed leg is flattened rather than forgotten.
        for key in list(quantities):
            other = LegKey(key.symbol, Leg.SHORT if key.leg is Leg.LONG else Leg.LONG)
            quantities.setdefault(other, ZERO)
            sources.setdefault(other, set())
    clamped = tuple(k for k, q in quantities.items() if position_mode is PositionMode.SPOT and q < 0)
    for key in clamped:
        quantities[key] = ZERO
    return Targets(quantities, {k: tuple(sorted(v)) for k, v in sources.items()}, unmapped, clamped)


@dataclass(frozen=True)
class Plan:
    """The order one reconciliation step would send, or why it sends none."""

    key: LegKey
    target: Decimal
    position: Decimal
    delta: Decimal
    note: str = ""
    reduce_only: bool = False

    @property
    def sends(self) -> bool:
        return self.delta != 0


def needs_price(instrument: Instrument, reducing: bool) -> bool:
    """Whether the minimum-notional check applies to this order (and so needs a price)."""
    if instrument.min_notional <= 0:
        return False
    return not (reducing and instrument.reduce_only_waives_min_notional)


def plan_leg(key: LegKey, target: Decimal, position: Decimal, instrument: Instrument, price: Decimal | None) -> Plan:
    gap = target - position
    delta = round_toward_zero(gap, instrument.lot_step)
    if delta == 0:
        note = f"residual {gap} is below the lot step {instrument.lot_step}" if gap else ""
        return Plan(key, target, position, ZERO, note)
    if abs(delta) < instrument.min_qty:
        return Plan(key, target, position, ZERO, f"residual {gap} is below the minimum size {instrument.min_qty}")
    note = ""
    largest = round_toward_zero(instrument.max_qty, instrument.lot_step)
    if largest > 0 and abs(delta) > largest:
        delta = largest if delta > 0 else -largest
        note = f"sent in chunks of at most {largest} (the venue's largest order)"
    reducing = is_reducing(key, position, delta)
    if price is not None and needs_price(instrument, reducing):
        notional = abs(delta) * price * instrument.multiplier
        if notional < instrument.min_notional:
            return Plan(
                key,
                target,
                position,
                ZERO,
                f"residual {gap} ({notional:.2f} {instrument.quote}) is below the minimum notional "
                f"{instrument.min_notional}",
            )
    return Plan(key, target, position, delta, note, reducing)


def is_reducing(key: LegKey, position: Decimal, delta: Decimal) -> bool:
    """True when the order only shrinks the position (so it may be sent reduce-only)."""
    if key.leg is not Leg.NET:
        return delta < 0
    after = position + delta
    return position != 0 and abs(after) < abs(position) and after * position >= 0


def client_id(session_id: str, key: LegKey, seq: int) -> str:
    """Deterministic, ≤ 18 characters of [a-z0-9]: fits every venue's client order id rules."""
    session = _base36(int.from_bytes(hashlib.blake2b(session_id.encode(), digest_size=8).digest()), 6)
    leg = _base36(int.from_bytes(hashlib.blake2b(str(key).encode(), digest_size=4).digest()), 4)
    return f"cs{session}{leg}{_base36(seq, 6)}"


def _base36(value: int, width: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    for _ in range(width):
        value, r = divmod(value, 36)
        out = digits[r] + out
    return out


@dataclass(frozen=True)
class Fill:
    qty: Decimal
    price: Decimal | None
    at: float  # Unix time
    mt5_price: Decimal | None = None  # the MT5 deal's price it followed, for slippage


@dataclass
class LegBook:
    position: Decimal | None = None  # None: never read, so nothing is sent
    epoch: int = 0  # bumped by every fill, so a position read that raced a fill is discarded
    unresolved: str | None = None  # client id whose outcome is not known yet
    retry: OrderRequest | None = None  # proven absent: resent with the same client id if still wanted
    reread: bool = False  # an order was proven absent: read the venue position before sending anything
    held_at: Decimal | None = None  # target the venue rejected: not retried until it changes or a periodic sync
    halted: bool = False  # its instrument is not trading at the venue now
    deal_ticket: int | None = None  # the MT5 deal whose table last changed this leg's target
    deal_price: Decimal | None = None  # and that deal's price
    last_fill: Fill | None = None
    note: str = ""
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


@dataclass(frozen=True)
class LegStatus:
    key: LegKey
    mt5_symbols: tuple[str, ...]
    target: Decimal
    position: Decimal | None
    note: str
    last_fill: Fill | None = None

    @property
    def mismatch(self) -> Decimal | None:
        return None if self.position is None else self.target - self.position


class SyncEngine:
    def __init__(
        self,
        venue: VenueAdapter,
        journal: Journal,
        mapper: SymbolMapper,
        *,
        mode: CopyMode,
        on_alert: Callable[[Alert], None] | None = None,
        auto_retry: bool = False,
        retry_base: float = 1.0,
        retry_max: float = 60.0,
        rules_refresh_s: float = RULES_REFRESH_S,
    ) -> None:
        self.venue = venue
        self.journal = journal
        self.mapper = mapper
        self.mode = mode
        self.instruments: Mapping[str, Instrument] = mapper.instruments
        self._on_alert = on_alert
        self.auto_retry = auto_retry
        self._retry_base = retry_base
        self._retry_max = retry_max
        self._retry_delay = retry_base
        self._retry_task: asyncio.Task[None] | None = None
        self.rules_refresh_s = rules_refresh_s
        self._rules_task: asyncio.Task[None] | None = None
        #: Called after a sync the engine started by itself, so its outcome reaches the EA.
        self.on_retried: Callable[[], Awaitable[None]] | None = None
        self.books: dict[LegKey, LegBook] = {}
        self.session_id = ""
        self.copy_key = ""
        self.margin_mode = MarginMode.NETTING
        self.position_mode = PositionMode.ONE_WAY
        self.started = False
        self.ready = False
        self.refused: str | None = None
        self.positions_known = False
        self.last_seq = -1
        self.last_sync: float | None = None
        self.targets: Targets | None = None
        self.offsets: dict[LegKey, Decimal] = {}
        self.traded: set[LegKey] = set()
        self._dirty: set[LegKey] = set()
        self._dirty_all = False
        self._prices: dict[str, tuple[Decimal, float]] = {}
        self._looking: set[LegKey] = set()
        self._background: set[asyncio.Task[None]] = set()
        self._alerted: set[str] = set()

    # --- life cycle -------------------------------------------------------------------------------

    async def start(self, session_id: str, copy_key: str, margin_mode: MarginMode) -> bool:
        """Begin (or re-begin, for a new EA session) copying. False when trading is refused."""
        self.ready = False
        self.started = False
        self.session_id, self.copy_key, self.margin_mode = session_id, copy_key, margin_mode
        self.targets = None
        self.last_seq = self.journal.last_seq(session_id)  # the stale rule survives a restart
        log.debug("engine start: session %s continues after seq %d", session_id, self.last_seq)  # pragma: no mutate
        await self.journal.flush()  # the orders this process wrote are read back below
        try:
            summary = await self.venue.account()
            self.position_mode = summary.position_mode
            self.venue.check_account_mode(margin_mode, summary.position_mode)
        except ConfigError as e:
            return self._refuse(str(e))
        except VenueError as e:
            self._alert(AlertLevel.ERROR, f"Cannot read the {self.venue.name} account: {e}. Retrying.", "account")
            self._schedule_retry(getattr(e, "retry_after", None))
            return False
        self.refused = None
        self.traded = self.journal.traded_legs(copy_key)
        await self._resolve_journal()
        self.started = True
        await self._read_positions()
        self._maybe_begin()
        return True

    def _refuse(self, reason: str) -> bool:
        self.refused = reason
        self._alert(AlertLevel.ERROR, f"Not copying: {reason}", "refused", critical=True)
        return False

    async def prepare(self, positions: Iterable[Position]) -> None:
        """Have a venue that resolves instruments lazily look up the ones this MT5 table names and it does not
        list yet, so that `accept_snapshot` can map them. Raises VenueError when the venue cannot answer now."""
        missing = set()
        for p in positions:
            symbol = self.mapper.venue_symbol_for(p.symbol, p.base_currency, p.profit_currency)
            if symbol is not None and symbol not in self.instruments:
                missing.add(symbol)
        if missing:
            await self.venue.resolve(missing)
            self.mapper.forget_unknown()

    def accept_snapshot(self, session_id: str, seq: int, positions: list[Position], deal: Deal | None = None) -> bool:
        """Take a new MT5 table as the target. False for a stale or foreign one, which is ignored."""
        if session_id != self.session_id or seq <= self.last_seq or self.refused is not None:
            return False
        targets = compute_targets(positions, self.mapper, self.position_mode)
        table = list(positions)
        self.journal.save_snapshot(
            self.copy_key, session_id, seq, self.margin_mode.value, lambda: [p.model_dump(mode="json") for p in table]
        )
        # Only legs MT5 names can change with a table; a follow-mode offset alone stays as it was.
        before = {k: self.target(k) for k in (self.targets.quantities if self.targets else ())}
        self.last_seq = seq
        self.targets = targets
        for key in set(before) | set(targets.quantities):
            if before.get(key, ZERO) != self.target(key) or key not in before:
                self._dirty.add(key)
                if deal is not None:
                    book = self._book(key)
                    book.deal_ticket, book.deal_price = deal.ticket, deal.price
        for symbol, why in targets.unmapped.items():
            self._alert_once(f"unmapped:{symbol}", AlertLevel.ERROR, f"{why} Its position is not copied.", "unmapped")
        for key in targets.clamped:
            self._alert_once(
                f"clamped:{key}",
                AlertLevel.WARNING,
                f"MT5 is short {key.symbol}, which a spot account cannot be: the venue position is held at zero.",
                "spot_short",
            )
        self._maybe_begin()
        return True

    @property
    def pending(self) -> bool:
        """Whether a snapshot changed a target that `reconcile` has not looked at yet (and can now)."""
        return self.ready and (bool(self._dirty) or self._dirty_all)

    def _maybe_begin(self) -> None:
        if self.ready or not self.started or self.targets is None or not self.positions_known:
            return
        if self.mode is CopyMode.FOLLOW:
            offsets = self.journal.offsets(self.copy_key)
            if offsets is None:
                offsets = self._initial_offsets()
                self.journal.save_offsets(self.copy_key, offsets)
                if offsets:
                    kept = ", ".join(f"{k} {v:+}" for k, v in sorted(offsets.items()))
                    self._alert(AlertLevel.INFO, f"Follow mode: venue positions at start are kept: {kept}.", "offsets")
            self.offsets = offsets
        self.ready = True
        self._dirty_all = True  # the first pass looks at every leg the copier manages
        log.info("copying %s in %s mode", self.copy_key, self.mode.value)  # pragma: no mutate

    def _initial_offsets(self) -> dict[LegKey, Decimal]:
        """Follow mode: what the venue holds beyond MT5 at the start is kept as it is."""
        wanted = self.targets.quantities if self.targets else {}
        held = {k: b.position for k, b in self.books.items() if b.position}
        offsets = {k: held.get(k, ZERO) - wanted.get(k, ZERO) for k in set(wanted) | set(held)}
        return {k: v for k, v in offsets.items() if v != 0}

    async def preview(self, copy_key: str, margin_mode: MarginMode, positions: list[Position]) -> list[Plan]:
        """The orders a sync would place now (csmc sync --dry-run). Reads the venue; sends and writes nothing."""
        self.copy_key, self.margin_mode = copy_key, margin_mode
        await self.prepare(positions)
        summary = await self.venue.account()
        self.position_mode = summary.position_mode
        self.venue.check_account_mode(margin_mode, summary.position_mode)
        self.targets = compute_targets(positions, self.mapper, self.position_mode)
        for p in await self.venue.positions():
            book = self._book(p.key)
            book.position = (book.position or ZERO) + p.qty
        self.traded = self.journal.traded_legs(copy_key)
        if self.mode is CopyMode.FOLLOW:
            recorded = self.journal.offsets(copy_key)
            self.offsets = self._initial_offsets() if recorded is None else recorded
        keys = sorted(self._managed_keys())
        await self._prefetch_prices(keys)
        plans = []
        for key in keys:
            position = self._book(key).position or ZERO
            instrument = self.instruments.get(key.symbol)
            if instrument is None:
                plans.append(Plan(key, self.target(key), position, ZERO, "not a tradable instrument: left alone"))
                continue
            plans.append(await self._plan(key, self.target(key), position, instrument))
        return plans

    # --- syncing ----------------------------------------------------------------------------------

    async def sync(self, reason: str) -> None:
        """Re-read the venue and reconcile every leg (startup, after errors and reconnects, periodically)."""
        # The periodic sync is routine (the EA's status shows its time): the log file only, not the chart.
        log.info("position sync (%s)", reason, extra={"to_ea": reason != "periodic"})
        if not self.started:
            if self.session_id and self.refused is None:
                await self.start(self.session_id, self.copy_key, self.margin_mode)
            return
        if await self._read_positions():
            self._maybe_begin()
            await self.reconcile(force=reason == "periodic", keys=self._managed_keys())

    async def reconcile(self, *, force: bool = False, keys: Collection[LegKey] | None = None) -> None:
        """Bring legs to their targets: `keys`, or else those whose target changed since the last pass (every
        managed leg on the first pass)."""
        if not self.ready:
            return
        if keys is None:
            keys = self._managed_keys() if self._dirty_all else self._dirty & self._managed_keys()
            self._dirty.clear()
            self._dirty_all = False
        else:
            self._dirty -= set(keys)
        ordered = sorted(keys)
        await self._prefetch_prices(ordered)
        if len(ordered) == 1:
            await self._reconcile_leg(ordered[0], force)  # at once, not behind whatever else is scheduled
        else:
            await asyncio.gather(*(self._reconcile_leg(k, force) for k in ordered))

    def _managed_keys(self) -> set[LegKey]:
        wanted = set(self.targets.quantities) if self.targets else set()
        pending = {k for k, b in self.books.items() if b.unresolved}
        if self.mode is CopyMode.FOLLOW:
            return wanted | set(self.offsets) | self.traded | pending
        return wanted | {k for k, b in self.books.items() if b.position} | pending

    def target(self, key: LegKey) -> Decimal:
        wanted = self.targets.quantities.get(key, ZERO) if self.targets else ZERO
        if self.mode is CopyMode.FOLLOW:
            wanted += self.offsets.get(key, ZERO)
        if self.position_mode is PositionMode.SPOT and wanted < 0:
            return ZERO
        return wanted

    def _book(self, key: LegKey) -> LegBook:
        book = self.books.get(key)
        if book is None:
            # A complete read that did not list this leg said it was flat; before any read it is unknown.
            book = self.books[key] = LegBook(position=ZERO if self.positions_known else None)
        return book

    async def _read_positions(self, writer: LegKey | None = None) -> bool:
        """Read every venue position. `writer` is the leg whose lock the caller holds, so its reading counts."""
        epochs = {k: b.epoch for k, b in self.books.items()}
        try:
            reported = await self.venue.positions()
        except VenueError as e:
            self._alert(AlertLevel.WARNING, f"Cannot read {self.venue.name} positions: {e}. Retrying.", "read")
            self._schedule_retry(getattr(e, "retry_after", None))
            return False
        seen: dict[LegKey, Decimal] = {}
        for p in reported:
            seen[p.key] = seen.get(p.key, ZERO) + p.qty
        for key in set(seen) | set(self.books):
            book = self._book(key)
            busy = book.lock.locked() and key != writer
            if busy or book.unresolved or book.epoch != epochs.get(key, 0):
                continue  # its own writer knows better than a read that may have raced a fill
            book.position = seen.get(key, ZERO)
        self.positions_known = True
        self.last_sync = time.time()
        return True

    # --- prices -----------------------------------------------------------------------------------

    def _fresh_price(self, symbol: str) -> Decimal | None:
        cached = self._prices.get(symbol)
        if cached is None or time.monotonic() - cached[1] > PRICE_TTL_S:
            return None
        return cached[0]

    async def _fetch_prices(self, symbols: Collection[str]) -> None:
        try:
            prices = await self.venue.reference_prices(symbols)
        except VenueError as e:
            # Without a price the order is sent and the venue itself enforces its minimum notional.
            log.debug("no reference prices for %s: %s", ", ".join(sorted(symbols)), e)  # pragma: no mutate
            return
        now = time.monotonic()
        for symbol, price in prices.items():
            self._prices[symbol] = (price, now)

    async def _prefetch_prices(self, keys: Iterable[LegKey]) -> None:
        """One request for the prices of every leg in `keys` that is about to send an order needing one."""
        wanted = set()
        for key in keys:
            book = self._book(key)  # a leg MT5 just opened has no book yet, and needs a price like the others
            instrument = self.instruments.get(key.symbol)
            if book.position is None or instrument is None or not instrument.trading:
                continue
            plan = plan_leg(key, self.target(key), book.position, instrument, None)
            if plan.sends and needs_price(instrument, plan.reduce_only) and self._fresh_price(key.symbol) is None:
                wanted.add(key.symbol)
        if wanted:
            await self._fetch_prices(wanted)

    async def _plan(self, key: LegKey, target: Decimal, position: Decimal, instrument: Instrument) -> Plan:
        plan = plan_leg(key, target, position, instrument, None)
        if not plan.sends or not needs_price(instrument, plan.reduce_only):
            return plan
        price = self._fresh_price(key.symbol)
        if price is None:
            await self._fetch_prices({key.symbol})
            price = self._fresh_price(key.symbol)
        return plan_leg(key, target, position, instrument, price)

    # --- one leg ----------------------------------------------------------------------------------

    async def _reconcile_leg(self, key: LegKey, force: bool) -> None:
        book = self._book(key)
        async with book.lock:
            for _ in range(MAX_STEPS):  # partial fills, chunks and resolved unknowns get another look at once
                if not self.ready or (book.unresolved and not await self._resolve_leg(key, book)):
                    return
                if book.reread or (book.position is None and self.positions_known):
                    # After an order proven absent, or one from an earlier run: what the venue holds now decides
                    # whether anything is sent. An unreadable position sends nothing (fail closed).
                    if not await self._read_positions(writer=key):
                        book.note = "venue position could not be read again: nothing is sent until it is"
                        return
                    book.reread = False
                if book.position is None:
                    book.note = "venue position unknown: nothing is sent until it is read"
                    return
                target = self.target(key)
                if book.held_at is not None:
                    if target == book.held_at and not force:
                        return
                    book.held_at = None
                instrument = self.instruments.get(key.symbol)
                if instrument is None:
                    book.note = "not a tradable instrument of the venue: left alone"
                    return
                book.halted = not instrument.trading
                if book.halted:
                    book.note = (
                        f"{key.symbol} is not trading at {self.venue.name} now; the target is kept and the order is "
                        f"sent when it trades again"
                    )
                    self._schedule_rules_refresh()
                    return
                plan = await self._plan(key, target, book.position, instrument)
                book.note = plan.note
                if not plan.sends or not await self._send(key, book, plan):
                    return

    async def _send(self, key: LegKey, book: LegBook, plan: Plan) -> bool:
        """Send the plan's order. True when the position moved and the leg should be looked at again."""
        assert book.position is not None
        side = order_side(key.leg, plan.delta)
        qty = abs(plan.delta)
        reduce_only = plan.reduce_only
        retry, book.retry = book.retry, None
        if retry is not None and (retry.side, retry.qty, retry.reduce_only) == (side, qty, reduce_only):
            order, seq = retry, 0  # the journal keeps the sequence it was first written with
        else:
            seq = self.journal.next_order_seq(self.session_id, key)
            order = OrderRequest(client_id(self.session_id, key, seq), key.symbol, side, qty, key.leg, reduce_only)
        try:
            await self.journal.record_order(
                self.copy_key,
                self.session_id,
                seq,
                order,
                deal_ticket=book.deal_ticket,
                deal_price=book.deal_price,
                target=plan.target,
            )
        except Exception as e:
            # Not journalled, so not sent: a restart could neither find nor resolve it.
            book.note = f"order not sent: the journal cannot be written ({e})"
            self._alert(AlertLevel.ERROR, f"Order {order.client_id} not sent: cannot write the journal: {e}", "journal")
            return False
        self.traded.add(key)
        log.info("order %s: %s %s %s%s", order.client_id, side.value, qty, key, " (reduce-only)" if reduce_only else "")
        try:
            result = await self.venue.submit(order)
        except OrderRejected as e:
            self.journal.update_order(order.client_id, OrderState.REJECTED, detail=str(e))
            book.held_at = plan.target
            book.note = f"rejected: {e}"
            self._alert(
                AlertLevel.ERROR,
                f"{self.venue.name} rejected {side.value} {qty} {key}: {e}. Left as it is; tried again at the next "
                f"sync or when MT5 changes.",
                "rejected",
            )
            return False
        except VenueUnavailable as e:
            self.journal.update_order(order.client_id, OrderState.ABSENT, detail=str(e))
            book.note = f"venue unavailable: {e}"
            self._alert(AlertLevel.WARNING, f"{self.venue.name} unavailable: {e}. Will sync again.", "unavailable")
            self._schedule_retry(e.retry_after)
            return False
        except OutcomeUnknown as e:
            self.journal.update_order(order.client_id, OrderState.UNKNOWN, detail=str(e))
            book.unresolved = order.client_id
            self._alert(AlertLevel.WARNING, f"Order {order.client_id} outcome unknown ({e}); checking.", "unknown")
            if await self._resolve_leg(key, book):
                return True
            self._schedule_retry(None)
            return False
        except VenueError as e:
            # Auth and configuration errors: the order was not placed and will not be until the user acts.
            self.journal.update_order(order.client_id, OrderState.ABSENT, detail=str(e))
            book.held_at = plan.target
            self._alert(AlertLevel.ERROR, f"{self.venue.name}: {e}", "venue", critical=True)
            return False
        return self._settle(key, book, order, result, plan.target)

    def _settle(self, key: LegKey, book: LegBook, order: OrderRequest, result: OrderResult, target: Decimal) -> bool:
        if result.state is OrderState.OPEN:
            self.journal.update_order(order.client_id, OrderState.OPEN, result.filled_qty, avg_price=result.avg_price)
            book.unresolved = order.client_id
            self._look_again(key)
            return False
        if result.state is OrderState.ABSENT:
            self.journal.update_order(order.client_id, OrderState.ABSENT, detail="venue reports no such order")
            book.retry = order
            book.reread = True
            return True
        if result.state is OrderState.REJECTED:
            # Ended with nothing executed (expired for want of liquidity, self-trade prevention): like a rejection,
            # held until MT5 changes this position or the next periodic sync, never re-sent on every snapshot.
            self.journal.update_order(order.client_id, OrderState.REJECTED, detail="ended unfilled at the venue")
            book.held_at = target
            book.note = f"order {order.client_id} ended at the venue with nothing executed"
            self._alert(
                AlertLevel.ERROR,
                f"{self.venue.name} ended {order.side.value} {order.qty} {key} with nothing executed. Left as it is; "
                f"tried again at the next sync or when MT5 changes.",
                "unfilled",
            )
            return False
        self.journal.update_order(
            order.client_id,
            OrderState.FILLED,
            result.filled_qty,
            avg_price=result.avg_price,
            fee=result.fee,
            fee_asset=result.fee_asset,
        )
        if book.position is not None:
            book.position += signed_delta(order.leg, order.side, result.filled_qty)
        book.epoch += 1
        if result.filled_qty > 0:
            book.last_fill = Fill(result.filled_qty, result.avg_price, time.time(), book.deal_price)
            if result.avg_price is not None:
                self._prices[order.symbol] = (result.avg_price, time.monotonic())  # the fill carries its price
        return result.filled_qty > 0

    async def _resolve_leg(self, key: LegKey, book: LegBook) -> bool:
        """Ask the venue what became of the leg's unresolved order. True once it is known."""
        cid = book.unresolved
        record = self.journal.order(cid) if cid else None
        if record is None:
            book.unresolved = None
            return True
        try:
            sent_at = datetime.fromtimestamp(record.created_at, UTC)
            result = await self.venue.lookup(record.request.symbol, record.request.client_id, sent_at=sent_at)
        except VenueError as e:
            book.note = f"waiting to learn what became of order {cid}: {e}"
            self._schedule_retry(getattr(e, "retry_after", None))  # nothing else would ask again before the next table
            return False
        book.unresolved = None
        self._settle(key, book, record.request, result, self.target(key))
        if book.unresolved:
            book.note = f"order {cid} is still working at the venue"
            return False
        return True

    async def _resolve_journal(self) -> None:
        """Orders left in flight by an earlier run are resolved before the leg trades again."""
        for record in self.journal.unresolved_orders():
            key = LegKey(record.request.symbol, record.request.leg)
            book = self._book(key)
            book.unresolved = record.request.client_id
            async with book.lock:
                if await self._resolve_leg(key, book):
                    log.info("order %s from an earlier run resolved", record.request.client_id)  # pragma: no mutate

    def _look_again(self, key: LegKey) -> None:
        """A market order the venue holds still working (USDⓈ-M answers NEW and fills a moment later): ask about
        it again soon rather than at the next table or periodic sync, 0.5 s doubling to 30 s while it works."""
        if not self.auto_retry or key in self._looking:
            return
        self._looking.add(key)
        task = asyncio.get_running_loop().create_task(self._look_again_later(key))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _look_again_later(self, key: LegKey) -> None:
        delay = LOOK_AGAIN_FIRST_S
        try:
            while self.books[key].unresolved and self.ready:
                await asyncio.sleep(delay)
                await self.reconcile(keys=[key])
                delay = min(delay * 2, LOOK_AGAIN_MAX_S)
        finally:
            self._looking.discard(key)
        if self.on_retried is not None:
            await self.on_retried()

    # --- trading rules ----------------------------------------------------------------------------

    def _schedule_rules_refresh(self) -> None:
        if self._rules_task is not None and not self._rules_task.done():
            return
        self._rules_task = asyncio.get_running_loop().create_task(self._refresh_rules_later())

    async def _refresh_rules_later(self) -> None:
        await asyncio.sleep(self.rules_refresh_s)
        try:
            instruments = await self.venue.refresh_instruments()
        except VenueError as e:
            log.info("cannot read %s's trading rules again (%s); trying later", self.venue.name, e)  # pragma: no mutate
            self._rules_task = None
            self._schedule_rules_refresh()
            return
        self._rules_task = None
        self.instruments = instruments
        self.mapper.update_instruments(instruments)
        waiting = [k for k, b in self.books.items() if b.halted]
        resumed = [k for k in waiting if (i := instruments.get(k.symbol)) is not None and i.trading]
        if resumed:
            names = ", ".join(sorted(str(k) for k in resumed))  # pragma: no mutate
            log.info("trading again at %s: %s", self.venue.name, names)  # pragma: no mutate
            await self.reconcile(keys=resumed)
            if self.on_retried is not None:
                await self.on_retried()
        if len(resumed) < len(waiting):
            self._schedule_rules_refresh()

    # --- retries, alerts, status ------------------------------------------------------------------

    def _schedule_retry(self, retry_after: float | None) -> None:
        if not self.auto_retry or (self._retry_task is not None and not self._retry_task.done()):
            return
        delay = max(retry_after or 0.0, self._retry_delay)
        self._retry_delay = min(self._retry_delay * 2, self._retry_max)
        self._retry_task = asyncio.get_running_loop().create_task(self._retry_after(delay))

    async def _retry_after(self, delay: float) -> None:
        await asyncio.sleep(delay)
        self._retry_task = None  # a failure during this sync schedules the next attempt
        await self.sync("after error")
        if self.ready and not any(b.unresolved for b in self.books.values()):
            self._retry_delay = self._retry_base
        if self.on_retried is not None:
            await self.on_retried()

    def _alert(self, level: AlertLevel, text: str, code: str, *, critical: bool = False) -> None:
        severity = {"info": logging.INFO, "warning": logging.WARNING}.get(level, logging.ERROR)
        log.log(severity, "%s", text, extra={"code": code, "critical": critical})
        if self._on_alert is not None:
            self._on_alert(Alert(level, text, code, critical))

    def _alert_once(self, tag: str, level: AlertLevel, text: str, code: str) -> None:
        if tag not in self._alerted:
            self._alerted.add(tag)
            self._alert(level, text, code)

    def status(self) -> list[LegStatus]:
        sources = self.targets.sources if self.targets else {}
        out = []
        for key in sorted(self._managed_keys() | set(sources)):
            book = self.books.get(key)
            position = book.position if book else None
            out.append(
                LegStatus(
                    key,
                    sources.get(key, ()),
                    self.target(key),
                    position,
                    book.note if book else "",
                    book.last_fill if book else None,
                )
            )
        return out

    def close(self) -> None:
        for task in (self._retry_task, self._rules_task, *self._background):
            if task is not None:
                task.cancel()
