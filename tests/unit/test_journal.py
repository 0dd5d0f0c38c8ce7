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
