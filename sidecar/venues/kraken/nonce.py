"""Kraken nonces: strictly increasing per API key, in this process, across processes and across restarts.

Kraken refuses a signed request whose nonce is not above the last one it accepted for the key
(`EAPI:Invalid nonce`, Futures `nonceBelowThreshold` / `nonceDuplicate`). The nonce is the wall clock in
units of 10 ns, as python-kraken-sdk makes it (so a key once used with the SDK's own tools stays in the
same range), but never below the last nonce handed out + 1:

- within the process a lock serialises the read-compare-write, so two threads never share a value;
- the last value is written to a file per key (named by a hash of the key, never the key) before the
  request that carries it is signed, under an exclusive file lock, so a second sidecar or `csmc check`
  with the same key, a restart within the same second, or a clock stepped backwards by NTP all continue
  above it.

What a file cannot fix: another program sending nonces from a larger range (e.g. nanoseconds) with the
same key. Kraken then refuses ours, and the adapter tells the user to give the copier its own key.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

#: The SDK's resolution: int(time.time() * 100_000_000).
UNITS_PER_SECOND = 100_000_000


def clock_nonce() -> int:
    return time.time_ns() // (1_000_000_000 // UNITS_PER_SECOND)


def nonce_file(directory: Path, api_key: str, endpoint: str) -> Path:
    """Where the last nonce of `api_key` is kept: a hash names the key, so the file name gives nothing away."""
    digest = hashlib.sha256(f"{endpoint}\0{api_key}".encode()).hexdigest()[:24]
    return directory / f"kraken-nonce-{endpoint}-{digest}.txt"


class NonceSource:
    def __init__(self, path: Path | None, clock: Callable[[], int] = clock_nonce) -> None:
        self.path = path
        self._clock = clock
        self._last = 0
        self._lock = threading.Lock()

    def next(self) -> int:
        with self._lock:
            value = max(self._clock(), self._last + 1)
            if self.path is not None:
                value = self._persist(value)
            self._last = value
            return value

    def __call__(self) -> str:
        return str(self.next())

    def _persist(self, wanted: int) -> int:
        assert self.path is not None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            with _exclusive(fd):
                stored = os.read(fd, 64).decode("ascii", "replace").strip()
                value = max(wanted, int(stored) + 1) if stored.isdigit() else wanted
                os.lseek(fd, 0, os.SEEK_SET)
                os.ftruncate(fd, 0)
                os.write(fd, f"{value}\n".encode("ascii"))
            return value
        finally:
            os.close(fd)


@contextlib.contextmanager
def _exclusive(fd: int) -> Iterator[None]:
    """An exclusive lock on the whole file, held by this process until the block ends."""
    if sys.platform == "win32":
        import msvcrt

        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_LOCK, 64)
        try:
            yield
        finally:
            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 64)
    else:
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
