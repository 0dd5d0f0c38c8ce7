"""Cold start: from the start of `csmc run` (as the EA runs it) to a port that accepts connections, for every
connector, against `python -c 'import zmq'` in the same rounds.

The venue is never reached: a profile per connector with placeholder keys and an unreachable API address,
since the socket must be bound before anything of the venue is imported or contacted.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import Deadline, Summary
from bench.proc import PROFILE, clean_env, prepare_home, wait_connectable
from sidecar.demo import free_port, run_command

UNREACHABLE = "http://127.0.0.1:9"
PROFILES = {
    "paper": 'connector = "paper"\n',
    "binance": f'connector = "binance"\n[binance]\napi_key = "k"\nsecret_key = "s"\napi_url = "{UNREACHABLE}/fapi"\n'
    'endpoint = "futures"\n',
    "kucoin": f'connector = "kucoin"\n[kucoin]\napi_key = "k"\nsecret_key = "s"\npassphrase = "p"\n'
    f'api_url = "{UNREACHABLE}"\n',
    "kraken": f'connector = "kraken"\n[kraken]\napi_key = "k"\nsecret_key = "c2VjcmV0"\napi_url = "{UNREACHABLE}"\n',
    "ib": 'connector = "ib"\n[ib]\nport = 9\n',
}
ROUNDS = 5


@dataclass
class StartupResult:
    import_zmq_ms: list[float] = field(default_factory=list)
    bound_ms: dict[str, list[float]] = field(default_factory=dict)

    def ratio(self, connector: str) -> float:
        return Summary.of(self.bound_ms[connector]).median / Summary.of(self.import_zmq_ms).median

    def to_json(self) -> dict[str, object]:
        return {
            "import_zmq_ms": Summary.of(self.import_zmq_ms).to_json(),
            "bound_ms": {c: Summary.of(v).to_json() for c, v in self.bound_ms.items()},
            "ratio_p50": {c: round(self.ratio(c), 2) for c in self.bound_ms},
        }


def _import_zmq_ms() -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import zmq"], check=True)
    return (time.perf_counter() - started) * 1000


def _bound_ms(home: Path, token_file: Path) -> float:
    port = free_port()
    started = time.perf_counter()
    proc = subprocess.Popen(
        run_command(port, PROFILE, token_file), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env=clean_env(home), text=True,
    )  # fmt: skip
    try:
        bound = wait_connectable(port, Deadline(20), proc)
    finally:
        proc.kill()
        proc.wait()
    return (bound - started) * 1000


def cold_start(deadline: Deadline, rounds: int = ROUNDS) -> StartupResult:
    result = StartupResult()
    with tempfile.TemporaryDirectory(prefix="csmc-bench-start-") as tmp:
        homes = {}
        for connector, body in PROFILES.items():
            home = Path(tmp) / connector
            homes[connector] = (home, prepare_home(home, body)[0])
        for n in range(rounds + 1):  # round 0 fills the OS caches and is not counted
            if deadline.expired and n > 1:
                break
            zmq_ms = _import_zmq_ms()
            bound = {c: _bound_ms(home, token_file) for c, (home, token_file) in homes.items()}
            if n:
                result.import_zmq_ms.append(zmq_ms)
                for connector, ms in bound.items():
                    result.bound_ms.setdefault(connector, []).append(ms)
    return result
