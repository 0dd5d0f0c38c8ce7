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


def profile_path(profile: str) -> Path:
    return config_dir() / "profiles" / f"{profile}.toml"


def journal_path(profile: str) -> Path:
    return data_dir() / f"journal-{profile}.sqlite3"
