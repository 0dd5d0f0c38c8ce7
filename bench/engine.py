"""Benchmark 3: SyncEngine throughput in process: no sockets, the Paper venue, a real SQLite journal.

Each snapshot is the whole table of six positions with one of them changed, so each one costs exactly one order.
"""

from __future__ import annotations

import sqlite3
import tempfile
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Literal

from bench.common import BenchFailure, Deadline
from bridge.messages import Position
from sidecar.engine import Alert, CopyMode, SyncEngine
from sidecar.journal import Journal
from sidecar.mapping import SymbolMapper
from sidecar.model import LegKey, MarginMode
from sidecar.venues.paper import DEFAULT_INSTRUMENTS, PaperVenue

SESSION = "bench-session"
COPY_KEY = "70000001@Bench-Server/paper/bench"


@dataclass(frozen=True)
class Spec:
    """One MT5 position that flips between two volumes; `venue` is the Paper instrument it maps to."""

    mt5: str
    venue: str
    contract: Decimal
    base: str
    profit: str
    side: str
    volumes: tuple[Decimal, Decimal]


def _d(text: str) -> Decimal:
    return Decimal(text)


SPECS: tuple[Spec, ...] = (
    Spec("EURUSD.m", "EURUSD", _d("100000"), "EUR", "USD", "buy", (_d("0.10"), _d("0.20"))),
    Spec("GBPUSD", "GBPUSD", _d("100000"), "GBP", "USD", "sell", (_d("0.30"), _d("0.40"))),
    Spec("USDJPY", "USDJPY", _d("100000"), "USD", "JPY", "buy", (_d("0.05"), _d("0.10"))),
    Spec("XAUUSD", "XAUUSD", _d("100"), "XAU", "USD", "buy", (_d("1.00"), _d("1.50"))),
    Spec("BTCUSD", "BTCUSD", _d("1"), "BTC", "USD", "buy", (_d("0.10"), _d("0.20"))),
    Spec("ETHUSD", "ETHUSD", _d("1"), "ETH", "USD", "sell", (_d("1.00"), _d("1.50"))),
)


def _position(spec: Spec, pid: int, volume: Decimal) -> Position:
    return Position(
        symbol=spec.mt5, side=spec.side, volume=volume, position_id=pid, magic=0,  # type: ignore[arg-type]
        contract_size=spec.contract, base_currency=spec.base, profit_currency=spec.profit,
        volume_step=Decimal("0.01"), volume_min=Decimal("0.01"),
    )  # fmt: skip


@dataclass(frozen=True)
class EngineResult:
    synchronous: str
    planned: int
    snapshots: int
    orders: int
    elapsed_s: float
    commits: int | None = None

    @property
    def orders_per_s(self) -> float:
        return self.orders / self.elapsed_s if self.elapsed_s else 0.0

    @property
    def us_per_snapshot(self) -> float:
        return self.elapsed_s / self.snapshots * 1e6 if self.snapshots else 0.0

    def to_json(self) -> dict[str, object]:
        return {
            "journal_synchronous": self.synchronous,
            "snapshots_planned": self.planned,
            "snapshots_done": self.snapshots,
            "orders": self.orders,
            "elapsed_s": round(self.elapsed_s, 4),
            "orders_per_s": round(self.orders_per_s, 1),
            "us_per_snapshot": round(self.us_per_snapshot, 1),
            "sqlite_commits": self.commits,
        }


async def engine_throughput(
    count: int,
    budget_s: float,
    *,
    synchronous: Literal["OFF", "NORMAL", "FULL", "EXTRA"] | None = None,
    count_commits: bool = False,
) -> EngineResult:
    """`synchronous` overrides the journal's PRAGMA, only to show what the fsync costs; None keeps FULL."""
    for spec in SPECS:
        if spec.venue not in {i.symbol for i in DEFAULT_INSTRUMENTS}:
            raise BenchFailure(f"the Paper venue no longer lists {spec.venue}")
    # Built once, so the timed loop measures the engine and not pydantic validation of the benchmark's input.
    tables = {(s.mt5, v): _position(s, n + 1, v) for n, s in enumerate(SPECS) for v in s.volumes}
    current = {s.mt5: s.volumes[0] for s in SPECS}
    alerts: list[Alert] = []
    commits = 0

    def trace(statement: str) -> None:
        nonlocal commits
        if statement == "COMMIT":
            commits += 1

    with tempfile.TemporaryDirectory(prefix="csmc-bench-engine-") as tmp:
        venue = PaperVenue()
        await venue.connect()
        mapper = SymbolMapper(dict(await venue.instruments()), venue.venue_symbol)
        journal = Journal(Path(tmp) / "journal.sqlite3")
        try:
            if synchronous is not None:
                # Reaches into the journal on purpose: the product has no switch for this, and must not have one.
                journal._db.execute(f"PRAGMA synchronous={synchronous}")
            label = str(journal._db.execute("PRAGMA synchronous").fetchone()[0])
            engine = SyncEngine(venue, journal, mapper, mode=CopyMode.MIRROR, on_alert=alerts.append)
            if not await engine.start(SESSION, COPY_KEY, MarginMode.NETTING):
                raise BenchFailure(f"the engine refused to start: {engine.refused}")
            engine.accept_snapshot(SESSION, 1, [tables[(m, v)] for m, v in current.items()])
            await engine.reconcile()
            if venue.submits != len(SPECS):
                raise BenchFailure(f"the opening snapshot sent {venue.submits} orders, expected {len(SPECS)}")
            if count_commits:
                journal._db.set_trace_callback(trace)

            before = venue.submits
            done, elapsed = await _timed_loop(engine, tables, current, count, budget_s)
            orders = venue.submits - before
            _check_converged(engine, venue, current, orders, done, alerts)
        except sqlite3.Error as e:
            raise BenchFailure(f"the journal failed: {e}") from None
        finally:
            journal._db.set_trace_callback(None)
            journal.close()
    return EngineResult(label_name(label), count, done, orders, elapsed, commits if count_commits else None)


async def _timed_loop(
    engine: SyncEngine,
    tables: dict[tuple[str, Decimal], Position],
    current: dict[str, Decimal],
    count: int,
    budget_s: float,
) -> tuple[int, float]:
    """(snapshots done, seconds): each snapshot flips one position's volume, so each one needs one order."""
    deadline = Deadline(budget_s)
    seq = engine.last_seq
    done = 0
    started = time.perf_counter()
    for i in range(count):
        if deadline.expired:
            break
        spec = SPECS[i % len(SPECS)]
        a, b = spec.volumes
        current[spec.mt5] = b if current[spec.mt5] == a else a
        seq += 1
        if not engine.accept_snapshot(SESSION, seq, [tables[(m, v)] for m, v in current.items()]):
            raise BenchFailure(f"the engine ignored snapshot {seq}")
        await engine.reconcile()
        done += 1
    return done, time.perf_counter() - started


def label_name(value: str) -> str:
    return {"0": "OFF", "1": "NORMAL", "2": "FULL", "3": "EXTRA"}.get(value, value)


def _check_converged(
    engine: SyncEngine, venue: PaperVenue, current: dict[str, Decimal], orders: int, done: int, alerts: list[Alert]
) -> None:
    if orders != done:
        raise BenchFailure(f"{done} snapshots sent {orders} orders, expected one each; alerts: {alerts[-3:]}")
    for spec in SPECS:
        units = current[spec.mt5] * spec.contract
        want = units if spec.side == "buy" else -units
        have = venue.holdings.get(LegKey(spec.venue), Decimal(0))
        if have != want:
            raise BenchFailure(f"the Paper venue holds {have} {spec.venue}, MT5 asks for {want}")
    off = [s for s in engine.status() if s.mismatch != 0]
    if off:
        raise BenchFailure(f"the engine reports mismatches: {off}")
