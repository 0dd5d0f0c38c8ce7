"""A scripted sidecar for the EA's behaviour tests: a real ZeroMQ ROUTER on the EA's port.

It welcomes every hello, records every frame the EA sends (raw bytes, arrival time, the decoded message), and
answers from a script: a callback that sees each message the EA sends and may reply, plus replies scheduled
for later. Everything runs on the fake's own thread, because a ZeroMQ socket belongs to one thread.
"""

from __future__ import annotations

import heapq
import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import zmq

from bridge.codec import Message, decode

WELCOME = {
    "version": 1,
    "sidecar_version": "fake",
    "connector": "paper",
    "mode": "mirror",
    "heartbeat_ms": 1000,
    "timeout_ms": 10000,
    "max_frame": 262144,
}


@dataclass
class Received:
    at: float
    """time.monotonic() on arrival."""
    raw: bytes
    message: Message
    """Decoded with the sidecar's own codec and schema: a frame it would refuse fails the test at once."""


@dataclass(order=True)
class _Later:
    due: float
    order: int
    action: Callable[[], None] = field(compare=False)


class FakeSidecar:
    def __init__(
        self,
        port: int,
        script: Callable[[FakeSidecar, Received], None] | None = None,
        *,
        welcome: dict[str, Any] | None = None,
        bind_after_s: float = 0.0,
    ) -> None:
        self.port = port
        self.script = script
        self.welcome = {**WELCOME, **(welcome or {})}
        self.bind_after_s = bind_after_s
        self.received: list[Received] = []
        self.sent: list[tuple[float, dict[str, Any]]] = []
        self.problems: list[str] = []
        self._identity: bytes | None = None
        self._sid = ""
        self._seq = 0
        self._later: list[_Later] = []
        self._order = itertools.count()
        self._closing = False
        self._stop = threading.Event()
        self._bound = threading.Event()
        self._ctx = zmq.Context()
        self._sock: zmq.Socket[bytes] | None = None
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        if bind_after_s == 0:
            self._bound.wait(5)

    # --- what a script may do (on the fake's thread) -------------------------------------------------

    def reply(self, kind: str, body: dict[str, Any], sid: str | None = None) -> None:
        """Send one message to the EA of the last hello."""
        self._seq += 1
        message = {"v": 1, "type": kind, "sid": self._sid if sid is None else sid, "seq": self._seq, "body": body}
        self.send_raw(json.dumps(message, ensure_ascii=False).encode("utf-8"))
        self.sent.append((time.monotonic(), message))

    def send_raw(self, payload: bytes) -> None:
        if self._sock is not None and self._identity is not None:
            self._sock.send_multipart([self._identity, payload])

    def later(self, delay_s: float, action: Callable[[], None]) -> None:
        heapq.heappush(self._later, _Later(time.monotonic() + delay_s, next(self._order), action))

    def hang_up(self) -> None:
        """Close the socket: the EA sees its connection closed, and nothing listens on the port any more."""
        self._closing = True

    # --- what a test reads afterwards ------------------------------------------------------------------

    def messages(self, kind: str | None = None) -> list[Received]:
        return [r for r in self.received if kind is None or r.message.type == kind]

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._ctx.term()
        assert not self.problems, "\n".join(self.problems)

    # --- the serving thread ----------------------------------------------------------------------------

    def _bind(self) -> None:
        sock = self._ctx.socket(zmq.ROUTER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.bind(f"tcp://127.0.0.1:{self.port}")
        self._sock = sock
        self._bound.set()

    def _serve(self) -> None:
        bind_at = time.monotonic() + self.bind_after_s
        try:
            while not self._stop.is_set():
                if self._sock is None and not self._closing and time.monotonic() >= bind_at:
                    self._bind()
                while self._later and self._later[0].due <= time.monotonic():
                    heapq.heappop(self._later).action()
                if self._closing and self._sock is not None:
                    self._sock.close(0)
                    self._sock = None
                if self._sock is None or not self._sock.poll(20):
                    if self._sock is None:
                        time.sleep(0.02)
                    continue
                identity, payload = self._sock.recv_multipart()
                self._handle(identity, payload)
        except Exception as error:  # reported by close(), so a broken fake fails the test that used it
            self.problems.append(f"{type(error).__name__}: {error}")
        finally:
            if self._sock is not None:
                self._sock.close(0)

    def _handle(self, identity: bytes, payload: bytes) -> None:
        try:
            message = decode(payload, from_ea=True)
        except Exception as error:
            self.problems.append(f"the EA sent a frame the sidecar would refuse ({error}): {payload[:300]!r}")
            return
        received = Received(time.monotonic(), payload, message)
        self.received.append(received)
        if message.type == "hello":
            self._identity = identity
            self._sid = message.sid
            self._seq = 0
            self.reply("welcome", self.welcome)
        if self.script is not None:
            self.script(self, received)
