"""The sidecar's end of the bridge: a ROUTER socket on 127.0.0.1, one session per EA (PROTOCOL.md §3, §5).

The server checks the token, versions, framing and schemas, answers every bad message with an `error`
reply, keeps each session alive with heartbeats, and hands valid messages to a `SessionHandler`.
Nothing a peer sends can stop it serving the other sessions.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Protocol

import zmq
import zmq.asyncio

from bridge import SUPPORTED_VERSIONS
from bridge.codec import MAX_ERROR_TEXT, MAX_FRAME, Message, ProtocolError, clip, decode, encode
from bridge.messages import Ack, Body, Bye, Error, Heartbeat, Hello, Snapshot, Welcome
from bridge.token import SessionToken

log = logging.getLogger("csmc.bridge")


@dataclass
class Session:
    sid: str
    identity: bytes
    hello: Hello
    version: int
    last_seen: float = field(default_factory=time.monotonic)
    last_sent: float = field(default_factory=time.monotonic)
    out_seq: int = 0


class SessionHandler(Protocol):
    async def on_hello(self, session: Session) -> Welcome:
        """Accept a session (the token is already checked). Raise ProtocolError to refuse it."""

    async def on_snapshot(self, session: Session, seq: int, body: Snapshot) -> bool:
        """Take a snapshot; return quickly (whether it was applied). Trading happens elsewhere."""

    async def on_bye(self, session: Session, body: Bye) -> None: ...

    async def on_lost(self, session: Session) -> None: ...


class AddressInUse(Exception):
    pass


class BridgeServer:
    def __init__(
        self,
        handler: SessionHandler,
        token: str | SessionToken,
        *,
        port: int = 0,
        heartbeat_ms: int = 1000,
        timeout_ms: int = 10_000,
        max_frame: int = MAX_FRAME,
    ) -> None:
        self._handler = handler
        self._token = token if isinstance(token, SessionToken) else SessionToken(token)
        self.port = port
        self.heartbeat_ms = heartbeat_ms
        self.timeout_ms = timeout_ms
        self.max_frame = max_frame
        self.sessions: dict[str, Session] = {}
        self._by_identity: dict[bytes, str] = {}
        self._ctx = zmq.asyncio.Context()
        self._sock: zmq.asyncio.Socket | None = None
        self._closed = asyncio.Event()
        self.errors_sent = 0

    @property
    def bound(self) -> bool:
        return self._sock is not None

    @property
    def endpoint(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    def bind(self) -> int:
        sock = self._ctx.socket(zmq.ROUTER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.ROUTER_MANDATORY, 1)
        # Past this size libzmq drops the peer; below it an oversized frame gets an error reply.
        sock.setsockopt(zmq.MAXMSGSIZE, self.max_frame * 8)
        try:
            if self.port:
                sock.bind(f"tcp://127.0.0.1:{self.port}")
            else:
                self.port = sock.bind_to_random_port("tcp://127.0.0.1")
        except zmq.ZMQError as e:
            sock.close(0)
            raise AddressInUse(f"cannot listen on 127.0.0.1:{self.port}: {e.strerror}") from None
        self._sock = sock
        log.info("bridge listening on %s", self.endpoint)
        return self.port

    async def serve(self) -> None:
        """Serve until `close()`; bind first if not bound."""
        if self._sock is None:
            self.bind()
        beat = asyncio.create_task(self._heartbeat_loop())
        try:
            await self._recv_loop()
        finally:
            beat.cancel()

    def close(self) -> None:
        self._closed.set()
        if self._sock is not None:
            self._sock.close(0)
            self._sock = None
        self._ctx.term()

    # --- sending ----------------------------------------------------------------------------------

    async def send(self, sid: str, kind: str, body: Body) -> bool:
        session = self.sessions.get(sid)
        if session is None:
            return False
        session.out_seq += 1
        session.last_sent = time.monotonic()
        return await self._send_to(session.identity, Message(kind, sid, session.out_seq, body, session.version))

    async def _send_to(self, identity: bytes, message: Message) -> bool:
        if self._sock is None:
            return False
        try:
            await self._sock.send_multipart([identity, encode(message)], flags=zmq.DONTWAIT)
        except zmq.ZMQError as e:
            log.debug("cannot send %s: %s", message.type, e)
            return False
        return True

    async def _reply_error(self, identity: bytes, err: ProtocolError) -> None:
        self.errors_sent += 1
        sid = self._by_identity.get(identity, "none")
        session = self.sessions.get(sid)
        seq = 0
        if session is not None:
            session.out_seq += 1
            seq = session.out_seq
        log.warning("bridge: %s from peer %s: %s", err.code, identity.hex()[:8], err.text, extra={"to_ea": False})
        body = Error(code=err.code, text=err.text, ref_type=err.ref_type, ref_seq=err.ref_seq)  # type: ignore[arg-type]
        await self._send_to(identity, Message("error", sid, seq, body))

    # --- receiving --------------------------------------------------------------------------------

    async def _recv_loop(self) -> None:
        while not self._closed.is_set() and self._sock is not None:
            try:
                frames = await self._sock.recv_multipart()
            except (zmq.ContextTerminated, zmq.error.ZMQError, asyncio.CancelledError):
                return
            identity, payload = frames[0], frames[1:]
            try:
                await self._dispatch(identity, payload)
            except ProtocolError as e:
                await self._reply_safely(identity, e)
            except Exception:
                log.exception("bridge: internal error while handling a message", extra={"to_ea": False})
                await self._reply_safely(identity, ProtocolError("internal", "the sidecar failed on this message"))

    async def _reply_safely(self, identity: bytes, error: ProtocolError) -> None:
        # Nothing one peer sends may end the loop that serves every session.
        try:
            await self._reply_error(identity, error)
        except Exception:
            log.exception("bridge: cannot send an error reply", extra={"to_ea": False})

    async def _dispatch(self, identity: bytes, payload: list[bytes]) -> None:
        if len(payload) == 2 and payload[0] == b"":
            payload = payload[1:]  # a REQ-style empty delimiter is tolerated
        if len(payload) != 1:
            raise ProtocolError("multipart", f"expected one frame per message, got {len(payload)}")
        message = decode(payload[0], from_ea=True, max_frame=self.max_frame)
        if isinstance(message.body, Hello):
            await self._on_hello(identity, message)
            return
        sid = self._by_identity.get(identity)
        session = self.sessions.get(message.sid)
        if sid is None or session is None or sid != message.sid or session.identity != identity:
            raise ProtocolError("no_session", "send hello (with the session token) first", message.type, message.seq)
        session.last_seen = time.monotonic()
        if isinstance(message.body, Snapshot):
            applied = await self._handler.on_snapshot(session, message.seq, message.body)
            await self.send(session.sid, "ack", Ack(seq=message.seq, applied=applied))
        elif isinstance(message.body, Bye):
            await self._handler.on_bye(session, message.body)
            self._forget(session)

    async def _on_hello(self, identity: bytes, message: Message) -> None:
        hello = message.body
        assert isinstance(hello, Hello)
        if not self._token.matches(hello.token.get_secret_value()):
            raise ProtocolError("bad_token", "the session token does not match the one this sidecar was started with")
        common = sorted(set(hello.versions) & set(SUPPORTED_VERSIONS))
        if not common:
            raise ProtocolError(
                "unsupported_version",
                f"no common protocol version: the EA speaks {hello.versions}, the sidecar {list(SUPPORTED_VERSIONS)}",
                "hello",
                message.seq,
            )
        session = Session(message.sid, identity, hello, common[-1])
        welcome = await self._handler.on_hello(session)  # may refuse: then nothing below changes
        previous = self.sessions.get(message.sid)
        if previous is not None and previous.identity != identity:
            self._by_identity.pop(previous.identity, None)
        welcome = welcome.model_copy(update={"version": session.version})
        self.sessions[message.sid] = session
        self._by_identity[identity] = message.sid
        await self.send(message.sid, "welcome", welcome)

    async def drop(self, sid: str, reason: str) -> None:
        """End a session from this side: tell the EA why, then forget it."""
        session = self.sessions.get(sid)
        if session is None:
            return
        await self.send(sid, "error", Error(code="no_session", text=clip(reason, MAX_ERROR_TEXT)))
        self._forget(session)

    def _forget(self, session: Session) -> None:
        self.sessions.pop(session.sid, None)
        self._by_identity.pop(session.identity, None)

    async def _heartbeat_loop(self) -> None:
        interval = self.heartbeat_ms / 1000
        while not self._closed.is_set():
            await asyncio.sleep(interval / 2)
            now = time.monotonic()
            for session in list(self.sessions.values()):
                if now - session.last_seen > self.timeout_ms / 1000:
                    log.warning("bridge: session %s timed out", session.sid, extra={"to_ea": False})
                    self._forget(session)
                    await self._handler.on_lost(session)
                elif now - session.last_sent >= interval:
                    await self.send(session.sid, "heartbeat", Heartbeat())
