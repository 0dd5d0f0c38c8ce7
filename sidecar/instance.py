"""One `csmc run` per profile: a lock file that the operating system releases when its process ends.

Two sidecars on one profile would share one journal and one log, and in mirror mode each would undo the
other's orders on the same account. The lock is an OS file lock (flock on POSIX, a locked byte range on
Windows), so a sidecar that is killed, even with SIGKILL, never leaves a stale lock behind. The file also
says who holds it (pid, port, the EA's account) so that a second sidecar can name the first.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from sidecar import paths
from sidecar.errors import ConfigError

# Windows locks byte ranges and refuses reads of a locked range: the owner record lives before this offset.
_LOCKED_BYTE = 1 << 20


@dataclass(frozen=True)
class Owner:
    profile: str
    pid: int
    port: int
    started_at: float
    account: str = ""
    """The account of the EA the sidecar serves ("login on server"), once an EA has said hello."""

    def describe(self, name_profile: bool = False) -> str:
        started = datetime.fromtimestamp(self.started_at).strftime("%Y-%m-%d %H:%M:%S")  # noqa: DTZ006 - local
        text = f"the sidecar {f'of profile {self.profile!r} ' if name_profile else ''}on 127.0.0.1:{self.port} "
        text += f"(pid {self.pid}, started {started})"
        return text + (f", which serves the EA of account {self.account}" if self.account else ", before any EA")


class ProfileInUse(ConfigError):
    def __init__(self, owner: Owner | None, profile: str) -> None:
        who = owner.describe() if owner is not None else "another sidecar (it has not written its details yet)"
        super().__init__(
            f"Profile '{profile}' is already used by {who}. One sidecar per profile: two would share one journal "
            f"and undo each other's orders. Give this chart's EA another profile ('Sidecar profile name'), or "
            f"remove the EA from the other chart: its sidecar exits by itself once no EA has been connected for "
            f"[bridge] orphan_exit_s (120 s by default)."
        )
        self.owner = owner


def lock_path(profile: str) -> Path:
    return paths.data_dir() / f"run-{profile}.lock"


class ProfileLock:
    """Held from `acquire` until `release` or the end of the process."""

    def __init__(self, profile: str, path: Path | None = None) -> None:
        self.profile = profile
        self.path = path or lock_path(profile)
        self._fd: int | None = None
        self._owner: Owner | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self, port: int) -> None:
        paths.private_file(self.path)
        fd = os.open(self.path, os.O_RDWR)
        if not _try_lock(fd):
            os.close(fd)
            raise ProfileInUse(read_owner(self.path), self.profile)
        self._fd = fd
        self._write(Owner(self.profile, os.getpid(), port, time.time()))

    def record_account(self, account: str) -> None:
        """The EA's account, for the message a second sidecar on this profile shows."""
        if self._owner is not None and self._owner.account != account:
            self._write(Owner(**{**asdict(self._owner), "account": account}))

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the OS lock
            self._fd = None

    def is_free(self) -> bool:
        """Whether nobody holds the lock now (probed without keeping it)."""
        paths.private_file(self.path)
        fd = os.open(self.path, os.O_RDWR)
        try:
            return _try_lock(fd)
        finally:
            os.close(fd)

    def _write(self, owner: Owner) -> None:
        assert self._fd is not None
        data = json.dumps(asdict(owner)).encode()
        # One write of the whole record after the truncation: a reader retries a torn read.
        os.ftruncate(self._fd, 0)
        os.lseek(self._fd, 0, os.SEEK_SET)
        os.write(self._fd, data)
        self._owner = owner


def sidecars_on_port(port: int) -> list[Owner]:
    """The running sidecars that say they serve `port` (normally none or one)."""
    found = []
    for path in sorted(paths.data_dir().glob("run-*.lock")):
        owner = read_owner(path, attempts=1)
        if owner is not None and owner.port == port and not ProfileLock(owner.profile, path).is_free():
            found.append(owner)
    return found


def read_owner(path: Path, attempts: int = 5) -> Owner | None:
    for _ in range(attempts):
        try:
            with open(path, "rb") as f:
                raw = f.read(_LOCKED_BYTE)
            return Owner(**json.loads(raw))
        except (OSError, ValueError, TypeError):
            time.sleep(0.05)  # the owner is between truncating and writing its record
    return None


if sys.platform == "win32":
    import msvcrt

    def _try_lock(fd: int) -> bool:
        os.lseek(fd, _LOCKED_BYTE, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True
