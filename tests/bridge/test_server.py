"""The sidecar's bridge over real ZeroMQ sockets on 127.0.0.1: a real Sidecar with the Paper venue.

A wrong or missing token never causes an order; every kind of bad input gets an error reply, and the
sidecar keeps serving the sessions that behave.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
import zmq
import zmq.asyncio

from bridge.client import BridgeClient, BridgeRefused
from bridge.codec import MAX_FRAME, Message, decode
from bridge.messages import Account, Ack, Error, Position, Status
from bridge.token import SessionToken
from sidecar.app import RunOptions, Sidecar
from sidecar.config import BridgeSettings, PaperSettings, Settings
from sidecar.model import LegKey
from sidecar.venues.paper import Fault, PaperVenue

ACCOUNT = Account(login=7001, server="Demo-Server", currency="USD", margin_mode="netting")


def btc(volume: str, magic: int = 0) -> Position:
    return Position(
        symbol="BTCUSD", side="buy", volume=Decimal(volume), position_id=1, magic=magic,
        contract_size=Decimal(1), base_currency="BTC", profit_currency="USD",
        volume_step=Decimal("0.01"), volume_min=Decimal("0.01"),
    )  # fmt: skip


@dataclass
class Running:
    app: Sidecar
    venue: PaperVenue
    endpoint: str
    token: str

    def client(self, token: str | None = None, **kwargs: object) -> BridgeClient:
        return BridgeClient(self.endpoint, self.token if token is None else token, account=ACCOUNT, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
async def running(tmp_path: Path, session_token: str, csmc_home: Path) -> AsyncIterator[Running]:
    settings = Settings(
        bridge=BridgeSettings(heartbeat_ms=200, timeout_ms=1500, orphan_exit_s=0),
        paper=PaperSettings(position_sync_period_s=0),
    )
    venue = PaperVenue()
    options = RunOptions("test", SessionToken(session_token), 0, tmp_path / "journal.sqlite3", "paper")
    app = Sidecar(settings, options, venue=venue)
    port = app.bind()
    task = asyncio.create_task(app.run())
    try:
        yield Running(app, venue, f"tcp://127.0.0.1:{port}", session_token)
    finally:
        app.stop()
        await asyncio.wait_for(task, 10)


async def in_sync(client: BridgeClient, seq: int) -> Status:
    await client.wait_for(lambda m: m.type == "ack" and isinstance(m.body, Ack) and m.body.seq == seq, 5)
    while True:
        message = await client.wait_for(lambda m: m.type == "status", 5)
        assert isinstance(message.body, Status)
        if message.body.copying and message.body.mismatches == 0:
            return message.body


class RawPeer:
    """Something on the port that is not a well-behaved EA."""

    def __init__(self, endpoint: str) -> None:
        self.ctx = zmq.asyncio.Context()
        self.sock = self.ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.connect(endpoint)

    async def ask(self, *frames: bytes) -> Error:
        await self.sock.send_multipart(list(frames))
        assert await self.sock.poll(5000), "no reply to a bad message"
        reply = decode(await self.sock.recv(), from_ea=False)
        assert isinstance(reply.body, Error), reply
        return reply.body

    def close(self) -> None:
        self.sock.close(0)
        self.ctx.term()


def envelope(kind: str, body: object, v: object = 1, sid: object = "rawpeer1", seq: object = 1) -> bytes:
    return json.dumps({"v": v, "type": kind, "sid": sid, "seq": seq, "body": body}).encode()


async def test_a_good_session_copies_its_snapshot(running: Running) -> None:
    client = running.client()
    try:
        welcome = await client.hello()
        status = await in_sync(client, await client.snapshot([btc("0.25")]))
    finally:
        await client.close()
    assert welcome.version == 1 and welcome.connector == "paper"
    assert running.venue.holdings[LegKey("BTCUSD")] == Decimal("0.25")
    assert [(r.symbol, r.target, r.venue) for r in status.instruments] == [("BTCUSD", Decimal("0.25"), Decimal("0.25"))]


@pytest.mark.parametrize("token", ["not-the-token-at-all", ""])
async def test_a_wrong_or_missing_token_causes_no_order(running: Running, token: str) -> None:
    intruder = running.client(token=token)
    try:
        with pytest.raises(BridgeRefused) as refused:
            await intruder.hello()
        # It carries on as if it had been accepted: none of it may reach the venue.
        await intruder.snapshot([btc("1")])
        reply = await intruder.wait_for(lambda m: m.type == "error", 5)
    finally:
        await intruder.close()
    assert refused.value.error.code == "bad_token"
    assert isinstance(reply.body, Error) and reply.body.code == "no_session"
    assert running.venue.executions == [] and running.venue.submits == 0
    assert running.app.server.sessions == {}


BAD_INPUTS: list[tuple[str, list[bytes], str]] = [
    ("not UTF-8", [b"\xff\xfe\xfd"], "malformed"),
    ("not JSON", [b'{"v":1,"type":'], "malformed"),
    ("JSON but not an object", [b"[1,2,3]"], "malformed"),
    ("unknown type", [envelope("buy_everything", {})], "unknown_type"),
    ("huge type name", [envelope("x" * 50_000, {})], "unknown_type"),
    ("huge version number", [envelope("heartbeat", {}, v=int("9" * 3000))], "unsupported_version"),
    ("oversized frame", [envelope("heartbeat", {"pad": "x" * (MAX_FRAME + 10)})], "too_large"),
    (
        "wrong protocol version",
        [envelope("snapshot", {"reason": "timer", "positions": []}, v=2)],
        "unsupported_version",
    ),
    ("no common version in hello", [envelope("hello", {"versions": [7], "token": "t"})], "invalid"),
    ("two frames", [envelope("heartbeat", {}), envelope("heartbeat", {})], "multipart"),
    ("sid with a newline", [envelope("heartbeat", {}, sid="abc\n")], "invalid"),
    ("negative seq", [envelope("heartbeat", {}, seq=-4)], "invalid"),
    ("snapshot before hello", [envelope("snapshot", {"reason": "timer", "positions": []})], "no_session"),
    ("invalid snapshot body", [envelope("snapshot", {"reason": "timer", "positions": [{"symbol": 5}]})], "invalid"),
]


async def test_every_bad_input_gets_an_error_reply_and_other_sessions_keep_working(running: Running) -> None:
    good = running.client()
    peer = RawPeer(running.endpoint)
    try:
        await good.hello()
        await in_sync(good, await good.snapshot([btc("0.10")]))
        codes = {}
        for name, frames, _ in BAD_INPUTS:
            codes[name] = (await peer.ask(*frames)).code
        # The sidecar still serves the session that behaves, and a newcomer.
        await in_sync(good, await good.snapshot([btc("0.30")]))
        newcomer = running.client()
        try:
            welcome = await newcomer.hello()
        finally:
            await newcomer.close()
    finally:
        peer.close()
        await good.close()
    assert codes == {name: code for name, _, code in BAD_INPUTS}
    assert welcome.version == 1
    assert running.venue.holdings[LegKey("BTCUSD")] == Decimal("0.30")


async def test_a_hello_with_only_unknown_versions_is_refused_with_unsupported_version(running: Running) -> None:
    client = running.client(versions=(5, 6))
    try:
        with pytest.raises(BridgeRefused) as refused:
            await client.hello()
    finally:
        await client.close()
    assert refused.value.error.code == "unsupported_version"


async def test_error_replies_never_echo_the_token(running: Running) -> None:
    peer = RawPeer(running.endpoint)
    bad_hello = {"token": running.token, "versions": "not-a-list", "account": {}}
    try:
        error = await peer.ask(envelope("hello", bad_hello))
    finally:
        peer.close()
    assert error.code == "invalid"
    assert running.token not in error.text


async def test_a_stale_snapshot_is_acknowledged_as_not_applied_and_changes_nothing(running: Running) -> None:
    client = running.client()
    try:
        await client.hello()
        first = await client.snapshot([btc("0.40")])
        await in_sync(client, await client.snapshot([btc("0.20")]))
        # A copy of the first snapshot, arriving late with its old sequence number.
        client.seq = first - 1
        stale = await client.snapshot([btc("0.40")])
        ack = await client.wait_for(lambda m: m.type == "ack" and isinstance(m.body, Ack) and m.body.seq == stale, 5)
    finally:
        await client.close()
    assert isinstance(ack.body, Ack) and ack.body.applied is False
    assert running.venue.holdings[LegKey("BTCUSD")] == Decimal("0.20")


async def test_positions_outside_the_magic_filter_are_not_copied(running: Running) -> None:
    client = running.client(magic_filter=[12345])
    try:
        await client.hello()
        await in_sync(client, await client.snapshot([btc("0.20", magic=12345), btc("0.50", magic=999)]))
    finally:
        await client.close()
    assert running.venue.holdings[LegKey("BTCUSD")] == Decimal("0.20")


async def test_the_sidecar_sends_heartbeats_and_drops_a_silent_session(running: Running) -> None:
    client = running.client()
    try:
        await client.hello()
        beat = await client.wait_for(lambda m: m.type == "heartbeat", 2)
        # Say nothing for longer than timeout_ms: the sidecar forgets the session.
        deadline = asyncio.get_running_loop().time() + 5
        while running.app.server.sessions and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
    finally:
        await client.close()
    assert isinstance(beat, Message)
    assert running.app.server.sessions == {}


async def test_a_new_ea_session_replaces_the_old_one_which_is_told(running: Running) -> None:
    old, new = running.client(), running.client()
    try:
        await old.hello()
        await new.hello()
        told = await old.wait_for(lambda m: m.type == "error", 5)
        await in_sync(new, await new.snapshot([btc("0.10")]))
        await old.snapshot([btc("5")])
        refused = await old.wait_for(lambda m: m.type == "error", 5)
    finally:
        await old.close()
        await new.close()
    assert isinstance(told.body, Error) and told.body.code == "no_session" and "replaced" in told.body.text
    assert isinstance(refused.body, Error) and refused.body.code == "no_session"
    assert running.venue.holdings[LegKey("BTCUSD")] == Decimal("0.10")


async def test_a_retry_after_a_venue_error_reports_its_outcome_to_the_ea(running: Running) -> None:
    """The engine retries on its own; the EA must learn that copying recovered without sending anything new."""
    running.venue.inject(Fault.UNAVAILABLE)
    client = running.client()
    try:
        await client.hello()
        seq = await client.snapshot([btc("0.25")])
        await client.wait_for(lambda m: m.type == "ack" and isinstance(m.body, Ack) and m.body.seq == seq, 5)
        first = await client.wait_for(lambda m: m.type == "status", 5)
        assert isinstance(first.body, Status) and first.body.mismatches == 1
        recovered = await client.wait_for(
            lambda m: isinstance(m.body, Status) and m.body.copying and m.body.mismatches == 0, 10
        )
    finally:
        await client.close()
    assert isinstance(recovered.body, Status)
    assert running.venue.holdings[LegKey("BTCUSD")] == Decimal("0.25")
    assert client.seq == seq + 1  # the bye: nothing was sent between the snapshot and the recovery
