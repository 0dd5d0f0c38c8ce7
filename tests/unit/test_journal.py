"""The journal's durability, counted: no sync for a snapshot, exactly one before every order, and no write
that makes the caller wait except an order's."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import textwrap
import threading
from decimal import Decimal
from pathlib import Path

import pytest

from sidecar.journal import Journal
from sidecar.model import Leg, LegKey, OrderRequest, OrderState, Side

ORDERS = 3
SNAPSHOTS = 40

SCRIPT = textwrap.dedent(
    f"""
    import asyncio, os, sys
    from decimal import Decimal
    from sidecar.journal import Journal
    from sidecar.model import OrderRequest, OrderState, Side

    def mark(phase):
        os.write(2, ("PHASE " + phase + "\\n").encode())

    async def main():
        journal = Journal(sys.argv[1])
        await journal.flush()
        mark("snapshots")
        for seq in range(1, {SNAPSHOTS} + 1):
            journal.save_snapshot("k", "sid", seq, "netting", [{{"symbol": "BTCUSD", "volume": str(seq)}}])
            journal.update_order("none", OrderState.FILLED)
            await asyncio.sleep(0)
        await journal.flush()
        mark("orders")
        for n in range(1, {ORDERS} + 1):
            order = OrderRequest(f"cs{{n:016d}}", "BTCUSD", Side.BUY, Decimal("0.01"))
            await journal.record_order("k", "sid", n, order)
            mark("order-" + str(n))
            journal.update_order(order.client_id, OrderState.FILLED, Decimal("0.01"))
        await journal.flush()
        mark("end")
        print(journal.synced_commits)
        journal.close()

    asyncio.run(main())
    """
)


def syncs_per_phase(trace: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    phase = "open"
    for line in trace.splitlines():
        marker = re.search(r'write\(2, "PHASE ([a-z0-9-]+)\\n"', line)
        if marker:
            phase = marker.group(1)
            continue
        if re.search(r"\b(fsync|fdatasync|sync_file_range)\(", line) and "resumed" not in line:
            counts[phase] = counts.get(phase, 0) + 1
    return counts


def test_a_snapshot_is_never_synced_to_disk_and_every_order_is_synced_before_it_is_sent(tmp_path: Path) -> None:
    """Counted by the kernel: strace records every fsync and fdatasync of the journal's writer thread."""
    script = tmp_path / "ops.py"
    script.write_text(SCRIPT, encoding="utf-8")
    trace = tmp_path / "trace.txt"
    done = subprocess.run(
        ["strace", "-f", "-qq", "-e", "trace=fsync,fdatasync,sync_file_range,write", "-o", str(trace),
         sys.executable, str(script), str(tmp_path / "journal.sqlite3")],
        capture_output=True, text=True, timeout=60, check=True, cwd=Path(__file__).resolve().parents[2],
    )  # fmt: skip
    counts = syncs_per_phase(trace.read_text())

    assert counts.get("snapshots", 0) == 0, f"{counts}: a snapshot was synced to disk"
    # Each order's record is synced before record_order returns (so before the order can be sent), and the
    # outcome written after it is not.
    assert [counts.get(f"order-{n}" if n else "orders", 0) for n in range(ORDERS)] == [1] * ORDERS, counts
    assert counts.get(f"order-{ORDERS}", 0) == 0, counts
    assert int(done.stdout.strip()) == ORDERS


async def test_no_write_but_an_order_makes_the_caller_wait(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.sqlite3")
    held = threading.Event()
    started = threading.Event()

    def stuck(db: object) -> None:  # a disk that does not answer
        started.set()
        held.wait(10)

    journal._writer.submit(stuck, durable=False)
    assert started.wait(5)
    for seq in range(1, 101):
        journal.save_snapshot("k", "sid", seq, "netting", [])
    journal.begin_session("sid", "k", {})
    journal.update_order("x", OrderState.FILLED)
    journal.save_offsets("k", {LegKey("BTCUSD", Leg.NET): Decimal(1)})
    assert journal.last_seq("sid") == 100  # read back at once, from memory
    assert journal.offsets("k") == {LegKey("BTCUSD"): Decimal(1)}

    request = OrderRequest("cs1", "BTCUSD", Side.BUY, Decimal(1))
    order = asyncio.create_task(journal.record_order("k", "sid", 1, request))
    await asyncio.sleep(0.05)
    assert not order.done(), "an order was reported journalled before it reached the disk"
    held.set()
    await asyncio.wait_for(order, 10)
    journal.close()
    reopened = Journal(tmp_path / "journal.sqlite3")
    assert reopened.last_seq("sid") == 100 and reopened.order("cs1") is not None
    reopened.close()


async def test_an_older_journal_gets_the_new_order_columns(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "old.sqlite3"
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE orders (client_id TEXT PRIMARY KEY, copy_key TEXT NOT NULL, session_id TEXT NOT NULL,"
        " symbol TEXT NOT NULL, leg TEXT NOT NULL, seq INTEGER NOT NULL, side TEXT NOT NULL, qty TEXT NOT NULL,"
        " reduce_only INTEGER NOT NULL, state TEXT NOT NULL, filled_qty TEXT NOT NULL DEFAULT '0',"
        " attempts INTEGER NOT NULL DEFAULT 1, detail TEXT NOT NULL DEFAULT '', created_at REAL NOT NULL,"
        " updated_at REAL NOT NULL);"
        "INSERT INTO orders VALUES ('cs1','k','sid','BTCUSD','net',1,'buy','0.5',0,'filled','0.5',1,'',1.0,2.0);"
    )
    db.commit()
    db.close()
    journal = Journal(path)
    record = journal.order("cs1")
    journal.close()
    assert record is not None and record.filled_qty == Decimal("0.5") and record.avg_price is None


async def test_an_order_comes_back_with_every_field_it_was_written_with(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    journal = Journal(path)
    request = OrderRequest("cs00000000000001", "BTCUSDT", Side.SELL, Decimal("0.015"), Leg.SHORT, reduce_only=True)
    await journal.record_order("acct/binance/live", "sid-1", 7, request, deal_ticket=990, deal_price=Decimal("61000.5"),
                               target=Decimal("0.03"))  # fmt: skip
    journal.update_order(request.client_id, OrderState.FILLED, Decimal("0.015"), "done", avg_price=Decimal("60990"),
                         fee=Decimal("0.35"), fee_asset="USDT")  # fmt: skip
    await journal.record_order("acct/binance/live", "sid-1", 0, request)  # resent with the same id
    journal.close()

    reopened = Journal(path, read_only=True)
    record = reopened.order(request.client_id)
    assert reopened.next_order_seq("sid-1", LegKey("BTCUSDT", Leg.SHORT)) == 8
    assert reopened.next_order_seq("sid-1", LegKey("BTCUSDT", Leg.LONG)) == 1
    assert reopened.next_order_seq("sid-2", LegKey("BTCUSDT", Leg.SHORT)) == 1
    assert reopened.order("nosuch") is None
    reopened.close()
    assert record is not None
    assert record.request == request
    assert (record.session_id, record.copy_key, record.state, record.attempts) == (
        "sid-1", "acct/binance/live", OrderState.PENDING, 2,
    )  # fmt: skip
    assert (record.filled_qty, record.avg_price, record.fee, record.fee_asset, record.detail) == (
        Decimal("0.015"), Decimal("60990"), Decimal("0.35"), "USDT", "done",
    )  # fmt: skip
    assert (record.deal_ticket, record.deal_price) == (990, Decimal("61000.5"))
    assert record.updated_at >= record.created_at > 0


async def test_recent_orders_are_newest_first_and_filter_by_symbol_time_and_count(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.sqlite3")
    for n, symbol in enumerate(("BTCUSDT", "ETHUSDT", "BTCUSDT", "BTCUSDT"), start=1):
        await journal.record_order("k", "sid", n, OrderRequest(f"cs{n:016d}", symbol, Side.BUY, Decimal(n)))
        await asyncio.sleep(0.01)
    third = journal.order(f"cs{3:016d}")
    assert third is not None

    assert [r.request.qty for r in journal.recent_orders()] == [Decimal(4), Decimal(3), Decimal(2), Decimal(1)]
    assert [r.request.qty for r in journal.recent_orders(symbol="BTCUSDT")] == [Decimal(4), Decimal(3), Decimal(1)]
    assert [r.request.qty for r in journal.recent_orders(since=third.created_at)] == [Decimal(4), Decimal(3)]
    assert [r.request.qty for r in journal.recent_orders(symbol="ETHUSDT", since=third.created_at)] == []
    assert [r.request.qty for r in journal.recent_orders(limit=1)] == [Decimal(4)]
    journal.close()


async def test_sessions_and_offsets_are_kept_for_the_next_run(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "journal.sqlite3"
    journal = Journal(path)
    journal.begin_session("sid-1", "acct/paper/p", {"ea_version": "1.0"})
    journal.end_session("sid-1", "bye: chart closed")
    journal.save_offsets("acct/paper/p", {})
    journal.save_offsets("acct/paper/q", {LegKey("BTCUSD"): Decimal("0.5"), LegKey("ETH", Leg.SHORT): Decimal(2)})
    journal.close()

    reopened = Journal(path)
    assert reopened.offsets("acct/paper/p") == {}  # taken, all zero: not None
    assert reopened.offsets("acct/paper/q") == {LegKey("BTCUSD"): Decimal("0.5"), LegKey("ETH", Leg.SHORT): Decimal(2)}
    assert reopened.offsets("acct/paper/r") is None
    reopened.close()
    db = sqlite3.connect(path)
    row = db.execute("SELECT copy_key, hello, ended_at IS NOT NULL, end_reason FROM sessions").fetchone()
    db.close()
    assert row == ("acct/paper/p", '{"ea_version": "1.0"}', 1, "bye: chart closed")


async def test_a_read_only_journal_neither_writes_nor_creates(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "journal.sqlite3"
    Journal(path).close()
    reader = Journal(path, read_only=True)
    with pytest.raises(RuntimeError, match="read-only"):
        reader.save_snapshot("k", "sid", 1, "netting", [])
    reader.close()
    with pytest.raises(sqlite3.OperationalError):
        Journal(tmp_path / "missing.sqlite3", read_only=True)
    assert not (tmp_path / "missing.sqlite3").exists()


async def test_a_waiter_that_gives_up_does_not_stop_the_journal(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.sqlite3")
    held = threading.Event()
    journal._writer.submit(lambda db: held.wait(10), durable=False)
    waiting = asyncio.create_task(journal.flush())
    await asyncio.sleep(0.05)
    waiting.cancel()  # as a task does when the sidecar stops
    held.set()
    await asyncio.sleep(0.1)
    request = OrderRequest("cs2", "BTCUSD", Side.BUY, Decimal(1))
    await asyncio.wait_for(journal.record_order("k", "sid", 1, request), 10)  # the writer still writes
    assert journal._writer.failure is None and journal.order("cs2") is not None
    journal.close()
