"""Reading the venues' numbers and writing quantities back.

Venues send numbers as padded strings ("0.00100000") or JSON numbers, and count the decimals of what they
receive; a quantity must go out as the shortest plain decimal ("0.001", "100"), never with an exponent.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

ZERO = Decimal(0)


def dec(value: object) -> Decimal:
    """A venue's number (string, or JSON number read as Decimal) as a Decimal; anything unreadable, including a
    missing value or a boolean, counts as zero, which the rules read as "not set"."""
    if value is None or isinstance(value, bool):
        return ZERO
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return ZERO


def plain(value: Decimal) -> str:
    """0.00100000 → "0.001", 1E+2 → "100", -0 → "0": no exponent, no trailing zeros."""
    return f"{value.normalize():f}" if value else "0"


def rule(value: object) -> Decimal:
    """A rule value without the venue's padding zeros ("0.00001000" → 0.00001), so it prints as written."""
    return Decimal(plain(dec(value)))
