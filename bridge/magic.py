"""The EA's magic-number filter: which MT5 trades are copied. Trades made by hand have magic 0."""

from __future__ import annotations

from collections.abc import Iterable


class MagicFilterError(ValueError):
    pass


def parse_magic_filter(text: str) -> frozenset[int]:
    """Parse the EA input "source EA magic IDs": comma separated; empty means trades made by hand only."""
    magics: set[int] = set()
    for raw in text.split(","):
        item = raw.strip()
        if not item:
            if raw and text.strip():
                raise MagicFilterError(f"empty entry in magic filter {text!r}: remove the extra comma")
            continue
        if not item.isdigit():
            raise MagicFilterError(
                f"magic filter entry {item!r} is not a whole number >= 0; use e.g. 0,12345 (0 = trades by hand)"
            )
        magics.add(int(item))
    return frozenset(magics) if magics else frozenset({0})


def passes(magic: int, magic_filter: Iterable[int]) -> bool:
    allowed = frozenset(magic_filter)
    return magic in (allowed or {0})
