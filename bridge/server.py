"""The sidecar's end of the bridge: ZMTP on 127.0.0.1, one session per EA (PROTOCOL.md §3, §5).

The server checks the token, versions, framing and schemas, answers every bad message with an `error`
reply, keeps each session alive with heartbeats, and hands valid messages to a `SessionHandler`.

Who is served first: a connection that has shown the session token (the EA) is never held back. A
connection that has not is a stranger: it may send only small messages, few of them are read ahead, all
strangers together share a small budget of messages per second, and one that keeps sending refused
messages, or says no valid hello in time, is disconnected (PROTOCOL.md §3.9). However many strangers there
are, the EA's snapshots, heartbeats and orders go on.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from dataclasses import dataclass, field
from typing import Protocol

from bridge import SUPPORTED_VERSIONS
from bridge.codec import MAX_ERROR_TEXT, MAX_FRAME, Envelope, Message, ProtocolError, clip, encode, read_envelope
from bridge.listen import listening_socket
from bridge.messages import Ack, AlertMsg, Body, Bye, Error, Heartbeat, Hello, Snapshot, Welcome
from bridge.token import SessionToken
from bridge.zmtp import Incoming, Limits, Listener, Peer

log = logging.getLogger("csmc.bridge")

#: A hello is a few hundred bytes (a magic filter of 256 entries makes it about 6 KiB).
STRANGER_MAX_MESSAGE = 16 * 1024
STRANGER_LIMITS = Limits(max_message=STRANGER_MAX_MESSAGE, close_above=STRANGER_MAX_MESSAGE, max_queued=4)
MAX_STRANGERS = 32
STRANGER_RATE = 200.0  # messages per second, for all strangers together
STRANGER_STRIKES = 5  # refused messages before a stranger is disconnected
EA_WRITE_LIMIT = 32 * 1024 * 1024  # unread output held for the EA before its connection is given up
EA_BATCH = 16


@dataclass
class Session:
    sid: str
    peer: Peer
    hello: Hello
    version: int
    last_seen: float = field(default_factory=time.monotonic)
    last_sent: float = field(default_factory=time.monotonic)
    out_seq: int = 0
    refusals_told: set[str] = field(default_factory=set)


class SessionHandler(Protocol):
    async def on_hello(self, session: Session) -> Welcome:
        """Accept a session (the token is already checked). Raise ProtocolError to refuse it."""

    async def on_snapshot(self, session: Session, seq: int, body: Snapshot) -> bool:
        """Take a snapshot; return quickly (whether it was applied). Trading happens elsewhere."""

    async def on_bye(self, session: Session, body: Bye) -> None: ...

    async def on_lost(self, session: Session) -> None: ...


class AddressInUse(Exception):
    pass


class _Budget:
    """A token bucket: what all strangers together may cost per second."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = burst
        self._at = time.monotonic()

    async def take(self) -> None:
        while True:
            now = time.monotonic()
            self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
            self._at = now
            if self._tokens >= 1:
                self._tokens -= 1
                return
            await asyncio.sleep((1 - self._tokens) / self.rate)


@dataclass
class _PeerState:
    sid: str | None = None
    strikes: int = 0
    task: asyncio.Task[None] | None = None


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
        sock: socket.socket | None = None,
        max_strangers: int = MAX_STRANGERS,
        stranger_rate: float = STRANGER_RATE,
    ) -> None:
        self._handler = handler
        self._token = token if isinstance(token, SessionToken) else SessionToken(token)
        self.port = port
        self.heartbeat_ms = heartbeat_ms
        self.timeout_ms = timeout_ms
        self.max_frame = max_frame
        self.sessions: dict[str, Session] = {}
        self._peers: dict[Peer, _PeerState] = {}
        self._sock = sock
        if sock is not None:
            self.port = sock.getsockname()[1]
        self._listener = Listener(
            STRANGER_LIMITS,
            on_connect=self._connected,
            on_disconnect=self._disconnected,
            evict_first=self._eviction_rank,
            max_unproven=max_strangers,
            handshake_timeout=min(5.0, timeout_ms / 1000),
        )
        self._budget = _Budget(stranger_rate, burst=max(stranger_rate / 10, 1.0))
        # A batch of at most 16 tables: only the newest is applied, and the orders it starts go out before the
        # next batch is read, so a burst costs a millisecond or two of intake before its first order.
        self._ea_limits = Limits(max_message=max_frame, close_above=max_frame * 8, max_queued=EA_BATCH)
        self._closed = asyncio.Event()
        self.errors_sent = 0
        self.strangers_dropped = 0

    @property
    def bound(self) -> bool:
        return self._sock is not None

    @property
    def endpoint(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    def bind(self) -> int:
        if self._sock is None:
            try:
                self._sock = listening_socket(self.port)
            except OSError as e:
                raise AddressInUse(f"cannot listen on 127.0.0.1:{self.port}: {e.strerror}") from None
            self.port = self._sock.getsockname()[1]
        log.info("bridge listening on %s", self.endpoint)
        return self.port

    async def serve(self) -> None:
        """Serve until `close()`; bind first if not bound."""
        if self._sock is None:
            self.bind()
        assert self._sock is not None
        await self._listener.start(self._sock)
        beat = asyncio.create_task(self._heartbeat_loop())
        try:
            await self._closed.wait()
        finally:
            beat.cancel()

    def close(self) -> None:
        self._closed.set()
        self._listener.close()
        for state in self._peers.values():
            if state.task is not None:
                state.task.cancel()
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    # --- sending ----------------------------------------------------------------------------------

    async def send(self, sid: str, kind: str, body: Body) -> bool:
        session = self.sessions.get(sid)
        if session is None:
            return False
        session.out_seq += 1
        session.last_sent = time.monotonic()
        return session.peer.send(encode(Message(kind, sid, session.out_seq, body, session.version)))

    def _reply_error(self, peer: Peer, err: ProtocolError) -> None:
        self.errors_sent += 1
        state = self._peers.get(peer)
        sid = (state.sid if state else None) or "none"
        session = self.sessions.get(sid)
        seq = 0
        if session is not None and session.peer is peer:
            session.out_seq += 1
            seq = session.out_seq
        else:
            sid = "none"
        log.warning("bridge: %s from peer %s: %s", err.code, peer.address, err.text, extra={"to_ea": False})
        body = Error(code=err.code, text=err.text, ref_type=err.ref_type, ref_seq=err.ref_seq)  # type: ignore[arg-type]
        peer.send(encode(Message("error", sid, seq, body)))
        if session is not None and sid != "none" and err.ref_type == "snapshot" and err.code == "invalid":
            self._alert_refused_table(session, err.text)
        if state is not None and not peer.proven:
            state.strikes += 1
            if state.strikes >= STRANGER_STRIKES:
                self.strangers_dropped += 1
                peer.close(f"{state.strikes} refused messages without a valid hello")

    def _alert_refused_table(self, session: Session, why: str) -> None:
        # An error reply goes to the EA's log only; a table that cannot be taken stops copying its changes,
        # which the trader must see. Once per reason: the EA resends its table every few seconds.
        if why in session.refusals_told:
            return
        session.refusals_told.add(why)
        text = (
            f"The MT5 position table was refused ({why}). The sidecar keeps the last table it took, so changes "
            f"in MT5 are not copied until the EA sends a table it can read."
        )
        self._send_now(session, "alert", AlertMsg(level="error", text=clip(text, 4096), code="table_refused"))

    # --- connections ------------------------------------------------------------------------------

    def _connected(self, peer: Peer) -> None:
        state = self._peers[peer] = _PeerState()
        state.task = asyncio.get_running_loop().create_task(self._serve_peer(peer))
        # A stranger has one timeout's time to show the token (the EA sends its hello at once).
        asyncio.get_running_loop().call_later(self.timeout_ms / 1000, self._check_proven, peer)

    def _eviction_rank(self, peer: Peer) -> tuple[object, ...]:
        """Who goes first when there are too many strangers: one still in its ZMTP handshake, then the one
        refused most often, then the oldest. A fresh connection that says a good hello at once (the EA) goes
        last."""
        state = self._peers.get(peer)
        return (peer.handshaken, -(state.strikes if state else 0), peer.connected_at)

    def _check_proven(self, peer: Peer) -> None:
        if not peer.proven and not peer.closed:
            self.strangers_dropped += 1
            peer.close("no valid hello in time")

    def _disconnected(self, peer: Peer) -> None:
        state = self._peers.pop(peer, None)
        if state is not None and state.task is not None and not state.task.done():
            state.task.cancel()

    async def _serve_peer(self, peer: Peer) -> None:
        try:
            while batch := await peer.take():
                if not peer.proven:
                    batch = await self._as_stranger(peer, batch)
                if batch:
                    await self._handle_batch(peer, batch)
                if peer.pending:
                    # Let the orders a table started go out before the next batch is read: a burst of tables
                    # must not hold back the first order.
                    await asyncio.sleep(0)
        except asyncio.CancelledError:
            return
        except Exception:
            log.exception("bridge: the connection handler failed", extra={"to_ea": False})
            peer.close("internal error")

    async def _as_stranger(self, peer: Peer, batch: list[Incoming]) -> list[Incoming]:
        """Handle a stranger's messages one by one, within the strangers' budget. What follows a hello that
        proved the token is returned, to be handled as the EA's."""
        for at, item in enumerate(batch):
            await self._budget.take()
            if peer.closed:
                return []
            await self._handle(peer, item)
            if peer.proven:
                return batch[at + 1 :]
        return []

    async def _handle(self, peer: Peer, item: Incoming) -> None:
        try:
            message = self._decode(item)
            await self._dispatch(peer, message)
        except ProtocolError as e:
            self._reply_error(peer, e)
        except Exception:
            log.exception("bridge: internal error while handling a message", extra={"to_ea": False})
            self._reply_error(peer, ProtocolError("internal", "the sidecar failed on this message"))

    async def _handle_batch(self, peer: Peer, batch: list[Incoming]) -> None:
        """The EA's messages as they queued up. Of several snapshots in a row only the newest is applied; the
        others are acknowledged as superseded (the protocol is level-triggered: PROTOCOL.md §5.2), without
        their bodies being checked against the schema, which for a large table is most of its cost."""
        read: list[Envelope | ProtocolError] = []
        for item in batch:
            try:
                read.append(self._envelope(item))
            except ProtocolError as e:
                read.append(e)
        for at, envelope in enumerate(read):
            if isinstance(envelope, ProtocolError):
                self._reply_error(peer, envelope)
                continue
            try:
                newer = self._newer_snapshot(read, at)
                if newer is not None:
                    self._supersede(peer, envelope, newer)
                else:
                    await self._dispatch(peer, envelope.message())
            except ProtocolError as e:
                self._reply_error(peer, e)
            except Exception:
                log.exception("bridge: internal error while handling a message", extra={"to_ea": False})
                self._reply_error(peer, ProtocolError("internal", "the sidecar failed on this message"))

    @staticmethod
    def _newer_snapshot(read: list[Envelope | ProtocolError], at: int) -> int | None:
        envelope = read[at]
        assert isinstance(envelope, Envelope)
        if envelope.kind != "snapshot":
            return None
        newest: int | None = None
        for later in read[at + 1 :]:
            if not isinstance(later, Envelope) or later.sid != envelope.sid:
                continue
            if later.kind in ("hello", "bye"):
                break  # the session may change in between: what follows is handled in its turn
            if later.kind == "snapshot" and later.seq > (newest or envelope.seq):
                newest = later.seq
        return newest

    def _supersede(self, peer: Peer, envelope: Envelope, newer: int) -> None:
        session = self._session_of(peer, envelope.kind, envelope.seq, envelope.sid)
        session.last_seen = time.monotonic()
        self._send_now(session, "ack", Ack(seq=envelope.seq, applied=False, superseded_by=newer))

    def _send_now(self, session: Session, kind: str, body: Body) -> None:
        session.out_seq += 1
        session.last_sent = time.monotonic()
        session.peer.send(encode(Message(kind, session.sid, session.out_seq, body, session.version)))

    def _decode(self, item: Incoming) -> Message:
        return self._envelope(item).message()

    def _envelope(self, item: Incoming) -> Envelope:
        if item.too_large:
            raise ProtocolError(
                "too_large", f"message of {item.too_large} bytes exceeds the limit of {self.max_frame} bytes"
            )
        frames = item.frames
        if len(frames) == 2 and frames[0] == b"":
            frames = frames[1:]  # a REQ-style empty delimiter is tolerated
        if len(frames) != 1:
            raise ProtocolError("multipart", f"expected one frame per message, got {len(frames)}")
        return read_envelope(frames[0], from_ea=True, max_frame=self.max_frame)

    def _session_of(self, peer: Peer, kind: str, seq: int, sid: str) -> Session:
        state = self._peers.get(peer)
        session = self.sessions.get(sid)
        if state is None or session is None or state.sid != sid or session.peer is not peer:
            raise ProtocolError("no_session", "send hello (with the session token) first", kind, seq)
        return session

    async def _dispatch(self, peer: Peer, message: Message) -> None:
        if isinstance(message.body, Hello):
            await self._on_hello(peer, message)
            return
        session = self._session_of(peer, message.type, message.seq, message.sid)
        session.last_seen = time.monotonic()
        if isinstance(message.body, Snapshot):
            applied = await self._handler.on_snapshot(session, message.seq, message.body)
            await self.send(session.sid, "ack", Ack(seq=message.seq, applied=applied))
        elif isinstance(message.body, Bye):
            await self._handler.on_bye(session, message.body)
            self._forget(session)

    async def _on_hello(self, peer: Peer, message: Message) -> None:
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
        # The token is proven whatever the handler decides: the EA's limits from here on.
        peer.prove(self._ea_limits, EA_WRITE_LIMIT)
        session = Session(message.sid, peer, hello, common[-1])
        welcome = await self._handler.on_hello(session)  # may refuse: then nothing below changes
        previous = self.sessions.get(message.sid)
        if previous is not None and previous.peer is not peer:
            old = self._peers.get(previous.peer)
            if old is not None and old.sid == message.sid:
                old.sid = None
        welcome = welcome.model_copy(update={"version": session.version})
        self.sessions[message.sid] = session
        state = self._peers.get(peer)
        if state is not None:
            state.sid = message.sid
        await self.send(message.sid, "welcome", welcome)

    async def drop(self, sid: str, reason: str) -> None:
        """End a session from this side: tell the EA why, then forget it."""
        session = self.sessions.get(sid)
        if session is None:
            return
        await self.send(sid, "error", Error(code="no_session", text=clip(reason, MAX_ERROR_TEXT)))
        self._forget(session)

    def _forget(self, session: Session) -> None:
        if self.sessions.get(session.sid) is session:
            del self.sessions[session.sid]
        state = self._peers.get(session.peer)
        if state is not None and state.sid == session.sid:
            state.sid = None

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
