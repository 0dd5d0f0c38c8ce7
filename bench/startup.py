"""Benchmark 1: from `Popen` of `csmc run` to a bound socket, and to a welcome for the EA's hello."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import BenchFailure, Deadline, Summary, ms_since
from bench.proc import Sidecar, bench_client, prepare_home
from bridge.client import BridgeRefused
from sidecar.demo import free_port

HELLO_TIMEOUT = 10.0


@dataclass
class StartupResult:
    planned: int
    listening_ms: list[float] = field(default_factory=list)
    welcome_ms: list[float] = field(default_factory=list)
    bare_python_ms: list[float] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return {
            "runs_planned": self.planned,
            "runs_done": len(self.listening_ms),
            "popen_to_listening_ms": Summary.of(self.listening_ms).to_json(),
            "popen_to_welcome_ms": Summary.of(self.welcome_ms).to_json(),
            "bare_python_start_ms": Summary.of(self.bare_python_ms).to_json() if self.bare_python_ms else None,
            "samples_listening_ms": [round(v, 3) for v in self.listening_ms],
            "samples_welcome_ms": [round(v, 3) for v in self.welcome_ms],
        }


async def _one_run(result: StartupResult) -> None:
    # A fresh CSMC_HOME every run, so each start also creates its journal and log file as a first start does.
    with tempfile.TemporaryDirectory(prefix="csmc-bench-start-") as tmp:
        home = Path(tmp)
        token_file, token = prepare_home(home)
        with Sidecar(home, token_file, free_port()) as sidecar:
            listening = sidecar.wait_listening()
            client = bench_client(sidecar.port, token)
            try:
                welcome = await client.hello(timeout=HELLO_TIMEOUT)
                welcomed = time.perf_counter()
            except BridgeRefused as e:
                raise BenchFailure(f"the sidecar refused the hello: {e}") from None
            except TimeoutError:
                raise BenchFailure(f"no welcome within {HELLO_TIMEOUT:.0f} s: {sidecar.stderr_tail() or '-'}") from None
            finally:
                await client.close("bench finished")
            if welcome.connector != "paper":
                raise BenchFailure(f"the sidecar runs connector {welcome.connector}, not paper")
            result.listening_ms.append(ms_since(sidecar.spawned_at, listening))
            result.welcome_ms.append(ms_since(sidecar.spawned_at, welcomed))


def _bare_python(runs: int, deadline: Deadline) -> list[float]:
    """The interpreter alone, as a floor: what of the cold start is Python starting rather than the sidecar."""
    out: list[float] = []
    for _ in range(runs):
        if deadline.expired:
            break
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True, timeout=10, capture_output=True)
        out.append(ms_since(start, time.perf_counter()))
    return out


async def cold_start(runs: int, budget_s: float) -> StartupResult:
    deadline = Deadline(budget_s)
    result = StartupResult(planned=runs)
    for _ in range(runs):
        if deadline.expired:
            break
        await _one_run(result)
    result.bare_python_ms = _bare_python(runs, Deadline(5.0))
    return result
