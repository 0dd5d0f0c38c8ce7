"""Property-based fuzzing of what a peer can put on the wire: the codec, the ZMTP parser, the live server.

Budgets: `make test` runs a bounded number of examples; `make fuzz` (CSMC_HYPOTHESIS=fuzz) many more.
Whatever the input, the codec answers with a Message or a ProtocolError of a documented code, the ZMTP
parser yields exactly the messages that were framed or closes the connection, and the server keeps serving
the EA.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge.client import BridgeClient
from bridge.codec import ProtocolError, decode, encode
from bridge.messages import Error
from bridge.token import SessionToken
from bridge.zmtp import GREETING, READY, Incoming, Limits, Peer
from sidecar.app import RunOptions, Sidecar
from sidecar.config import BridgeSettings, PaperSettings, Settings
from sidecar.model import LegKey
from sidecar.venues.paper import PaperVenue
from tests.bridge.conftest import ACCOUNT, btc, in_sync
from tests.bridge.rawzmtp import RawZmtp, frame, ready
from tests.hypothesis_budget import examples
from tests.secrets import TEST_SECRETS

GOLDEN = Path(__file__).resolve().parents[2] / "bridge" / "golden"
EA_MESSAGES = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(GOLDEN.glob("ea-*.json"))]
CODES = set(Error.model_fields["code"].annotation.__args__)  # type: ignore[union-attr]

JSON_LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.sampled_from(["0.10", "1e400", "1_0", "\u0663", "-0", "NaN", "", " 1", "9" * 40, "none", "hello"]),
)
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            out += paths(item, (*prefix, key))
    elif isinstance(value, list):
        for at, item in enumerate(value):
            out += paths(item, (*prefix, at))
    return out


def replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    copy = json.loads(json.dumps(value))
    node = copy
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = new
    return copy


def check_decode(data: bytes) -> None:
    try:
        message = decode(data)
    except ProtocolError as e:
        assert e.code in CODES, e.code
        assert len(e.text) <= 512 and len(e.ref_type) <= 32
        return
    # Whatever was accepted encodes and decodes to itself.
    again = decode(encode(message))
    assert again == message


@settings(max_examples=examples(300), deadline=None)
@given(data=st.binary(max_size=512))
def test_any_bytes_decode_to_a_message_or_a_documented_error(data: bytes) -> None:
    check_decode(data)


@settings(max_examples=examples(250), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(base=st.sampled_from(EA_MESSAGES), pick=st.integers(0, 10_000), value=JSON_VALUES)
def test_any_field_of_a_real_message_set_to_any_json_decodes_or_is_refused(base: Any, pick: int, value: Any) -> None:
    where = paths(base)
    mutated = replaced(base, where[pick % len(where)], value)
    check_decode(json.dumps(mutated, ensure_ascii=False).encode("utf-8", errors="surrogatepass"))


@settings(max_examples=examples(200), deadline=None)
@given(base=st.sampled_from(EA_MESSAGES), cut=st.integers(0, 10_000), noise=st.binary(max_size=8))
def test_a_real_message_cut_or_spliced_decodes_or_is_refused(base: Any, cut: int, noise: bytes) -> None:
    data = json.dumps(base).encode()
    at = cut % (len(data) + 1)
    check_decode(data[:at] + noise + data[at:])


class _Transport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.written = bytearray()
        self.aborted = False
        self.paused = False
        self.protocol: Peer | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += data

    def abort(self) -> None:
        if not self.aborted:
            self.aborted = True
            assert self.protocol is not None
            self.protocol.connection_lost(None)

    def is_closing(self) -> bool:
        return self.aborted

    def get_write_buffer_size(self) -> int:
        return 0

    def pause_reading(self) -> None:
        self.paused = True

    def resume_reading(self) -> None:
        self.paused = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default


def feed(chunks: list[bytes], limits: Limits) -> tuple[list[Incoming], _Transport]:
    async def run() -> tuple[list[Incoming], _Transport]:
        peer = Peer(limits, lambda p: None, lambda p: None)
        transport = _Transport()
        transport.protocol = peer
        peer.connection_made(transport)
        taken: list[Incoming] = []
        for chunk in chunks:
            if transport.aborted:
                break
            peer.data_received(chunk)
            while not peer.closed and peer._queue:
                taken += await peer.take()
        return taken, transport

    return asyncio.run(run())


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    out, start = [], 0
    for point in [*points, len(data)]:
        out.append(data[start:point])
        start = point
    return [c for c in out if c]


LIMITS = Limits(max_message=300, close_above=2000, max_queued=3)


@settings(max_examples=examples(300), deadline=None)
@given(
    messages=st.lists(st.lists(st.binary(max_size=400), min_size=1, max_size=3), max_size=8),
    cuts=st.lists(st.integers(0, 10**6), max_size=12),
)
def test_the_zmtp_parser_yields_exactly_the_framed_messages_however_the_bytes_arrive(
    messages: list[list[bytes]], cuts: list[int]
) -> None:
    stream = GREETING + READY.replace(b"ROUTER", b"DEALER")
    for parts in messages:
        stream += b"".join(frame(p, more=i < len(parts) - 1) for i, p in enumerate(parts))
    taken, transport = feed(chunked(stream, cuts), LIMITS)

    expected = []
    for parts in messages:
        size = sum(len(p) for p in parts)
        if size > LIMITS.close_above:
            break  # closed at that header: nothing after it is read
        expected.append(Incoming((), too_large=size) if size > LIMITS.max_message else Incoming(tuple(parts)))
    assert taken == expected
    assert transport.aborted == (len(expected) < len(messages))
    assert transport.written.startswith(GREETING)


@settings(max_examples=examples(300), deadline=None)
@given(noise=st.binary(max_size=300), cuts=st.lists(st.integers(0, 10**6), max_size=6), handshake=st.booleans())
def test_the_zmtp_parser_survives_any_bytes(noise: bytes, cuts: list[int], handshake: bool) -> None:
    stream = (GREETING + ready()) if handshake else b""
    taken, _ = feed(chunked(stream + noise, cuts), LIMITS)
    for item in taken:
        assert item.too_large or sum(len(f) for f in item.frames) <= LIMITS.max_message


@dataclass
class Threaded:
    port: int
    token: str
    venue: PaperVenue


@pytest.fixture(scope="module")
def threaded_sidecar(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Threaded]:
    """A Sidecar on an event loop of its own, so that hypothesis can drive it from plain functions."""
    token = TEST_SECRETS["session_token"]
    settings_ = Settings(
        bridge=BridgeSettings(heartbeat_ms=200, timeout_ms=3000, orphan_exit_s=0),
        paper=PaperSettings(position_sync_period_s=0),
    )
    venue = PaperVenue()
    journal = tmp_path_factory.mktemp("fuzz") / "journal.sqlite3"
    loop = asyncio.new_event_loop()
    started: list[Sidecar] = []
    bound = threading.Event()

    async def serve() -> None:
        app = Sidecar(settings_, RunOptions("fuzz", SessionToken(token), 0, journal, "paper"), venue=venue)
        app.bind()
        started.append(app)
        bound.set()
        await app.run()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    assert bound.wait(10)
    app = started[0]
    port = app.server.port
    try:
        yield Threaded(port, token, venue)
    finally:
        loop.call_soon_threadsafe(app.stop)
        thread.join(timeout=10)
        loop.close()


@settings(max_examples=examples(25), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    frames=st.lists(
        st.one_of(st.binary(max_size=64), st.builds(lambda v: json.dumps(v).encode(), JSON_VALUES)),
        min_size=1,
        max_size=6,
    ),
    volume=st.integers(1, 99),
)
def test_the_server_keeps_copying_for_the_ea_whatever_a_stranger_sends(
    threaded_sidecar: Threaded, frames: list[bytes], volume: int
) -> None:
    sidecar = threaded_sidecar
    target = Decimal(volume) / 100

    async def scenario() -> None:
        stranger = await RawZmtp.connect(sidecar.port)
        try:
            for payload in frames:
                await stranger.send(payload)
        except ConnectionError:
            pass
        client = BridgeClient(f"tcp://127.0.0.1:{sidecar.port}", sidecar.token, account=ACCOUNT)
        try:
            await client.hello()
            await in_sync(client, await client.snapshot([btc(str(target))]))
        finally:
            await client.close()
            stranger.close()

    asyncio.run(scenario())
    assert sidecar.venue.holdings[LegKey("BTCUSD")] == target
