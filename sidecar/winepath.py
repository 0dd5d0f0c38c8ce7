"""Windows paths handed over by an EA running under Wine, mapped to the Unix files they name.

Under Wine the EA starts the sidecar as a native Linux or macOS program, but it still speaks in Windows
paths (`C:\\users\\me\\AppData\\Roaming\\MetaQuotes\\...\\sidecar-5555.token`). Wine keeps one symbolic link
per drive letter in `<prefix>/dosdevices/` (`c:` → `../drive_c`, `z:` → `/`), so a path is mapped the way
`winepath -u` maps it: drive letter through its link, then the rest; a component whose case differs from
the file on disk is matched without regard to case, as Wine's file system does.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

_DRIVE_PATH = re.compile(r"^(?:\\\\\?\\|\\\?\?\\)?([A-Za-z]):[\\/](.*)$", re.DOTALL)


class WinePathError(ValueError):
    """A Windows path that cannot be mapped into the Wine prefix."""


def is_windows_path(text: str) -> bool:
    """`C:\\…` (also `\\\\?\\C:\\…`): a path only Wine can resolve on a Unix system."""
    return sys.platform != "win32" and _DRIVE_PATH.match(text) is not None


def wine_prefix() -> Path:
    """The prefix whose drives the EA's paths refer to.

    The launcher that the Linux and macOS installers put in a prefix sets CSMC_WINEPREFIX to that prefix;
    otherwise Wine's own WINEPREFIX, and Wine's default ~/.wine.
    """
    for name in ("CSMC_WINEPREFIX", "WINEPREFIX"):
        value = os.environ.get(name)
        if value:
            return Path(value).expanduser()
    return Path.home() / ".wine"


def to_unix(text: str, prefix: Path | None = None) -> Path:
    match = _DRIVE_PATH.match(text)
    if match is None:
        raise WinePathError(f"{text} is not a Windows path with a drive letter")
    prefix = prefix if prefix is not None else wine_prefix()
    drive = match.group(1).lower()
    link = prefix / "dosdevices" / f"{drive}:"
    if link.exists():
        root = link.resolve()
    elif drive == "c" and (prefix / "drive_c").is_dir():
        root = prefix / "drive_c"  # a prefix Wine has not finished setting up yet
    else:
        raise WinePathError(
            f"drive {drive.upper()}: of {text} is not a drive of the Wine prefix {prefix} "
            f"(no {link}); set WINEPREFIX to the prefix MetaTrader 5 runs in"
        )
    parts = [p for p in re.split(r"[\\/]+", match.group(2)) if p and p != "."]
    if ".." in parts:
        raise WinePathError(f"{text} climbs out of its folder with '..'")
    return _match_case(root, parts)


def _match_case(root: Path, parts: list[str]) -> Path:
    path = root
    for index, part in enumerate(parts):
        exact = path / part
        if exact.exists() or not path.is_dir():
            path = exact
            continue
        folded = part.casefold()
        same = [entry for entry in path.iterdir() if entry.name.casefold() == folded]
        if not same:
            # Missing: the caller reports it with the Unix path, which says where it was looked for.
            return path.joinpath(*parts[index:])
        path = same[0]
    return path
