"""The session token a sidecar accepts, and where it comes from.

The EA writes a fresh token into a file of its own and starts the sidecar with `--token-file`. When the EA
is reloaded (new timeframe, recompiled, inputs changed) while its sidecar keeps running, the new EA instance
writes a new token into the same file and connects to that sidecar. So a token that does not match makes
the sidecar read the file again: whoever can write the user's own file is the user.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Callable
from pathlib import Path


class SessionToken:
    """A fixed token: the bridge tests and embedders that hand over the token in memory."""

    def __init__(self, token: str) -> None:
        if not token:
            raise ValueError("the bridge needs a session token")
        self._token = token.encode()

    @property
    def value(self) -> str:
        """The current token, for the log redactor."""
        return self._token.decode()

    def matches(self, candidate: str) -> bool:
        return hmac.compare_digest(candidate.encode(), self._token)


class TokenFile(SessionToken):
    """The token in the EA's token file, read again when it changes."""

    def __init__(self, path: Path, on_change: Callable[[str], None] | None = None) -> None:
        self.path = path
        self._on_change = on_change
        self._stamp = self._stat()
        super().__init__(self._read())

    def matches(self, candidate: str) -> bool:
        if super().matches(candidate):
            return True
        stamp = self._stat()
        if stamp == self._stamp:
            return False
        self._stamp = stamp
        try:
            token = self._read()
        except (OSError, ValueError):
            return False  # being rewritten, or removed: the old token stays valid
        self._token = token.encode()
        if self._on_change is not None:
            self._on_change(token)
        return super().matches(candidate)

    def _read(self) -> str:
        token = self.path.read_text(encoding="utf-8").strip()
        if not token:
            raise ValueError(f"the token file {self.path} is empty")
        return token

    def _stat(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size
