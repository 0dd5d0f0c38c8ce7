"""The sidecar's bridge over real ZMTP connections on 127.0.0.1: a real Sidecar with the Paper venue.

A wrong or missing token never causes an order; every kind of bad input gets an error reply, and the
sidecar keeps serving the sessions that behave.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from bridge.client import BridgeRefused
from bridge.codec import MAX_FRAME, Message, decode
from bridge.messages import Ack, AlertMsg, Error, Status
from sidecar.model import LegKey
from sidecar.venues.paper import Fault
from tests.bridge.conftest import RawPeer, Running, btc, envelope, hello_frame, in_sync
from tests.bridge.rawzmtp import RawZmtp, frame


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
    ("huge version number", [envelope("heartbeat", {}, v=int("9" * 3000))], "malformed"),
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
    ("snapshot of another session", [envelope("snapshot", {"reason": "timer", "positions": []})], "no_session"),
    ("invalid snapshot body", [envelope("snapshot", {"reason": "timer", "positions": [{"symbol": 5}]})], "invalid"),
]


async def test_every_bad_input_from_the_ea_gets_an_error_reply_and_its_session_goes_on(running: Running) -> None:
    good = running.client()
    try:
        await good.hello()
        await in_sync(good, await good.snapshot([btc("0.10")]))
        codes = {}
        for name, frames, _ in BAD_INPUTS:
            await good.send_raw(*frames)
            reply = await good.wait_for(lambda m: m.type == "error", 5)
            assert isinstance(reply.body, Error)
            codes[name] = reply.body.code
        # The sidecar still serves the session, and a newcomer.
        await in_sync(good, await good.snapshot([btc("0.30")]))
        newcomer = running.client()
        try:
            welcome = await newcomer.hello()
        finally:
            await newcomer.close()
    finally:
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


async def test_a_table_with_an_impossible_volume_is_refused_and_the_trader_is_told(running: Running) -> None:
    client = running.client()
    try:
        await client.hello()
        await in_sync(client, await client.snapshot([btc("0.10")]))
        table = btc("0.10").model_dump(mode="json")
        table["volume"] = "1e400"
        client.seq += 1
        await client.send_raw(
            envelope("snapshot", {"reason": "deal", "positions": [table]}, sid=client.sid, seq=client.seq)
        )
        error = await client.wait_for(lambda m: m.type == "error", 5)
        alert = await client.wait_for(lambda m: m.type == "alert" and isinstance(m.body, AlertMsg), 5)
    finally:
        await client.close()
    assert isinstance(error.body, Error) and error.body.code == "invalid"
    assert "positions.0.volume" in error.body.text
    assert isinstance(alert.body, AlertMsg) and alert.body.code == "table_refused" and alert.body.level == "error"
    assert "positions.0.volume" in alert.body.text
    assert running.venue.holdings[LegKey("BTCUSD")] == Decimal("0.10")
    assert running.venue.submits == 1


async def test_snapshots_that_queued_up_together_are_superseded_by_the_newest_and_never_traded(
    running: Running,
) -> None:
    peer = await RawZmtp.connect(running.app.server.port)
    sid = "burst00000000001"
    try:
        await peer.send(hello_frame(running.token, sid=sid))
        while decode(await peer.recv(), from_ea=False).type != "request_snapshot":
            pass  # the engine is ready for this session from here on
        tables = [btc(v).model_dump(mode="json") for v in ("0.30", "0.70", "0.05")]
        tables[1]["volume"] = "seventy"  # not even valid: superseded, it is never checked against the schema
        burst = b"".join(
            frame(envelope("snapshot", {"reason": "deal", "positions": [table]}, sid=sid, seq=n))
            for n, table in enumerate(tables, start=2)
        )
        await peer.send_bytes(burst)  # one write: the three arrive together
        acks: list[Ack] = []
        while len(acks) < 3:
            message = decode(await peer.recv(), from_ea=False)
            if isinstance(message.body, Ack):
                acks.append(message.body)
        while True:
            message = decode(await peer.recv(), from_ea=False)
            if isinstance(message.body, Status) and message.body.mismatches == 0 and message.body.instruments:
                break
    finally:
        peer.close()
    assert [(a.seq, a.applied, a.superseded_by) for a in acks] == [(2, False, 4), (3, False, 4), (4, True, None)]
    assert running.venue.holdings[LegKey("BTCUSD")] == Decimal("0.05")
    assert [e.qty_after for e in running.venue.executions] == [Decimal("0.05")]  # 0.30 and 0.70 never traded
