"""EA → sidecar → `ack`, against a bare pyzmq echo of a message of the same size, in interleaved rounds.

Both go through a pyzmq DEALER on asyncio, one message in flight at a time. The snapshot is the EA's timer
table (the same position each time, a new seq), so what is measured is the bridge and the intake — decode,
schema, stale rule, targets, journal — not an order.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import zmq
import zmq.asyncio

from bench.common import BenchFailure, Deadline, Summary
from bench.proc import EchoServer, Sidecar, bench_client, position, prepare_home
from bridge.client import BridgeClient
from bridge.codec import Message, encode
from bridge.messages import Ack, Snapshot

ROUNDS = 10
PER_ROUND = 50


@dataclass
class AckResult:
    snapshot_bytes: int
    ack_ms: list[float] = field(default_factory=list)
    echo_ms: list[float] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        return Summary.of(self.ack_ms).median / Summary.of(self.echo_ms).median

    def to_json(self) -> dict[str, object]:
        return {
            "snapshot_bytes": self.snapshot_bytes,
            "ack_ms": Summary.of(self.ack_ms).to_json(),
            "echo_ms": Summary.of(self.echo_ms).to_json(),
            "ratio_p50": round(self.ratio, 2),
        }


async def ack_latency(deadline: Deadline, rounds: int = ROUNDS) -> AckResult:
    with tempfile.TemporaryDirectory(prefix="csmc-bench-ack-") as tmp:
        token_file, token = prepare_home(Path(tmp))
        with Sidecar(Path(tmp), token_file) as sidecar, EchoServer() as echo:
            sidecar.wait_listening()
            client = bench_client(sidecar.port, token)
            ctx = zmq.asyncio.Context()
            raw = ctx.socket(zmq.DEALER)
            raw.setsockopt(zmq.LINGER, 0)
            raw.connect(f"tcp://127.0.0.1:{echo.port}")
            try:
                await client.hello()
                await client.wait_for(lambda m: m.type == "request_snapshot", 10)
                table = Snapshot(reason="timer", positions=[position("BTCUSD", Decimal("0.25"))])
                payload = encode(Message("snapshot", client.sid, 10**6, table))
                result = AckResult(len(payload))
                for n in range(rounds + 1):  # round 0 warms both paths up and is not counted
                    if deadline.expired and n > 1:
                        break
                    echo_ms = [await _echo_once(raw, payload) for _ in range(PER_ROUND)]
                    ack_ms = [await _ack_once(client, table) for _ in range(PER_ROUND)]
                    if n:
                        result.echo_ms += echo_ms
                        result.ack_ms += ack_ms
            finally:
                raw.close(0)
                ctx.term()
                await client.close("bench finished")
    return result


async def _echo_once(sock: zmq.asyncio.Socket, payload: bytes) -> float:
    started = time.perf_counter()
    await sock.send(payload)
    if not await sock.poll(5000):
        raise BenchFailure("the echo server did not answer")
    await sock.recv()
    return (time.perf_counter() - started) * 1000


async def _ack_once(client: BridgeClient, table: Snapshot) -> float:
    started = time.perf_counter()
    seq = await client.send("snapshot", table)
    reply = await client.wait_for(lambda m: isinstance(m.body, Ack) and m.body.seq == seq, 5)
    elapsed = (time.perf_counter() - started) * 1000
    assert isinstance(reply.body, Ack)
    if not reply.body.applied:
        raise BenchFailure(f"snapshot {seq} was not applied")
    return elapsed
