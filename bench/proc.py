"""Processes the benchmarks start: `csmc run` exactly as the EA starts it, and the bare echo baseline, with
deadlines on everything that waits for them."""

from __future__ import annotations

import contextlib
import os
import queue
import secrets
import socket
import subprocess
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import IO

from bench.common import BenchFailure, Deadline
from bridge.client import BridgeClient
from bridge.messages import Account, Position
from sidecar.demo import free_port, run_command, write_profile
from sidecar.paths import write_private

PROFILE = "bench"
# Mirror mode is the Paper default; it is spelled out because the latency benchmark depends on it.
PAPER_PROFILE = 'connector = "paper"\n[paper]\nposition_mode = "one_way"\nsync_at_startup = true\n'
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


def prepare_home(home: Path, profile_body: str = PAPER_PROFILE) -> tuple[Path, str]:
    """A CSMC_HOME with the bench profile, and a session token in a file only this user can read."""
    write_profile(home, PROFILE, profile_body)
    token = secrets.token_urlsafe(24)
    token_file = home / f"{PROFILE}.token"
    write_private(token_file, token)
    return token_file, token


def bench_client(port: int, token: str) -> BridgeClient:
    # No connector: the profile decides, as with the EA's default input.
    return BridgeClient(
        f"tcp://127.0.0.1:{port}", token, account=ACCOUNT, connector=None, profile=PROFILE, magic_filter=[0]
    )


def position(symbol: str, volume: Decimal, base: str = "BTC", position_id: int = 1) -> Position:
    return Position(
        symbol=symbol, side="buy", volume=volume, position_id=position_id, magic=0, contract_size=Decimal(1),
        base_currency=base, profit_currency="USD", volume_step=Decimal("0.001"), volume_min=Decimal("0.001"),
    )  # fmt: skip


def peak_rss_kb(pid: int) -> int | None:
    """VmHWM (the peak resident set) of a running process, from /proc (Linux only)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return None


def wait_connectable(port: int, deadline: Deadline, proc: subprocess.Popen[str] | None = None) -> float:
    """perf_counter() of the first TCP connect to 127.0.0.1:`port` that succeeds (polled every millisecond)."""
    while not deadline.expired:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return time.perf_counter()
        except OSError:
            if proc is not None and proc.poll() is not None:
                raise BenchFailure(f"the process exited (code {proc.returncode}) before it listened") from None
            time.sleep(0.001)
    raise BenchFailure(f"nothing listened on port {port} within {deadline.seconds:.0f} s")


class Sidecar:
    """`csmc run` in the background. Its stdout lines are timestamped by the thread that reads them, so the
    time a line arrived does not depend on when the benchmark gets round to looking."""

    def __init__(self, home: Path, token_file: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self._lines: queue.Queue[tuple[float, str | None]] = queue.Queue()
        self._stderr: list[str] = []
        self.spawned_at = time.perf_counter()
        self.proc = subprocess.Popen(
            run_command(self.port, PROFILE, token_file),
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

    def peak_rss_kb(self) -> int | None:
        return peak_rss_kb(self.proc.pid)

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


class EchoServer:
    """bench/echo.py in a process of its own, as the sidecar is."""

    def __init__(self) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.echo", str(self.port)], stdout=subprocess.PIPE, text=True
        )
        assert self.proc.stdout is not None
        if self.proc.stdout.readline().strip() != "ready":
            self.stop()
            raise BenchFailure("the echo server did not start")

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=STOP_TIMEOUT)
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def __enter__(self) -> EchoServer:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
