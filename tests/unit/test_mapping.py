"""Symbol mapping, volume conversion and rounding."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sidecar.mapping import MappedSymbol, SymbolMapper, SymbolOverride, UnknownSymbol, round_toward_zero, venue_quantity
from sidecar.model import Instrument
from tests.hypothesis_budget import examples

BTCUSDT = Instrument("BTCUSDT", "BTC", "USDT", Decimal("0.001"), Decimal("0.001"))
EURUSD = Instrument("EUR.USD", "EUR", "USD", Decimal(1), Decimal(1))
SPX = Instrument("IBUS500", "IBUS500", "USD", Decimal(1), Decimal(1))
LOTS = Instrument("XBTUSDTM", "XBT", "USDT", Decimal(1), Decimal(1), multiplier=Decimal("0.001"))


def mapper(**kwargs: object) -> SymbolMapper:
    instruments = {i.symbol: i for i in (BTCUSDT, EURUSD, SPX, LOTS)}
    return SymbolMapper(instruments, lambda base, quote: f"{base}{quote}", **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "root"),
    [
        ("EURUSD", "EURUSD"),
        ("EURUSD.m", "EURUSD"),
        ("EURUSDm", "EURUSD"),
        ("#BTCUSD", "BTCUSD"),
        ("US500.cash", "US500"),
    ],
)
def test_broker_decorations_are_stripped_from_the_root(name: str, root: str) -> None:
    assert mapper().root(name) == root


def test_configured_prefixes_and_suffixes_are_stripped_first() -> None:
    assert mapper(prefixes=("x_",), suffixes=("_PRO",)).root("x_GBPUSD_PRO") == "GBPUSD"


def test_the_profit_currency_is_replaced_by_the_quote_currency() -> None:
    mapped = mapper(mt_profit_currency="USD", quote_currency="USDT").map("BTCUSD.m", "BTC", "USD")
    assert mapped.instrument is BTCUSDT


def test_without_substitution_the_pair_must_exist_as_it_is() -> None:
    with pytest.raises(UnknownSymbol, match=r"BTCUSD \(BTC/USD\).*overrides"):
        mapper().map("BTCUSD", "BTC", "USD")


def test_an_override_by_root_wins_and_carries_its_multiplier() -> None:
    m = mapper(overrides={"US500": SymbolOverride("IBUS500", Decimal("0.5"))}, multiplier=Decimal(2))
    mapped = m.map("US500.cash", "USD", "USD")
    assert mapped.instrument is SPX and mapped.multiplier == Decimal(1)


def test_an_override_naming_an_unknown_venue_symbol_is_an_error() -> None:
    with pytest.raises(UnknownSymbol, match="does not list"):
        mapper(overrides={"US500": SymbolOverride("NOPE")}).map("US500", "USD", "USD")


def test_a_symbol_that_is_not_a_pair_needs_an_override() -> None:
    with pytest.raises(UnknownSymbol, match="not a currency pair"):
        mapper().map("US500.cash", "USD", "USD")


def test_volume_is_lots_times_contract_size_times_multiplier_in_venue_units() -> None:
    eur = MappedSymbol("EURUSD", EURUSD, Decimal(1))
    assert venue_quantity(Decimal("0.15"), Decimal(100000), eur) == Decimal(15000)
    lots = MappedSymbol("BTCUSD", LOTS, Decimal(2))
    assert venue_quantity(Decimal("0.5"), Decimal(1), lots) == Decimal(1000)


@pytest.mark.parametrize(
    ("qty", "step", "expected"),
    [("0.0157", "0.001", "0.015"), ("-0.0157", "0.001", "-0.015"), ("2.9999", "0.005", "2.995"), ("7", "5", "5")],
)
def test_rounding_goes_toward_zero(qty: str, step: str, expected: str) -> None:
    assert round_toward_zero(Decimal(qty), Decimal(step)) == Decimal(expected)


@settings(max_examples=examples(100))
@given(
    st.decimals(min_value=-(10**6), max_value=10**6, places=6),
    st.sampled_from([Decimal("0.001"), Decimal("0.01"), Decimal("0.5"), Decimal(1), Decimal(1000)]),
)
def test_rounded_quantities_are_on_the_step_never_larger_and_less_than_a_step_away(qty: Decimal, step: Decimal) -> None:
    rounded = round_toward_zero(qty, step)
    assert abs(rounded) <= abs(qty)
    assert rounded * qty >= 0
    assert abs(qty - rounded) < step
    assert rounded % step == 0
