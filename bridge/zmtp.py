"""ZMTP 3.x with the NULL mechanism (ZeroMQ RFC 23 and 37), the listening end, on asyncio.

The sidecar needs from ZeroMQ only what a ROUTER socket gives: many peers on one port, whole messages, and
replies to the connection a message came from. libzmq's ROUTER gives that, but it reads every connection
into a queue of its own before the application sees a byte, with one size limit for all peers and no way
to drop a single connection. A peer that has not proven the session token must cost the sidecar next to
nothing, so this module owns the connections: it caps how many unproven peers there are, how large their
messages may be and how much of their input is parsed ahead, and it closes a peer that breaks the rules.
A proven peer (the EA) gets the protocol's limits and is never held back.

Peers are libzmq DEALER or REQ sockets, or the EA's own ZMTP (mql5/Include/CSMultiConnector/Zmtp.mqh).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger("csmc.bridge")

# Signature as libzmq writes it: FF, eight bytes of padding of which the last is 01 (a ZMTP 1.0 length
# field, for old peers), 7F. RFC 23 makes the padding insignificant, so only bytes 0 and 9 are checked.
SIGNATURE = b"\xff\x00\x00\x00\x00\x00\x00\x00\x01\x7f"
GREETING_SIZE = 64
MAJOR, MINOR = 3, 1
MAX_COMMAND = 4096  # READY, PING, ERROR: small by nature; a larger command is a broken peer
PEER_SOCKET_TYPES = frozenset({b"DEALER", b"REQ"})

_MORE, _LONG, _COMMAND = 0x01, 0x02, 0x04
_RESERVED = 0xF8


def _greeting() -> bytes:
    mechanism = b"NULL".ljust(20, b"\x00")
    return SIGNATURE + bytes([MAJOR, MINOR]) + mechanism + b"\x00" + bytes(31)


def frame_header(size: int, flags: int = 0) -> bytes:
    if size <= 255:
        return bytes([flags, size])
    return bytes([flags | _LONG]) + struct.pack(">Q", size)


def _command(name: bytes, body: bytes) -> bytes:
    payload = bytes([len(name)]) + name + body
    return frame_header(len(payload), _COMMAND) + payload


def _ready(socket_type: bytes) -> bytes:
    name = b"Socket-Type"
    return _command(b"READY", bytes([len(name)]) + name + struct.pack(">I", len(socket_type)) + socket_type)


GREETING = _greeting()
READY = _ready(b"ROUTER")


class ProtocolViolation(Exception):
    """The peer does not speak ZMTP as this end does, or broke a limit: the connection is closed."""


@dataclass(frozen=True)
class Limits:
    """What a peer may send. Messages above `max_message` are skipped as they stream in and reported as too
    large; above `close_above` the connection is closed at the frame header, before the body is read."""

    max_message: int
    close_above: int
    max_queued: int  # whole messages parsed ahead of the server; beyond it the connection is not read


@dataclass(frozen=True)
class Incoming:
    """One whole message: its frames, or only its size when it was too large to keep."""

    frames: tuple[bytes, ...]
    too_large: int = 0


def _properties(body: bytes) -> dict[bytes, bytes]:
    """ZMTP metadata: name length (1 byte), name, value length (4 bytes), value; repeated."""
    out: dict[bytes, bytes] = {}
    at = 0
    while at < len(body):
        size = body[at]
        name = body[at + 1 : at + 1 + size]
        at += 1 + size
        if at + 4 > len(body):
            raise ProtocolViolation("a READY property is cut short")
        (length,) = struct.unpack_from(">I", body, at)
        at += 4
        if at + length > len(body):
            raise ProtocolViolation("a READY property value is cut short")
        out[name.lower()] = body[at : at + length]
        at += length
    return out


class Peer(asyncio.Protocol):
    """One TCP connection speaking ZMTP. Parses whole messages into a short queue that the server takes."""

    def __init__(self, limits: Limits, on_ready: Callable[[Peer], None], on_closed: Callable[[Peer], None]) -> None:
        self.limits = limits
        self.address = ""
        self.proven = False
        self.minor = MINOR
        self._on_ready = on_ready
        self._on_closed = on_closed
        self._transport: asyncio.Transport | None = None
        self._buf = bytearray()
        self._state = "greeting"
        self._parts: list[bytes] = []
        self._message_size = 0
        self._skip = 0  # body bytes of the current frame still to drop
        self._oversized = False  # the message being read has grown past max_message
        self._queue: deque[Incoming] = deque()
        self._wakeup = asyncio.Event()
        self._paused = False
        self.closed = False
        self.write_limit = 64 * 1024
        self.connected_at = time.monotonic()

    @property
    def pending(self) -> bool:
        """Whether messages (or bytes of them) are already waiting to be taken."""
        return bool(self._queue) or bool(self._buf)

    @property
    def handshaken(self) -> bool:
        return self._state == "frames"

    # --- asyncio.Protocol -------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        peer = transport.get_extra_info("peername")
        self.address = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else "?"
        sock = transport.get_extra_info("socket")
        if sock is not None:
            # Replies are small and latency is what counts.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        transport.write(GREETING + READY)

    def data_received(self, data: bytes) -> None:
        self._buf += data
        self._parse()

    def eof_received(self) -> bool:
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._transport = None
        self._wakeup.set()
        self._on_closed(self)

    # --- for the server ---------------------------------------------------------------------------

    async def take(self) -> list[Incoming]:
        """Every message parsed so far, waiting for at least one; [] once the connection is closed."""
        while not self._queue and not self.closed:
            self._wakeup.clear()
            await self._wakeup.wait()
        batch = list(self._queue)
        self._queue.clear()
        if not self.closed:
            self._parse()  # what arrived while the queue was full
        return batch

    def prove(self, limits: Limits, write_limit: int) -> None:
        """The peer showed the session token: the protocol's own limits from now on."""
        self.proven = True
        self.limits = limits
        self.write_limit = write_limit
        self._parse()

    def send(self, payload: bytes) -> bool:
        transport = self._transport
        if transport is None or transport.is_closing():
            return False
        if transport.get_write_buffer_size() > self.write_limit:
            # It does not read what it is sent: holding more for it would only grow the sidecar.
            self.close(f"does not read its replies ({transport.get_write_buffer_size()} bytes waiting)")
            return False
        header = frame_header(len(payload))
        if len(payload) < 65536:
            transport.write(header + payload)
        else:  # not copied into one buffer
            transport.write(header)
            transport.write(payload)
        return True

    def close(self, why: str) -> None:
        if self._transport is not None and not self._transport.is_closing():
            log.debug("bridge: closing peer %s: %s", self.address, why)
            self._transport.abort()

    # --- parsing ----------------------------------------------------------------------------------

    def _parse(self) -> None:
        try:
            while self._transport is not None and len(self._queue) < self.limits.max_queued:
                if not self._step():
                    break
        except ProtocolViolation as e:
            self.close(str(e))
            return
        if self._queue:
            self._wakeup.set()
        self._flow()

    def _flow(self) -> None:
        transport = self._transport
        if transport is None:
            return
        full = len(self._queue) >= self.limits.max_queued
        if full and not self._paused:
            transport.pause_reading()
            self._paused = True
        elif not full and self._paused:
            transport.resume_reading()
            self._paused = False

    def _step(self) -> bool:
        """Consume one unit (greeting, command, frame or skipped bytes). False when more input is needed."""
        if self._skip:
            n = min(self._skip, len(self._buf))
            del self._buf[:n]
            self._skip -= n
            return not self._skip
        if self._state == "greeting":
            return self._greeting()
        header = self._header()
        if header is None:
            return False
        flags, head, size = header
        if flags & _COMMAND:
            return self._command_frame(head, size)
        if self._state != "frames":
            raise ProtocolViolation("a message before the READY command")
        return self._data_frame(flags, head, size)

    def _header(self) -> tuple[int, int, int] | None:
        """Flags, header length and body size of the next frame; None until the header is complete."""
        buf = self._buf
        if len(buf) < 2:
            return None
        flags = buf[0]
        if flags & _RESERVED:
            raise ProtocolViolation(f"frame flags {flags:#04x} have reserved bits set")
        if not flags & _LONG:
            return flags, 2, buf[1]
        if len(buf) < 9:
            return None
        (size,) = struct.unpack_from(">Q", buf, 1)
        return flags, 9, size

    def _data_frame(self, flags: int, head: int, size: int) -> bool:
        buf = self._buf
        total = self._message_size + size
        if total > self.limits.close_above:
            raise ProtocolViolation(f"a message of at least {total} bytes (the limit is {self.limits.close_above})")
        more = bool(flags & _MORE)
        if total > self.limits.max_message or self._oversized:
            # Too large to keep: its bytes are dropped as they arrive, and it is reported once it has ended.
            del buf[:head]
            self._oversized = True
            self._parts.clear()
            self._message_size = total
            self._skip = size
            if not more:
                self._finish_oversized()
            return True
        if len(buf) < head + size:
            return False
        self._parts.append(bytes(buf[head : head + size]))
        del buf[: head + size]
        self._message_size = total
        if not more:
            self._queue.append(Incoming(tuple(self._parts)))
            self._parts = []
            self._message_size = 0
        return True

    def _finish_oversized(self) -> None:
        # Queued ahead of the skipped body: the reply says only that it was too large, never what it held.
        self._queue.append(Incoming((), too_large=self._message_size))
        self._oversized = False
        self._message_size = 0

    def _greeting(self) -> bool:
        buf = self._buf
        if len(buf) >= 1 and buf[0] != 0xFF:
            raise ProtocolViolation("not a ZMTP peer (no greeting signature)")
        if len(buf) >= 10 and buf[9] & 0x01 != 0x01:
            raise ProtocolViolation("not a ZMTP 3 peer (greeting signature)")
        if len(buf) >= 11 and buf[10] < 3:
            raise ProtocolViolation(f"ZMTP {buf[10]} is not spoken here (3.0 or later)")
        if len(buf) < GREETING_SIZE:
            return False
        mechanism = bytes(buf[12:32]).rstrip(b"\x00")
        if mechanism != b"NULL":
            raise ProtocolViolation(f"security mechanism {mechanism[:20]!r} is not spoken here (NULL)")
        self.minor = min(buf[11] if buf[10] == 3 else MINOR, MINOR)
        del buf[:GREETING_SIZE]
        self._state = "handshake"
        return True

    def _command_frame(self, head: int, size: int) -> bool:
        if size > MAX_COMMAND:
            raise ProtocolViolation(f"a command of {size} bytes")
        buf = self._buf
        if len(buf) < head + size:
            return False
        body = bytes(buf[head : head + size])
        del buf[: head + size]
        if not body or len(body) < 1 + body[0]:
            raise ProtocolViolation("a command without a name")
        name, rest = body[1 : 1 + body[0]], body[1 + body[0] :]
        if self._state == "handshake":
            if name != b"READY":
                raise ProtocolViolation(f"expected READY, got {name[:16]!r}")
            kind = _properties(rest).get(b"socket-type", b"")
            if kind not in PEER_SOCKET_TYPES:
                raise ProtocolViolation(f"socket type {kind[:16]!r} cannot talk to a ROUTER here")
            self._state = "frames"
            self._on_ready(self)
        elif name == b"PING" and self.minor >= 1 and self._transport is not None:
            # RFC 37: PONG carries the PING's context (what follows its 2-byte TTL).
            self._transport.write(_command(b"PONG", rest[2:18]))
        return True


class Listener:
    """The listening socket and its connections. At most `max_unproven` peers that have not proven the token
    are kept: a new one pushes out another, chosen by `evict_first` (the smallest key goes), so a crowd of
    connections can make the EA wait but never lock it out."""

    def __init__(
        self,
        unproven: Limits,
        *,
        on_connect: Callable[[Peer], None],
        on_disconnect: Callable[[Peer], None],
        evict_first: Callable[[Peer], tuple[object, ...]],
        max_unproven: int = 32,
        handshake_timeout: float = 5.0,
    ) -> None:
        self.unproven_limits = unproven
        self.max_unproven = max_unproven
        self.handshake_timeout = handshake_timeout
        self._on_connect = on_connect
        self._on_disconnect = on_disconnect
        self._evict_first = evict_first
        self._server: asyncio.Server | None = None
        self.peers: set[Peer] = set()
        self.accepted = 0
        self.evicted = 0

    async def start(self, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._make_peer, sock=sock, backlog=64)

    def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for peer in list(self.peers):
            peer.close("the sidecar stops")

    def _make_peer(self) -> Peer:
        self.accepted += 1
        unproven = [p for p in self.peers if not p.proven and not p.closed]
        if len(unproven) >= self.max_unproven:
            self.evicted += 1
            min(unproven, key=self._evict_first).close("too many connections that have not said hello")
        peer = Peer(self.unproven_limits, self._on_connect, self._closed)
        self.peers.add(peer)
        asyncio.get_running_loop().call_later(self.handshake_timeout, self._check_handshake, peer)
        return peer

    def _check_handshake(self, peer: Peer) -> None:
        if not peer.handshaken:
            peer.close(f"no ZMTP handshake within {self.handshake_timeout:.1f} s")

    def _closed(self, peer: Peer) -> None:
        self.peers.discard(peer)
        self._on_disconnect(peer)
