"""The sidecar's memory across restarts, in one SQLite file.

An order is written (and synced to disk) *before* it is sent, so a sidecar that dies mid-send finds it
at start-up and resolves it by client id instead of forgetting it or sending it again.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from sidecar.model import Leg, LegKey, OrderRequest, OrderState, Side
from sidecar.paths import private_file

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


@dataclass(frozen=True)
class OrderRecord:
    request: OrderRequest
    session_id: str
    state: OrderState
    filled_qty: Decimal
    attempts: int
    detail: str


@dataclass(frozen=True)
class StoredSnapshot:
    session_id: str
    seq: int
    margin_mode: str
    positions: list[dict[str, Any]]
    received_at: float


class Journal:
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        # SQLite gives its -wal and -shm files the database file's mode, so they are private too.
        private_file(self.path)
        self._db = sqlite3.connect(self.path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        # Orders are real money: every commit reaches the disk before the order is sent.
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # --- sessions and snapshots -------------------------------------------------------------------

    def begin_session(self, session_id: str, copy_key: str, hello: dict[str, Any]) -> None:
        now = time.time()
        with self._tx() as db:
            db.execute(
                "INSERT INTO sessions (session_id, copy_key, hello, started_at, last_seen_at) VALUES (?,?,?,?,?) "
                "ON CONFLICT(session_id) DO UPDATE SET last_seen_at=excluded.last_seen_at, ended_at=NULL",
                (session_id, copy_key, json.dumps(hello), now, now),
            )

    def end_session(self, session_id: str, reason: str) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE sessions SET ended_at=?, end_reason=? WHERE session_id=?", (time.time(), reason, session_id)
            )

    def last_seq(self, session_id: str) -> int:
        row = self._db.execute("SELECT seq FROM session_seq WHERE session_id=?", (session_id,)).fetchone()
        return int(row[0]) if row else -1

    def save_snapshot(
        self, copy_key: str, session_id: str, seq: int, margin_mode: str, positions: list[dict[str, Any]]
    ) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO snapshots VALUES (?,?,?,?,?,?)",
                (copy_key, session_id, seq, margin_mode, json.dumps(positions), time.time()),
            )
            db.execute("INSERT OR REPLACE INTO session_seq VALUES (?,?)", (session_id, seq))

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
        row = self._db.execute(
            "SELECT COALESCE(MAX(seq), 0) FROM orders WHERE session_id=? AND symbol=? AND leg=?",
            (session_id, key.symbol, key.leg.value),
        ).fetchone()
        return int(row[0]) + 1

    def record_order(self, copy_key: str, session_id: str, seq: int, order: OrderRequest) -> None:
        """Write the order as PENDING before it is sent; a resend of the same client id counts an attempt."""
        now = time.time()
        with self._tx() as db:
            db.execute(
                "INSERT INTO orders (client_id, copy_key, session_id, symbol, leg, seq, side, qty, reduce_only,"
                " state, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?) "
                "ON CONFLICT(client_id) DO UPDATE SET state=excluded.state, attempts=attempts+1,"
                " updated_at=excluded.updated_at",
                (
                    order.client_id,
                    copy_key,
                    session_id,
                    order.symbol,
                    order.leg.value,
                    seq,
                    order.side.value,
                    str(order.qty),
                    int(order.reduce_only),
                    OrderState.PENDING.value,
                    now,
                    now,
                ),
            )

    def update_order(
        self, client_id: str, state: OrderState, filled_qty: Decimal = Decimal(0), detail: str = ""
    ) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE orders SET state=?, filled_qty=?, detail=?, updated_at=? WHERE client_id=?",
                (state.value, str(filled_qty), detail, time.time(), client_id),
            )

    def order(self, client_id: str) -> OrderRecord | None:
        row = self._db.execute(
            "SELECT client_id, session_id, symbol, leg, side, qty, reduce_only, state, filled_qty, attempts, detail"
            " FROM orders WHERE client_id=?",
            (client_id,),
        ).fetchone()
        return _order_record(row) if row else None

    def unresolved_orders(self) -> list[OrderRecord]:
        rows = self._db.execute(
            "SELECT client_id, session_id, symbol, leg, side, qty, reduce_only, state, filled_qty, attempts, detail"
            " FROM orders WHERE state IN (?,?,?) ORDER BY created_at",
            (OrderState.PENDING.value, OrderState.UNKNOWN.value, OrderState.OPEN.value),
        ).fetchall()
        return [_order_record(r) for r in rows]

    def traded_legs(self, copy_key: str) -> set[LegKey]:
        """Every leg the copier has sent an order for on this account: it stays managed when MT5 closes it."""
        rows = self._db.execute("SELECT DISTINCT symbol, leg FROM orders WHERE copy_key=?", (copy_key,)).fetchall()
        return {LegKey(s, Leg(leg)) for s, leg in rows}

    # --- follow-mode offsets ----------------------------------------------------------------------

    def offsets(self, copy_key: str) -> dict[LegKey, Decimal] | None:
        """The offsets recorded for this copy key, or None when follow mode has not started for it yet."""
        rows = self._db.execute("SELECT symbol, leg, offset FROM offsets WHERE copy_key=?", (copy_key,)).fetchall()
        if not rows:
            return None
        return {LegKey(s, Leg(leg)): Decimal(o) for s, leg, o in rows if leg != "-"}

    def save_offsets(self, copy_key: str, offsets: dict[LegKey, Decimal]) -> None:
        with self._tx() as db:
            # A marker row records "offsets taken" even when every offset is zero.
            db.execute("INSERT OR REPLACE INTO offsets VALUES (?,?,?,?)", (copy_key, "-", "-", "0"))
            for key, value in offsets.items():
                db.execute(
                    "INSERT OR REPLACE INTO offsets VALUES (?,?,?,?)", (copy_key, key.symbol, key.leg.value, str(value))
                )


def _order_record(row: tuple[Any, ...]) -> OrderRecord:
    cid, session, symbol, leg, side, qty, reduce_only, state, filled, attempts, detail = row
    request = OrderRequest(cid, symbol, Side(side), Decimal(qty), Leg(leg), bool(reduce_only))
    return OrderRecord(request, session, OrderState(state), Decimal(filled), int(attempts), detail)
