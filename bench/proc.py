"""A `csmc run` subprocess started exactly as the EA starts it, with deadlines on everything that waits for it."""

from __future__ import annotations

import contextlib
import os
import queue
import secrets
import subprocess
import threading
import time
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import IO

from bench.common import BenchFailure, Deadline
from bridge.client import BridgeClient
from bridge.messages import Account, Position
from sidecar.demo import run_command, write_profile
from sidecar.paths import write_private

PROFILE = "bench"
# Mirror mode is the Paper default; it is spelled out because the latency benchmark depends on it.
PROFILE_BODY = 'connector = "paper"\n[paper]\nposition_mode = "one_way"\nsync_at_startup = true\n'
ACCOUNT = Account(login=70000001, server="Bench-Server", currency="USD", margin_mode="netting")
LISTENING = "csmc: listening on"
START_TIMEOUT = 20.0
STOP_TIMEOUT = 5.0
MAX_STDOUT_LINES = 100


def clean_env(home: Path) -> dict[str, str]:
    """The caller's environment without its CSMC_ settings: a stray CSMC_LOG__LEVEL would change the figures."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CSMC_")}
    env["CSMC_HOME"] = str(home)
    return env


def prepare_home(home: Path) -> tuple[Path, str]:
    """A CSMC_HOME with the bench profile, and a session token in a file only this user can read."""
    write_profile(home, PROFILE, PROFILE_BODY)
    token = secrets.token_urlsafe(24)
    token_file = home / f"{PROFILE}.token"
    write_private(token_file, token)
    return token_file, token


def bench_client(port: int, token: str) -> BridgeClient:
    return BridgeClient(
        f"tcp://127.0.0.1:{port}",
        token,
        account=ACCOUNT,
        connector="paper",
        profile=PROFILE,
        magic_filter=[0],
    )


def btc_position(volume: Decimal) -> Position:
    return Position(
        symbol="BTCUSD", side="buy", volume=volume, position_id=1, magic=0, contract_size=Decimal(1),
        base_currency="BTC", profit_currency="USD", volume_step=Decimal("0.01"), volume_min=Decimal("0.01"),
    )  # fmt: skip


class Sidecar:
    """`csmc run` in the background. Its stdout lines are timestamped by the thread that reads them, so the
    time a line arrived does not depend on when the benchmark gets round to looking."""

    def __init__(self, home: Path, token_file: Path, port: int) -> None:
        self.port = port
        self._lines: queue.Queue[tuple[float, str | None]] = queue.Queue()
        self._stderr: list[str] = []
        self.spawned_at = time.perf_counter()
        self.proc = subprocess.Popen(
            run_command(port, PROFILE, token_file),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=clean_env(home),
        )
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self._readers = [
            threading.Thread(target=self._pump_stdout, args=(self.proc.stdout,), daemon=True),
            threading.Thread(target=self._pump_stderr, args=(self.proc.stderr,), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _pump_stdout(self, stream: IO[str]) -> None:
        for line in stream:
            self._lines.put((time.perf_counter(), line))
        self._lines.put((time.perf_counter(), None))

    def _pump_stderr(self, stream: IO[str]) -> None:
        # Drained continuously: a full stderr pipe would block the sidecar and look like a slow sidecar.
        for line in stream:
            self._stderr.append(line)

    def stderr_tail(self, chars: int = 2000) -> str:
        return "".join(self._stderr)[-chars:].strip()

    def wait_listening(self, timeout: float = START_TIMEOUT) -> float:
        """perf_counter() at which the "listening" line was read."""
        deadline = Deadline(timeout)
        for _ in range(MAX_STDOUT_LINES):
            try:
                at, line = self._lines.get(timeout=max(deadline.left(), 0.001))
            except queue.Empty:
                raise BenchFailure(f"the sidecar printed no '{LISTENING}' line within {timeout:.0f} s") from None
            if line is None:
                time.sleep(0.2)  # lets the stderr reader catch the reason before it is reported
                raise BenchFailure(
                    f"the sidecar exited (code {self.proc.poll()}) before listening: {self.stderr_tail() or '-'}"
                )
            if line.startswith(LISTENING):
                return at
        raise BenchFailure(f"the sidecar printed {MAX_STDOUT_LINES} lines but no '{LISTENING}' line")

    def memory_kb(self) -> dict[str, int]:
        """VmHWM (peak resident set) and VmRSS of the running sidecar, from /proc (Linux only)."""
        wanted = {"VmHWM", "VmRSS"}
        found: dict[str, int] = {}
        try:
            text = Path(f"/proc/{self.proc.pid}/status").read_text(encoding="ascii")
        except OSError:
            return found
        for line in text.splitlines():
            name, _, value = line.partition(":")
            if name in wanted:
                found[name] = int(value.split()[0])
        return found

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=STOP_TIMEOUT)
        for reader in self._readers:
            reader.join(timeout=2.0)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        return self.proc.returncode

    def __enter__(self) -> Sidecar:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
