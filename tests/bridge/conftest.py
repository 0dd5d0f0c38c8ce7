"""The bridge tests' running sidecar: a real Sidecar with the Paper venue on a real port, and its helpers."""

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

from bridge.client import BridgeClient
from bridge.codec import decode
from bridge.messages import Account, Ack, Error, Position, Status
from bridge.token import SessionToken
from sidecar.app import RunOptions, Sidecar
from sidecar.config import BridgeSettings, PaperSettings, Settings
from sidecar.venues.paper import PaperVenue

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


def hello_frame(token: str, sid: str = "raw0000000000001", seq: int = 1, connector: str | None = "paper") -> bytes:
    body = {
        "token": token, "versions": [1], "ea_version": "raw", "connector": connector, "profile": "default",
        "account": {"login": 7001, "server": "Demo-Server", "currency": "USD", "margin_mode": "netting"},
    }  # fmt: skip
    return envelope("hello", body, sid=sid, seq=seq)
