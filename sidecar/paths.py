"""Where the sidecar keeps its files, resolved in one place.

Per-user platform directories by default; CSMC_HOME puts everything under one folder instead (portable
installs, tests).
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP = "CSMultiConnector"


def _home() -> Path | None:
    value = os.environ.get("CSMC_HOME")
    return Path(value) if value else None


def config_dir() -> Path:
    home = _home()
    return home / "config" if home else Path(platformdirs.user_config_dir(APP, appauthor=False))


def data_dir() -> Path:
    home = _home()
    return home / "data" if home else Path(platformdirs.user_data_dir(APP, appauthor=False))


def log_dir() -> Path:
    home = _home()
    return home / "logs" if home else Path(platformdirs.user_log_dir(APP, appauthor=False))


def private_dir(path: Path) -> Path:
    """Create a folder for the sidecar's own files, open to its owner only; an existing one is left as it is."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def private_file(path: Path) -> Path:
    """Make sure `path` exists and only its owner can read or write it, before anything is written to it.

    The journal, the logs and the secrets name the account, its positions and its orders. A file an older
    version created readable by others is tightened too.
    """
    private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)  # O_CREAT's mode does not tighten a file that already existed
    return path


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read (profiles, token files), private from the first byte."""
    private_file(path)
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)


def profile_path(profile: str) -> Path:
    return config_dir() / "profiles" / f"{profile}.toml"


def journal_path(profile: str) -> Path:
    return data_dir() / f"journal-{profile}.sqlite3"
