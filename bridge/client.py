"""A Python client that plays the EA's part of the protocol: for tests, the demo, and as a reference.

It is a DEALER, like the MQL5 EA, and sends exactly what PROTOCOL.md says the EA sends.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections import deque
from collections.abc import Callable, Iterable

import zmq
import zmq.asyncio
from pydantic import SecretStr

from bridge import SUPPORTED_VERSIONS
from bridge.codec import Message, decode, encode
from bridge.messages import Account, Body, Bye, Deal, Error, Heartbeat, Hello, LoggingPrefs, Position, Snapshot, Welcome


class BridgeRefused(Exception):
    def __init__(self, error: Error) -> None:
        super().__init__(f"{error.code}: {error.text}")
        self.error = error


class BridgeClient:
    def __init__(
        self,
        endpoint: str,
        token: str,
        *,
        account: Account,
        connector: str | None = None,
        profile: str = "default",
        magic_filter: Iterable[int] = (0,),
        sid: str | None = None,
        versions: Iterable[int] = SUPPORTED_VERSIONS,
    ) -> None:
        self.endpoint = endpoint
        self.token = token
        self.account = account
        self.connector = connector
        self.profile = profile
        self.magic_filter = list(magic_filter)
        self.sid = sid or secrets.token_hex(8)
        self.versions = list(versions)
        self.seq = 0
        self.received: deque[Message] = deque(maxlen=1000)  # recent history, for tests and debugging
        self._ctx = zmq.asyncio.Context()
        self._sock = self._ctx.socket(zmq.DEALER)
        self._sock.setsockopt(zmq.LINGER, 0)
        self._sock.connect(endpoint)

    async def hello(self, timeout: float = 10.0) -> Welcome:
        await self.send(
            "hello",
            Hello(
                token=SecretStr(self.token),
                versions=self.versions,
                ea_version="python-client",
                account=self.account,
                connector=self.connector,  # type: ignore[arg-type]
                profile=self.profile,
                magic_filter=self.magic_filter,
                logging=LoggingPrefs(),
            ),
        )
        reply = await self.wait_for(lambda m: m.type in ("welcome", "error"), timeout)
        if isinstance(reply.body, Error):
            raise BridgeRefused(reply.body)
        assert isinstance(reply.body, Welcome)
        return reply.body

    async def send(self, kind: str, body: Body) -> int:
        self.seq += 1
        await self._sock.send(encode(Message(kind, self.sid, self.seq, body)))
        return self.seq

    async def send_raw(self, *frames: bytes) -> None:
        await self._sock.send_multipart(list(frames))

    async def snapshot(self, positions: Iterable[Position], reason: str = "deal", deal: Deal | None = None) -> int:
        return await self.send("snapshot", Snapshot(reason=reason, positions=list(positions), deal=deal))  # type: ignore[arg-type]

    async def heartbeat(self) -> int:
        return await self.send("heartbeat", Heartbeat())

    async def recv(self, timeout: float) -> Message:
        if not await self._sock.poll(int(timeout * 1000)):
            raise TimeoutError(f"no message from the sidecar within {timeout} s")
        frame = await self._sock.recv()
        message = decode(frame, from_ea=False, max_frame=1 << 24)
        self.received.append(message)
        return message

    async def wait_for(self, predicate: Callable[[Message], bool], timeout: float) -> Message:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"the awaited message did not arrive within {timeout} s")
            message = await self.recv(left)
            if predicate(message):
                return message

    async def close(self, reason: str = "closed") -> None:
        if not self._sock.closed:
            with contextlib.suppress(TimeoutError, zmq.ZMQError):
                await asyncio.wait_for(self.send("bye", Bye(reason=reason)), 1.0)
            self._sock.close(0)
        self._ctx.term()
