"""Connections that have not proven the token (PROTOCOL.md §3.8): small, few, cheap, and shown the door.

Each test talks to a real Sidecar (Paper venue) over real TCP, as a libzmq socket or as the hand-written
ZMTP peer of tests/bridge/rawzmtp.py, which can break the rules on purpose.
"""

from __future__ import annotations

import asyncio
import json
import logging
import struct
from decimal import Decimal

import pytest
import zmq

from bridge.codec import decode
from bridge.messages import Ack, Error
from bridge.server import MAX_STRANGERS, STRANGER_MAX_MESSAGE, STRANGER_STRIKES
from sidecar.model import LegKey
from tests.bridge.conftest import Running, btc, envelope, hello_frame, in_sync
from tests.bridge.rawzmtp import GREETING, RawZmtp, frame, ready


def error_code(payload: bytes) -> str:
    message = decode(payload, from_ea=False)
    assert isinstance(message.body, Error), message
    return message.body.code


async def test_a_stranger_is_answered_then_disconnected_after_repeated_refusals(running: Running) -> None:
    peer = await RawZmtp.connect(running.app.server.port)
    try:
        codes = []
        for n in range(STRANGER_STRIKES):
            await peer.send(hello_frame("wrong-token", seq=n + 1))
            codes.append(error_code(await peer.recv()))
        closed = await peer.closed_by_peer()
    finally:
        peer.close()
    assert codes == ["bad_token"] * STRANGER_STRIKES
    assert closed
    assert running.venue.submits == 0


async def test_a_stranger_message_above_the_small_limit_closes_the_connection_unread(running: Running) -> None:
    peer = await RawZmtp.connect(running.app.server.port)
    try:
        # Only the header of a 2 MiB frame and a first slice of it: the sidecar closes at the header.
        await peer.send_bytes(b"\x02" + struct.pack(">Q", 2 * 1024 * 1024) + b"x" * 1024)
        closed = await peer.closed_by_peer()
    finally:
        peer.close()
    assert closed


async def test_a_stranger_hello_just_under_the_limit_is_read(running: Running) -> None:
    peer = await RawZmtp.connect(running.app.server.port)
    try:
        padded = json.loads(hello_frame(running.token))
        frame_size = len(json.dumps(padded).encode())
        padded["body"]["pad"] = "x" * (STRANGER_MAX_MESSAGE - frame_size - 20)
        payload = json.dumps(padded).encode()
        assert STRANGER_MAX_MESSAGE - 100 < len(payload) <= STRANGER_MAX_MESSAGE
        await peer.send(payload)
        welcome = decode(await peer.recv(), from_ea=False)
    finally:
        peer.close()
    assert welcome.type == "welcome"


async def test_a_stranger_that_never_says_hello_is_disconnected_after_the_timeout(running: Running) -> None:
    peer = await RawZmtp.connect(running.app.server.port)
    try:
        closed = await peer.closed_by_peer(timeout=5)  # the fixture's timeout_ms is 1.5 s
    finally:
        peer.close()
    assert closed


@pytest.mark.parametrize(
    "opening",
    [b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", GREETING[:11] + b"\x00" + b"CURVE".ljust(20, b"\x00") + bytes(32)],
    ids=["http", "curve"],
)
async def test_a_peer_that_does_not_speak_zmtp_null_is_disconnected(running: Running, opening: bytes) -> None:
    peer = await RawZmtp.connect(running.app.server.port, handshake=False)
    try:
        await peer.send_bytes(opening)
        closed = await peer.closed_by_peer()
    finally:
        peer.close()
    assert closed


async def test_a_connection_that_never_finishes_its_handshake_is_disconnected(running: Running) -> None:
    peer = await RawZmtp.connect(running.app.server.port, handshake=False)
    try:
        await peer.send_bytes(GREETING[:20])
        closed = await peer.closed_by_peer(timeout=5)
    finally:
        peer.close()
    assert closed


async def test_beyond_the_cap_the_worst_stranger_makes_room_and_a_good_hello_still_gets_in(running: Running) -> None:
    port = running.app.server.port
    rude = await RawZmtp.connect(port)
    await rude.send(b"not json")
    assert error_code(await rude.recv()) == "malformed"
    crowd = [await RawZmtp.connect(port) for _ in range(MAX_STRANGERS)]
    ea = running.client()
    try:
        welcome = await ea.hello()
        rude_closed = await rude.closed_by_peer()
    finally:
        await ea.close()
        for peer in [rude, *crowd]:
            peer.close()
    assert rude_closed  # the one refused before goes first
    assert welcome.version == 1


async def test_after_a_good_hello_the_connection_gets_the_eas_limits(running: Running) -> None:
    peer = await RawZmtp.connect(running.app.server.port)
    try:
        await peer.send(hello_frame(running.token))
        assert decode(await peer.recv(), from_ea=False).type == "welcome"
        big = {"reason": "timer", "positions": [], "pad": "x" * (100 * 1024)}
        await peer.send(envelope("snapshot", big, sid="raw0000000000001", seq=2))
        while True:
            message = decode(await peer.recv(), from_ea=False)
            if message.type == "ack":
                break
        # Beyond 8 × max_frame the EA's own connection is closed at the header (§2.6).
        await peer.send_bytes(b"\x02" + struct.pack(">Q", 8 * 256 * 1024 + 1))
        closed = await peer.closed_by_peer()
    finally:
        peer.close()
    assert isinstance(message.body, Ack) and message.body.seq == 2
    assert closed


async def test_a_ping_from_a_zmtp_3_1_peer_gets_its_pong(running: Running) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", running.app.server.port)
    try:
        writer.write(GREETING[:11] + b"\x01" + GREETING[12:] + ready())
        writer.write(frame(b"\x04PING" + b"\x00\x0a" + b"ctx-42", command=True))
        await writer.drain()
        await reader.readexactly(64)
        seen = []
        async with asyncio.timeout(5):
            while b"PONG" not in b"".join(seen):
                _flags, size = await reader.readexactly(2)
                seen.append(await reader.readexactly(size))
    finally:
        writer.close()
    assert seen[-1] == b"\x04PONG" + b"ctx-42"


async def test_libzmq_heartbeats_keep_the_connection_and_the_session(running: Running) -> None:
    """A libzmq DEALER with ZMTP heartbeats on drops a peer that never answers its PINGs."""
    client = running.client()
    client._sock.close(0)
    client._sock = client._ctx.socket(zmq.DEALER)
    client._sock.setsockopt(zmq.LINGER, 0)
    client._sock.setsockopt(zmq.HEARTBEAT_IVL, 100)
    client._sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, 300)
    client._sock.connect(running.endpoint)
    try:
        await client.hello()
        await asyncio.sleep(1.2)  # many heartbeat intervals, and below the session's own timeout
        await in_sync(client, await client.snapshot([btc("0.05")]))
    finally:
        await client.close()
    assert running.venue.holdings[LegKey("BTCUSD")] == Decimal("0.05")


async def test_a_message_after_an_empty_delimiter_frame_is_read_as_the_message(running: Running) -> None:
    """REQ-style framing (§1.1): an empty frame, then the payload."""
    peer = await RawZmtp.connect(running.app.server.port)
    try:
        await peer.send(b"", hello_frame(running.token))
        reply = decode(await peer.recv(), from_ea=False)
    finally:
        peer.close()
    assert reply.type == "welcome"


async def test_json_that_would_crash_a_parser_is_refused_in_one_log_line(
    running: Running, caplog: pytest.LogCaptureFixture
) -> None:
    client = running.client()
    caplog.set_level(logging.DEBUG)
    try:
        await client.hello()
        for payload in (b'{"v":1,"seq":' + b"9" * 5000 + b"}", b'{"a":' + b"[" * 1000 + b"]" * 1000 + b"}"):
            await client.send_raw(payload)
            reply = await client.wait_for(lambda m: m.type == "error", 5)
            assert isinstance(reply.body, Error) and reply.body.code == "malformed"
    finally:
        await client.close()
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
    assert all("\n" not in r.getMessage() for r in caplog.records)
