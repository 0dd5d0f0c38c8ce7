"""Benchmark 2: snapshot → order → status through the real path (client → ZeroMQ → `csmc run` → Paper).

One snapshot is in flight at a time, as with the EA, which sends its next snapshot after the next deal.
Benchmark 4's sidecar figure (peak RSS) is read from the same process before it is stopped.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from bench.common import BenchFailure, Deadline, Summary, ms_since
from bench.proc import Sidecar, bench_client, btc_position, prepare_home
from bridge.client import BridgeClient, BridgeRefused
from bridge.messages import Ack, Error, Status
from sidecar.demo import free_port

CONVERGE_TIMEOUT = 10.0
VOLUMES = (Decimal("0.20"), Decimal("0.10"))
MAX_MESSAGES_PER_SNAPSHOT = 1000


@dataclass
class LatencyResult:
    planned: int
    status_ms: list[float] = field(default_factory=list)
    ack_ms: list[float] = field(default_factory=list)
    elapsed_s: float = 0.0
    sidecar_memory_kb: dict[str, int] = field(default_factory=dict)

    @property
    def done(self) -> int:
        return len(self.status_ms)

    @property
    def per_second(self) -> float:
        return self.done / self.elapsed_s if self.elapsed_s else 0.0

    def to_json(self) -> dict[str, object]:
        return {
            "snapshots_planned": self.planned,
            "snapshots_done": self.done,
            "orders": self.done,
            "send_to_converged_status_ms": Summary.of(self.status_ms).to_json(),
            "send_to_ack_ms": Summary.of(self.ack_ms).to_json(),
            "elapsed_s": round(self.elapsed_s, 3),
            "snapshots_per_s": round(self.per_second, 1),
            "sidecar_vm_hwm_kb": self.sidecar_memory_kb.get("VmHWM"),
            "sidecar_vm_rss_kb": self.sidecar_memory_kb.get("VmRSS"),
        }


def _converged(status: Status, volume: Decimal) -> bool:
    """In sync, and in sync with *this* snapshot: the BTCUSD row shows its volume as target and as venue."""
    if not status.copying or status.mismatches != 0:
        return False
    return any(r.symbol == "BTCUSD" and r.target == volume and r.venue == volume for r in status.instruments)


async def _await_converged(client: BridgeClient, seq: int, volume: Decimal) -> tuple[float, float]:
    """perf_counter() at the snapshot's ack and at the first status showing it done, in whichever order they come.

    The volumes alternate, so a status still describing the previous snapshot cannot be taken for this one.
    """
    deadline = Deadline(CONVERGE_TIMEOUT)
    acked: float | None = None
    settled: float | None = None
    last: Status | None = None
    for _ in range(MAX_MESSAGES_PER_SNAPSHOT):
        if acked is not None and settled is not None:
            return acked, settled
        try:
            message = await client.recv(max(deadline.left(), 0.001))
        except TimeoutError:
            break
        now = time.perf_counter()
        body = message.body
        if isinstance(body, Ack) and body.seq == seq:
            if not body.applied:
                raise BenchFailure(f"the sidecar did not apply snapshot {seq}")
            acked = now
        elif isinstance(body, Status) and settled is None:
            last = body
            if _converged(body, volume):
                settled = now
        elif isinstance(body, Error):
            raise BenchFailure(f"the sidecar answered snapshot {seq} with an error: {body.code}: {body.text}")
        if deadline.expired and (acked is None or settled is None):
            break
    raise BenchFailure(
        f"snapshot {seq} (BTCUSD {volume}) did not converge within {CONVERGE_TIMEOUT:.0f} s "
        f"(ack {'seen' if acked else 'missing'}); last status: {last}"
    )


async def _drive(client: BridgeClient, result: LatencyResult, deadline: Deadline) -> None:
    try:
        welcome = await client.hello()
    except BridgeRefused as e:
        raise BenchFailure(f"the sidecar refused the hello: {e}") from None
    if welcome.mode != "mirror":
        raise BenchFailure(f"the sidecar runs in {welcome.mode} mode, the benchmark needs mirror mode")
    try:
        await client.wait_for(lambda m: m.type == "request_snapshot", CONVERGE_TIMEOUT)
    except TimeoutError:
        raise BenchFailure("the sidecar never asked for a snapshot (engine not started)") from None
    # The first order of the session is not timed: it establishes the position the timed ones alternate from.
    first = VOLUMES[1]
    await _await_converged(client, await client.snapshot([btc_position(first)], reason="connect"), first)

    tables = [[btc_position(v)] for v in VOLUMES]
    started = time.perf_counter()
    for i in range(result.planned):
        if deadline.expired:
            break
        volume = VOLUMES[i % 2]
        sent = time.perf_counter()
        seq = await client.snapshot(tables[i % 2])
        acked, settled = await _await_converged(client, seq, volume)
        result.ack_ms.append(ms_since(sent, acked))
        result.status_ms.append(ms_since(sent, settled))
    result.elapsed_s = time.perf_counter() - started


async def snapshot_latency(count: int, budget_s: float) -> LatencyResult:
    deadline = Deadline(budget_s)
    result = LatencyResult(planned=count)
    with tempfile.TemporaryDirectory(prefix="csmc-bench-latency-") as tmp:
        home = Path(tmp)
        token_file, token = prepare_home(home)
        with Sidecar(home, token_file, free_port()) as sidecar:
            sidecar.wait_listening()
            client = bench_client(sidecar.port, token)
            try:
                await _drive(client, result, deadline)
            finally:
                await client.close("bench finished")
            # Read while the process is alive: VmHWM is the peak over its whole life, including the run above.
            result.sidecar_memory_kb = sidecar.memory_kb()
            if sidecar.proc.poll() is not None:
                raise BenchFailure(f"the sidecar exited during the run: {sidecar.stderr_tail() or '-'}")
    if not result.done:
        raise BenchFailure(f"no snapshot was timed within the budget of {budget_s:.0f} s")
    return result
