"""The sidecar's memory across restarts, in one SQLite file.

Durability where it buys safety: an order is written *and synced to disk* before it is sent, so a sidecar
that dies mid-send finds it at start-up and resolves it by client id instead of forgetting it or sending it
again. Everything else (sessions, the last MT5 table, outcomes, offsets) is written without a sync of its
own: it reaches the disk with the next order's sync at the latest, which is the only moment it matters —
a table that led to no order has nothing to protect, and the EA sends its table again after a restart.

No write blocks the event loop: one writer thread owns a connection and applies writes in the order they
were made; an order's write is awaited, the others are not. Reads use a second connection on the caller's
thread (SQLite's WAL lets them run beside the writer) and never wait for it; what the engine must read
back at once (the last snapshot seq, order numbers, offsets) is also kept in memory.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from sidecar.model import Leg, LegKey, OrderRequest, OrderState, Side
from sidecar.paths import private_file

log = logging.getLogger("csmc.journal")
COALESCE_S = 0.05  # how long writes nobody waits for are gathered before they are written

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    session_id TEXT PRIMARY KEY, copy_key TEXT NOT NULL, hello TEXT NOT NULL,
    started_at REAL NOT NULL, last_seen_at REAL NOT NULL, ended_at REAL, end_reason TEXT
);
CREATE TABLE IF NOT EXISTS snapshots (
    copy_key TEXT PRIMARY KEY, session_id TEXT NOT NULL, seq INTEGER NOT NULL,
    margin_mode TEXT NOT NULL, positions TEXT NOT NULL, received_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS session_seq (session_id TEXT PRIMARY KEY, seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS orders (
    client_id TEXT PRIMARY KEY, copy_key TEXT NOT NULL, session_id TEXT NOT NULL,
    symbol TEXT NOT NULL, leg TEXT NOT NULL,
    seq INTEGER NOT NULL, side TEXT NOT NULL, qty TEXT NOT NULL, reduce_only INTEGER NOT NULL,
    state TEXT NOT NULL, filled_qty TEXT NOT NULL DEFAULT '0', attempts INTEGER NOT NULL DEFAULT 1,
    detail TEXT NOT NULL DEFAULT '', created_at REAL NOT NULL, updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS orders_by_leg ON orders (session_id, symbol, leg);
CREATE INDEX IF NOT EXISTS orders_by_copy_key ON orders (copy_key);
CREATE TABLE IF NOT EXISTS offsets (
    copy_key TEXT NOT NULL, symbol TEXT NOT NULL, leg TEXT NOT NULL, offset TEXT NOT NULL,
    PRIMARY KEY (copy_key, symbol, leg)
);
"""
# Columns added after the first release; an older journal gets them at start.
_ORDER_COLUMNS = {
    "avg_price": "TEXT",
    "fee": "TEXT",
    "fee_asset": "TEXT NOT NULL DEFAULT ''",
    "deal_ticket": "INTEGER",
    "deal_price": "TEXT",
    "target": "TEXT",
}
_SELECT_ORDERS = (
    "SELECT client_id, session_id, symbol, leg, side, qty, reduce_only, state, filled_qty, attempts, detail,"
    " created_at, updated_at, avg_price, fee, fee_asset, deal_ticket, deal_price, copy_key, target FROM orders"
)


@dataclass(frozen=True)
class OrderRecord:
    request: OrderRequest
    session_id: str
    state: OrderState
    filled_qty: Decimal
    attempts: int
    detail: str
    created_at: float  # when the order was first recorded, just before it was first sent (Unix time)
    updated_at: float = 0.0
    avg_price: Decimal | None = None
    fee: Decimal | None = None
    fee_asset: str = ""
    deal_ticket: int | None = None  # the MT5 deal whose table led to this order
    deal_price: Decimal | None = None  # and the price MT5 filled it at
    copy_key: str = ""
    target: Decimal | None = None  # what the venue was to hold once the order filled


@dataclass(frozen=True)
class StoredSnapshot:
    session_id: str
    seq: int
    margin_mode: str
    positions: list[dict[str, Any]]
    received_at: float


Write = Callable[[sqlite3.Connection], object]
_Queued = tuple[Write, bool, list[concurrent.futures.Future[None]]]  # a write, whether it is synced, its waiters


class _Writer:
    """One thread, one connection, writes applied in order. A batch of queued writes is one transaction,
    synced to disk (synchronous=FULL) only when it holds a durable write."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Condition()
        self._queue: OrderedDict[object, _Queued] = OrderedDict()
        self._stop = False
        self._serial = 0
        self.commits = 0
        self.synced_commits = 0
        self.failure: BaseException | None = None
        ready: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._thread = threading.Thread(target=self._run, args=(ready,), name="csmc-journal", daemon=True)
        self._thread.start()
        ready.result()  # the schema exists (or the error is raised here) before anyone reads

    def submit(self, write: Write, *, durable: bool, key: object = None) -> concurrent.futures.Future[None]:
        """Queue `write`. A write with a `key` replaces a queued, not yet started write with the same key."""
        done: concurrent.futures.Future[None] = concurrent.futures.Future()
        with self._lock:
            if self._stop:
                # A late event after shutdown: nothing is written, and an order waiting for this is not sent.
                done.set_exception(RuntimeError(f"the journal {self._path} is closed"))
                return done
            if key is None:
                self._serial += 1
                key = ("serial", self._serial)
            previous = self._queue.pop(key, None)
            waiters = [*previous[2], done] if previous else [done]
            self._queue[key] = (write, durable or bool(previous and previous[1]), waiters)
            self._lock.notify()
        return done

    def close(self) -> None:
        with self._lock:
            self._stop = True
            self._lock.notify()
        self._thread.join()

    def _run(self, ready: concurrent.futures.Future[None]) -> None:
        try:
            db = sqlite3.connect(self._path, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)
            present = {row[1] for row in db.execute("PRAGMA table_info(orders)")}
            for column, kind in _ORDER_COLUMNS.items():
                if column not in present:
                    db.execute(f"ALTER TABLE orders ADD COLUMN {column} {kind}")
        except BaseException as e:
            ready.set_exception(e)
            return
        ready.set_result(None)
        try:
            while True:
                with self._lock:
                    while not self._queue and not self._stop:
                        self._lock.wait()
                    if not self._queue:
                        return
                    if not self._stop and not any(durable for _, durable, _ in self._queue.values()):
                        # Nothing waits for these: gather what follows for a moment, so a burst of tables is one
                        # write of the newest, and the thread does not compete with the event loop for each.
                        self._lock.wait_for(
                            lambda: self._stop or any(d for _, d, _ in self._queue.values()), COALESCE_S
                        )
                    batch = list(self._queue.values())
                    self._queue.clear()
                self._apply(db, batch)
        finally:
            db.close()

    def _apply(self, db: sqlite3.Connection, batch: list[_Queued]) -> None:
        durable = any(d for _, d, _ in batch)
        try:
            # In WAL mode FULL syncs the log at this commit, and with it every earlier write; NORMAL does not.
            db.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
            db.execute("BEGIN IMMEDIATE")
            try:
                for write, _, _ in batch:
                    write(db)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        except BaseException as e:
            self.failure = e
            log.error("cannot write the journal %s: %s", self._path, e)  # pragma: no mutate
            self._answer(batch, e)
            return
        self.commits += 1
        self.synced_commits += durable
        self._answer(batch, None)

    @staticmethod
    def _answer(batch: list[_Queued], failure: BaseException | None) -> None:
        for _, _, waiters in batch:
            for waiter in waiters:
                # A waiter may have stopped waiting (its task cancelled at shutdown): the write stands, and
                # this thread must go on writing for the others.
                if waiter.set_running_or_notify_cancel():
                    if failure is None:
                        waiter.set_result(None)
                    else:
                        waiter.set_exception(failure)


class Journal:
    def __init__(self, path: Path | str, *, read_only: bool = False) -> None:
        """`read_only`: for commands that only look (`csmc orders`): the file is neither created nor changed, and
        a sidecar may be writing it meanwhile."""
        self.path = Path(path)
        self._writer: _Writer | None = None
        if read_only:
            self._db = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None)
        else:
            # SQLite gives its -wal and -shm files the database file's mode, so they are private too.
            private_file(self.path)
            self._writer = _Writer(self.path)
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA query_only=1")
        self._last_seq: dict[str, int] = {}
        self._order_seq: dict[tuple[str, LegKey], int] = {}
        self._offsets: dict[str, dict[LegKey, Decimal]] = {}

    @property
    def synced_commits(self) -> int:
        """Commits synced to disk so far: one per order, none for anything else (tests count them)."""
        return self._writing.synced_commits

    @property
    def _writing(self) -> _Writer:
        if self._writer is None:
            raise RuntimeError(f"the journal {self.path} was opened read-only")
        return self._writer

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._db.close()

    async def flush(self) -> None:
        """Wait until every write made so far is in the file (not necessarily synced)."""
        await asyncio.wrap_future(self._writing.submit(lambda db: None, durable=False))

    def _later(self, write: Write, key: object = None) -> None:
        self._writing.submit(write, durable=False, key=key)

    # --- sessions and snapshots -------------------------------------------------------------------

    def begin_session(self, session_id: str, copy_key: str, hello: dict[str, Any]) -> None:
        now = time.time()
        text = json.dumps(hello)
        self._later(
            lambda db: db.execute(
                "INSERT INTO sessions (session_id, copy_key, hello, started_at, last_seen_at) VALUES (?,?,?,?,?) "
                "ON CONFLICT(session_id) DO UPDATE SET last_seen_at=excluded.last_seen_at, ended_at=NULL",
                (session_id, copy_key, text, now, now),
            )
        )

    def end_session(self, session_id: str, reason: str) -> None:
        now = time.time()
        self._later(
            lambda db: db.execute(
                "UPDATE sessions SET ended_at=?, end_reason=? WHERE session_id=?", (now, reason, session_id)
            )
        )

    def last_seq(self, session_id: str) -> int:
        if session_id in self._last_seq:
            return self._last_seq[session_id]
        row = self._db.execute("SELECT seq FROM session_seq WHERE session_id=?", (session_id,)).fetchone()
        return int(row[0]) if row else -1

    def save_snapshot(
        self,
        copy_key: str,
        session_id: str,
        seq: int,
        margin_mode: str,
        positions: list[dict[str, Any]] | Callable[[], list[dict[str, Any]]],
    ) -> None:
        """Record the table taken as the target. Only the newest of a burst reaches the file; `positions` may be
        a function that gives the table, called in the writer thread and only for the table that is written."""
        self._last_seq[session_id] = seq
        now = time.time()

        def write(db: sqlite3.Connection) -> None:
            text = json.dumps(positions() if callable(positions) else positions)
            db.execute("INSERT OR REPLACE INTO snapshots VALUES (?,?,?,?,?,?)",
                       (copy_key, session_id, seq, margin_mode, text, now))  # fmt: skip
            db.execute("INSERT OR REPLACE INTO session_seq VALUES (?,?)", (session_id, seq))

        self._later(write, key=("snapshot", copy_key, session_id))

    def last_snapshot(self, copy_key: str | None = None) -> tuple[str, StoredSnapshot] | None:
        query = "SELECT copy_key, session_id, seq, margin_mode, positions, received_at FROM snapshots"
        args: tuple[str, ...] = ()
        if copy_key is not None:
            query += " WHERE copy_key=?"
            args = (copy_key,)
        row = self._db.execute(query + " ORDER BY received_at DESC LIMIT 1", args).fetchone()
        if row is None:
            return None
        return row[0], StoredSnapshot(row[1], int(row[2]), row[3], json.loads(row[4]), float(row[5]))

    # --- orders -----------------------------------------------------------------------------------

    def next_order_seq(self, session_id: str, key: LegKey) -> int:
        known = self._order_seq.get((session_id, key))
        if known is None:
            row = self._db.execute(
                "SELECT COALESCE(MAX(seq), 0) FROM orders WHERE session_id=? AND symbol=? AND leg=?",
                (session_id, key.symbol, key.leg.value),
            ).fetchone()
            known = int(row[0])
        return known + 1

    async def record_order(
        self,
        copy_key: str,
        session_id: str,
        seq: int,
        order: OrderRequest,
        *,
        deal_ticket: int | None = None,
        deal_price: Decimal | None = None,
        target: Decimal | None = None,
    ) -> None:
        """Write the order as PENDING and sync it to disk; only then may it be sent. A resend of the same client
        id counts an attempt."""
        if seq:
            key = (session_id, LegKey(order.symbol, order.leg))
            self._order_seq[key] = max(self._order_seq.get(key, 0), seq)
        now = time.time()
        row = (
            order.client_id, copy_key, session_id, order.symbol, order.leg.value, seq, order.side.value,
            str(order.qty), int(order.reduce_only), OrderState.PENDING.value, now, now, deal_ticket,
            None if deal_price is None else str(deal_price), None if target is None else str(target),
        )  # fmt: skip

        def write(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT INTO orders (client_id, copy_key, session_id, symbol, leg, seq, side, qty, reduce_only,"
                " state, created_at, updated_at, deal_ticket, deal_price, target)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
                "ON CONFLICT(client_id) DO UPDATE SET state=excluded.state, attempts=attempts+1,"
                " updated_at=excluded.updated_at",
                row,
            )

        await asyncio.wrap_future(self._writing.submit(write, durable=True))

    def update_order(
        self,
        client_id: str,
        state: OrderState,
        filled_qty: Decimal = Decimal(0),
        detail: str = "",
        *,
        avg_price: Decimal | None = None,
        fee: Decimal | None = None,
        fee_asset: str = "",
    ) -> None:
        now = time.time()
        values = (
            state.value, str(filled_qty), detail, now, None if avg_price is None else str(avg_price),
            None if fee is None else str(fee), fee_asset, client_id,
        )  # fmt: skip
        self._later(
            lambda db: db.execute(
                "UPDATE orders SET state=?, filled_qty=?, detail=?, updated_at=?, avg_price=COALESCE(?, avg_price),"
                " fee=COALESCE(?, fee), fee_asset=? WHERE client_id=?",
                values,
            )
        )

    def order(self, client_id: str) -> OrderRecord | None:
        row = self._db.execute(_SELECT_ORDERS + " WHERE client_id=?", (client_id,)).fetchone()
        return _order_record(row) if row else None

    def unresolved_orders(self) -> list[OrderRecord]:
        rows = self._db.execute(
            _SELECT_ORDERS + " WHERE state IN (?,?,?) ORDER BY created_at",
            (OrderState.PENDING.value, OrderState.UNKNOWN.value, OrderState.OPEN.value),
        ).fetchall()
        return [_order_record(r) for r in rows]

    def recent_orders(
        self, *, symbol: str | None = None, since: float | None = None, limit: int = 50
    ) -> list[OrderRecord]:
        """Newest first: what `csmc orders` shows."""
        query = _SELECT_ORDERS + " WHERE 1=1"
        args: list[Any] = []
        if symbol is not None:
            query += " AND symbol=?"
            args.append(symbol)
        if since is not None:
            query += " AND created_at>=?"
            args.append(since)
        rows = self._db.execute(query + " ORDER BY created_at DESC LIMIT ?", (*args, limit)).fetchall()
        return [_order_record(r) for r in rows]

    def traded_legs(self, copy_key: str) -> set[LegKey]:
        """Every leg the copier has sent an order for on this account: it stays managed when MT5 closes it."""
        rows = self._db.execute("SELECT DISTINCT symbol, leg FROM orders WHERE copy_key=?", (copy_key,)).fetchall()
        return {LegKey(s, Leg(leg)) for s, leg in rows}

    # --- follow-mode offsets ----------------------------------------------------------------------

    def offsets(self, copy_key: str) -> dict[LegKey, Decimal] | None:
        """The offsets recorded for this copy key, or None when follow mode has not started for it yet."""
        if copy_key in self._offsets:
            return dict(self._offsets[copy_key])
        rows = self._db.execute("SELECT symbol, leg, offset FROM offsets WHERE copy_key=?", (copy_key,)).fetchall()
        if not rows:
            return None
        return {LegKey(s, Leg(leg)): Decimal(o) for s, leg, o in rows if leg != "-"}

    def save_offsets(self, copy_key: str, offsets: dict[LegKey, Decimal]) -> None:
        """Taken before the first order of follow mode, so the first order's sync makes them durable."""
        self._offsets[copy_key] = dict(offsets)
        rows = [(copy_key, k.symbol, k.leg.value, str(v)) for k, v in offsets.items()]

        def write(db: sqlite3.Connection) -> None:
            # A marker row records "offsets taken" even when every offset is zero.
            db.execute("INSERT OR REPLACE INTO offsets VALUES (?,?,?,?)", (copy_key, "-", "-", "0"))
            db.executemany("INSERT OR REPLACE INTO offsets VALUES (?,?,?,?)", rows)

        self._later(write)


def _order_record(row: tuple[Any, ...]) -> OrderRecord:
    (cid, session, symbol, leg, side, qty, reduce_only, state, filled, attempts, detail, created, updated,
     avg_price, fee, fee_asset, deal_ticket, deal_price, copy_key, target) = row  # fmt: skip
    request = OrderRequest(cid, symbol, Side(side), Decimal(qty), Leg(leg), bool(reduce_only))
    return OrderRecord(
        request, session, OrderState(state), Decimal(filled), int(attempts), detail, float(created), float(updated),
        None if avg_price is None else Decimal(avg_price), None if fee is None else Decimal(fee), fee_asset or "",
        deal_ticket, None if deal_price is None else Decimal(deal_price), copy_key,
        None if target is None else Decimal(target),
    )  # fmt: skip
