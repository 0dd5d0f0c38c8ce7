"""Writing the small TOML files the sidecar creates (profiles, the secrets file): keys and plain values.

The standard library reads TOML (tomllib) but does not write it; these files hold only strings, numbers,
booleans and lists of them, whose TOML spelling is short enough to write here rather than add a dependency.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")

TomlValue = str | bool | int | float | Decimal | Path | list[str]


def key(name: str) -> str:
    return name if _BARE_KEY.fullmatch(name) else string(name)


def string(text: str) -> str:
    # A JSON string is a TOML basic string, except that TOML also wants DEL escaped.
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def value(item: TomlValue) -> str:
    if isinstance(item, bool):
        return "true" if item else "false"
    if isinstance(item, int | Decimal):
        return str(item)
    if isinstance(item, float):
        return repr(item)
    if isinstance(item, Path):
        return string(item.as_posix())
    if isinstance(item, list):
        return "[" + ", ".join(string(x) for x in item) + "]"
    return string(item)


def assignment(name: str, item: TomlValue) -> str:
    return f"{key(name)} = {value(item)}"
