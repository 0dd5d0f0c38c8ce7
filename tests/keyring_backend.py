"""An OS keyring stand-in for the tests: a keyring backend whose store is a file, shared by every process.

This machine has no OS keyring (no Secret Service, Keychain or Credential Manager), so the tests select
this backend the way a user selects any keyring backend, by name:
`PYTHON_KEYRING_BACKEND=tests.keyring_backend.FileKeyring`, with its store in `CSMC_TEST_KEYRING`.
It answers like the real backends: `None` for an unknown entry, `PasswordDeleteError` when deleting one,
and `KeyringLocked` while `CSMC_TEST_KEYRING_LOCKED` is set (a locked login keyring).

The store is TOML so that the suite's secret scan treats it like the test profiles, which hold secrets on
purpose.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from jaraco.classes import properties
from keyring.backend import KeyringBackend
from keyring.errors import KeyringLocked, PasswordDeleteError

from sidecar import tomlwriter
from sidecar.paths import write_private

STORE_VARIABLE = "CSMC_TEST_KEYRING"
LOCKED_VARIABLE = "CSMC_TEST_KEYRING_LOCKED"
BACKEND = "tests.keyring_backend.FileKeyring"


def _store() -> Path:
    value = os.environ.get(STORE_VARIABLE)
    if not value:
        raise RuntimeError(f"{STORE_VARIABLE} names no file")
    return Path(value)


def read_store(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    return {k: v for k, v in tomllib.loads(path.read_text(encoding="utf-8")).items() if isinstance(v, str)}


class FileKeyring(KeyringBackend):
    @properties.classproperty
    def priority(cls) -> float:
        _store()  # not viable unless a test named a store: keyring's own discovery must not pick it up
        return 1

    def _check_unlocked(self) -> None:
        if os.environ.get(LOCKED_VARIABLE):
            raise KeyringLocked("the test keyring is locked")

    def get_password(self, service: str, username: str) -> str | None:
        self._check_unlocked()
        return read_store(_store()).get(f"{service}/{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        self._check_unlocked()
        entries = read_store(_store())
        entries[f"{service}/{username}"] = password
        write_private(_store(), "".join(tomlwriter.assignment(k, v) + "\n" for k, v in sorted(entries.items())))

    def delete_password(self, service: str, username: str) -> None:
        self._check_unlocked()
        entries = read_store(_store())
        if entries.pop(f"{service}/{username}", None) is None:
            raise PasswordDeleteError("no such entry")
        write_private(_store(), "".join(tomlwriter.assignment(k, v) + "\n" for k, v in sorted(entries.items())))
