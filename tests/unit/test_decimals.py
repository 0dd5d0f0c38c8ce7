"""Quantities go to the venues as the shortest plain decimal; the venues' numbers are read without surprises."""

from __future__ import annotations

from decimal import Decimal

import pytest

from sidecar.decimals import dec, plain, rule


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("0.00100000"), "0.001"),
        (Decimal("1E+2"), "100"),  # normalize() alone would print an exponent some venues refuse
        (Decimal("100.000"), "100"),
        (Decimal("-0.000"), "0"),
        (Decimal("0E-8"), "0"),
        (Decimal("-2.50"), "-2.5"),
        (Decimal("123456789.123456789"), "123456789.123456789"),
    ],
)
def test_a_quantity_is_written_without_exponent_or_padding(value: Decimal, text: str) -> None:
    assert plain(value) == text


@pytest.mark.parametrize(
    ("raw", "read"),
    [("0.00001000", Decimal("0.00001")), (5, Decimal(5)), (Decimal("1.5"), Decimal("1.5")), ("1e-3", Decimal("0.001"))],
)
def test_a_venue_number_reads_as_written(raw: object, read: Decimal) -> None:
    assert dec(raw) == read
    assert str(rule(raw)) == plain(read)


@pytest.mark.parametrize("raw", [None, True, False, "", "n/a", object()])
def test_what_is_not_a_number_reads_as_unset(raw: object) -> None:
    assert dec(raw) == 0
