"""A ZMTP 3.0 DEALER written from RFC 23 over a plain asyncio stream: a peer that can misbehave on purpose.

libzmq's own DEALER reconnects by itself and never sends a broken frame, so the tests of what the sidecar
does with strangers and rule breakers use this instead.
"""

from __future__ import annotations

import asyncio
import socket
import struct

GREETING = b"\xff" + bytes(8) + b"\x7f" + b"\x03\x00" + b"NULL".ljust(20, b"\x00") + b"\x00" + bytes(31)


def frame(payload: bytes, *, more: bool = False, command: bool = False) -> bytes:
    flags = (0x01 if more else 0) | (0x04 if command else 0)
    if len(payload) <= 255:
        return bytes([flags, len(payload)]) + payload
    return bytes([flags | 0x02]) + struct.pack(">Q", len(payload)) + payload


def ready(socket_type: bytes = b"DEALER") -> bytes:
    name = b"Socket-Type"
    body = b"\x05READY" + bytes([len(name)]) + name + struct.pack(">I", len(socket_type)) + socket_type
    return frame(body, command=True)


class RawZmtp:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.sent = 0

    @classmethod
    async def connect(cls, port: int, *, handshake: bool = True) -> RawZmtp:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        peer = cls(reader, writer)
        if handshake:
            writer.write(GREETING + ready())
            await writer.drain()
            greeting = await reader.readexactly(64)
            assert greeting[0] == 0xFF and greeting[9] == 0x7F and greeting[10] == 3
            await peer._read_frame()  # the sidecar's READY
        return peer

    async def send(self, *frames: bytes) -> None:
        """One message of these frames."""
        data = b"".join(frame(f, more=i < len(frames) - 1) for i, f in enumerate(frames))
        await self.send_bytes(data)
        self.sent += 1

    async def send_bytes(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def _read_frame(self) -> tuple[int, bytes]:
        flags = (await self.reader.readexactly(1))[0]
        if flags & 0x02:
            (size,) = struct.unpack(">Q", await self.reader.readexactly(8))
        else:
            size = (await self.reader.readexactly(1))[0]
        return flags, await self.reader.readexactly(size)

    async def recv(self, timeout: float = 5.0) -> bytes:
        """The next message (single-frame); commands are skipped."""
        async with asyncio.timeout(timeout):
            while True:
                flags, payload = await self._read_frame()
                if not flags & 0x04:
                    return payload

    async def closed_by_peer(self, timeout: float = 5.0) -> bool:
        """Read and drop everything until the sidecar closes the connection; False if it does not in time."""
        try:
            async with asyncio.timeout(timeout):
                while await self.reader.read(65536):
                    pass
        except TimeoutError:
            return False
        except ConnectionError:
            return True
        return True

    def close(self) -> None:
        self.writer.close()


class BlockingEa:
    """A ZMTP client on a plain blocking socket, for a thread of its own: it writes as fast as the kernel takes
    it, the way an EA's burst of deals arrives."""

    def __init__(self, port: int, hello: bytes) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        self.sock.sendall(GREETING + ready() + frame(hello))
        self._data = b""
        self._take(64)  # the sidecar's greeting

    def _take(self, n: int) -> bytes:
        while len(self._data) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("the sidecar closed the connection")
            self._data += chunk
        head, self._data = self._data[:n], self._data[n:]
        return head

    def message(self) -> bytes:
        """The next message; commands (READY) are skipped."""
        while True:
            flags = self._take(1)[0]
            size = struct.unpack(">Q", self._take(8))[0] if flags & 0x02 else self._take(1)[0]
            body = self._take(size)
            if not flags & 0x04:
                return body

    def close(self) -> None:
        self.sock.close()
