"""Running `csmc` as a user does, for end-to-end tests: one-shot commands and a `csmc run` in the background."""

from __future__ import annotations

import os
import queue
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from sidecar.demo import free_port, run_command

START_TIMEOUT = 15.0


def csmc(home: Path, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sidecar", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=dict(os.environ, CSMC_HOME=str(home)),
        check=False,
    )


def assert_one_paragraph(stderr: str) -> None:
    text = stderr.strip()
    assert text.startswith("csmc: ")
    assert "\n" not in text
    assert "Traceback" not in stderr


def token_file(home: Path, name: str) -> Path:
    path = home / f"{name}.token"
    path.write_text(secrets.token_urlsafe(24), encoding="utf-8")
    path.chmod(0o600)
    return path


class RunningSidecar:
    """`csmc run` in the background; its stdout lines arrive on a queue so a wait can have a deadline."""

    def __init__(self, home: Path, profile: str, port: int, token: Path, connector: str | None = None) -> None:
        self.port = port
        self.token = token.read_text(encoding="utf-8").strip()
        self.proc = subprocess.Popen(
            run_command(port, profile, token, connector),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=dict(os.environ, CSMC_HOME=str(home)),
        )
        self.stdout: queue.Queue[str | None] = queue.Queue()
        self.stderr: list[str | None] = []
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self._readers = [
            threading.Thread(target=self._pump, args=(self.proc.stdout, self.stdout.put), daemon=True),
            threading.Thread(target=self._pump, args=(self.proc.stderr, self.stderr.append), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _pump(stream: IO[str], put: Callable[[str | None], None]) -> None:
        for line in stream:
            put(line)
        put(None)

    def wait_listening(self, timeout: float = START_TIMEOUT) -> str:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("csmc run did not print its 'listening' line in time")
            try:
                line = self.stdout.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                raise RuntimeError(f"csmc run ended before listening (exit {self.proc.wait()})")
            if "csmc: listening on" in line:
                return line

    def output(self) -> str:
        for reader in self._readers:
            reader.join(timeout=5)
        return "".join(line for line in self.stderr if line)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@contextmanager
def running(
    home: Path, profile: str, port: int | None = None, connector: str | None = None
) -> Iterator[RunningSidecar]:
    sidecar = RunningSidecar(home, profile, port or free_port(), token_file(home, profile), connector)
    try:
        yield sidecar
    finally:
        sidecar.stop()
