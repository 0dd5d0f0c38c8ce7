"""How the sidecar takes in the EA's tables: hello answered before the venue exists, a burst's first order
placed while the burst is still arriving, and only the newest table traded. Counted, never timed."""

from __future__ import annotations

import asyncio
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bridge.client import BridgeClient
from bridge.codec import decode
from bridge.messages import Ack
from bridge.token import SessionToken
from sidecar.app import RunOptions, Sidecar
from sidecar.config import BridgeSettings, PaperSettings, Settings
from sidecar.journal import Journal
from sidecar.model import LegKey
from sidecar.venues.paper import PaperVenue
from tests.bridge.conftest import ACCOUNT, btc, envelope, hello_frame, in_sync
from tests.bridge.rawzmtp import BlockingEa, frame

BURST = 2000
SETTINGS = Settings(
    bridge=BridgeSettings(heartbeat_ms=200, timeout_ms=5000, orphan_exit_s=0),
    paper=PaperSettings(position_sync_period_s=0),
)


async def test_hello_is_answered_while_the_venue_is_still_being_made(tmp_path: Path, session_token: str) -> None:
    release = threading.Event()
    made: list[PaperVenue] = []

    def slow_venue(settings: Settings) -> PaperVenue:
        release.wait(30)  # stands in for importing a venue SDK
        venue = PaperVenue()
        made.append(venue)
        return venue

    options = RunOptions("t", SessionToken(session_token), 0, tmp_path / "journal.sqlite3", "paper")
    app = Sidecar(SETTINGS, options, venue_factory=slow_venue)
    port = app.bind()
    task = asyncio.create_task(app.run())
    client = BridgeClient(f"tcp://127.0.0.1:{port}", session_token, account=ACCOUNT)
    try:
        welcome = await client.hello()
        answered_before_the_venue = not made
        release.set()
        await client.wait_for(lambda m: m.type == "request_snapshot", 10)
        await in_sync(client, await client.snapshot([btc("0.10")]))
    finally:
        release.set()
        await client.close()
        app.stop()
        await asyncio.wait_for(task, 10)
    assert welcome.version == 1
    assert answered_before_the_venue
    assert made[0].holdings[LegKey("BTCUSD")] == Decimal("0.10")


async def test_a_bursts_first_order_goes_out_before_its_last_table_is_taken_in(
    tmp_path: Path, session_token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    venue = PaperVenue()
    options = RunOptions("t", SessionToken(session_token), 0, tmp_path / "journal.sqlite3", "paper")
    app = Sidecar(SETTINGS, options, venue=venue)
    port = app.bind()
    task = asyncio.create_task(app.run())
    seen_at_first_order: list[int] = []
    record_order = Journal.record_order

    async def first_order_decided(journal: Journal, *args: Any, **kwargs: Any) -> None:
        # The moment the engine decides the order, before its record is synced: how long the disk takes to sync
        # is not the intake's doing.
        if not seen_at_first_order and app.engine is not None:
            seen_at_first_order.append(app.engine.last_seq)
        await record_order(journal, *args, **kwargs)

    monkeypatch.setattr(Journal, "record_order", first_order_decided)
    sid = "burst00000000002"
    tables = [
        frame(envelope("snapshot", {"reason": "deal", "positions": [btc(f"{n / 100:.2f}").model_dump(mode="json")]},
                       sid=sid, seq=n + 1))
        for n in range(1, BURST + 1)
    ]  # fmt: skip

    def burst() -> list[bytes]:
        ea = BlockingEa(port, hello_frame(session_token, sid=sid))
        try:
            while b'"type":"request_snapshot"' not in ea.message():
                pass  # the engine is ready for this session from here on
            for at in range(0, BURST, 50):
                ea.sock.sendall(b"".join(tables[at : at + 50]))
            replies, acks = [], 0
            while acks < BURST:
                replies.append(ea.message())
                acks += b'"type":"ack"' in replies[-1]
            return replies
        finally:
            ea.close()

    try:
        replies = await asyncio.to_thread(burst)
        for _ in range(200):
            if venue.holdings.get(LegKey("BTCUSD")) == Decimal(BURST) / 100:
                break
            await asyncio.sleep(0.01)
    finally:
        app.stop()
        await asyncio.wait_for(task, 10)
    acks = [m.body for m in (decode(b, from_ea=False) for b in replies) if isinstance(m.body, Ack)]
    applied = [a.seq for a in acks if a.applied]
    superseded = [a for a in acks if a.superseded_by is not None]

    assert seen_at_first_order and seen_at_first_order[0] < BURST + 1, "the first order waited for the whole burst"
    assert len(acks) == BURST and applied[-1] == BURST + 1
    assert len(superseded) > BURST // 2  # most tables were never traded
    assert all(not a.applied for a in superseded)
    assert venue.holdings[LegKey("BTCUSD")] == Decimal(BURST) / 100
    # Every order went to a table that was applied; none to one that was superseded.
    assert len(venue.executions) <= len(applied)
