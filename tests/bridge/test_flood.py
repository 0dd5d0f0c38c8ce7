"""A real `csmc run` under a flood of strangers (tests/bridge/flood.py, in a process of its own): the EA's
orders keep flowing, its session is never lost, and the sidecar's memory stays bounded.

Nothing here is timed: the test counts the orders the venue executed and the messages the flood sent while
they were placed, and reads the sidecar's peak memory from the kernel.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from bridge.client import BridgeClient
from bridge.messages import Ack, Error, Status
from tests.bridge.conftest import ACCOUNT, btc
from tests.conftest import write_profile
from tests.e2e.harness import running

CHANGES = 12
PEAK_RSS_LIMIT_KB = 100 * 1024


def peak_rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM in /proc status")


async def copy_changes(port: int, token: str) -> tuple[list[Ack], list[Error]]:
    client = BridgeClient(f"tcp://127.0.0.1:{port}", token, account=ACCOUNT)
    acks: list[Ack] = []
    try:
        await client.hello(timeout=30)
        for n in range(1, CHANGES + 1):
            volume = Decimal(n) / 100
            seq = await client.snapshot([btc(str(volume))])
            ack = await client.wait_for(lambda m, s=seq: isinstance(m.body, Ack) and m.body.seq == s, 30)
            assert isinstance(ack.body, Ack)
            acks.append(ack.body)
            await client.wait_for(
                lambda m, v=volume: (
                    isinstance(m.body, Status)
                    and any(r.symbol == "BTCUSD" and r.venue == v for r in m.body.instruments)
                ),
                30,
            )
    finally:
        await client.close()
    errors = [m.body for m in client.received if isinstance(m.body, Error)]
    return acks, errors


@pytest.mark.slow
def test_orders_keep_flowing_and_memory_stays_bounded_while_strangers_flood(csmc_home: Path) -> None:
    state = csmc_home / "paper-state.json"
    write_profile(
        csmc_home,
        "flood",
        f'connector = "paper"\n[paper]\nsync_at_startup = true\nposition_sync_period_s = 0\nstate_file = "{state}"\n',
    )
    with running(csmc_home, "flood") as sidecar:
        sidecar.wait_listening()
        flooder = subprocess.Popen(
            [sys.executable, "-m", "tests.bridge.flood", str(sidecar.port)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert flooder.stdout is not None and flooder.stdin is not None
        try:
            assert flooder.stdout.readline().strip() == "flooding"
            acks, errors = asyncio.run(copy_changes(sidecar.port, sidecar.token))
            still_alive = sidecar.proc.poll() is None
            peak = peak_rss_kb(sidecar.proc.pid)
        finally:
            report, _ = flooder.communicate(input="", timeout=30)  # closing its stdin stops it
    flood = json.loads(report.strip().splitlines()[-1])
    orders = json.loads(state.read_text())["orders"]

    assert still_alive
    assert [a.applied for a in acks] == [True] * CHANGES
    assert errors == [], "the EA's session was refused or lost during the flood"
    assert len(orders) == CHANGES  # one order per change, none lost, none doubled
    # The flood was real and went on for the whole time: strangers sent, and were shown the door.
    assert flood["messages"] > 10_000 and flood["hung_up"] > 10
    assert peak < PEAK_RSS_LIMIT_KB, f"peak RSS {peak} kB"
    print(f"flood {flood}, peak RSS {peak} kB")
