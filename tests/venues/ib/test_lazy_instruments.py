"""Instruments that the venue resolves on demand: the mapper names the venue symbols an MT5 table needs, the
engine has IB look them up before it maps the table, and the mapping sees them without a restart."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

from bridge.messages import Position
from sidecar.engine import Alert, CopyMode, SyncEngine
from sidecar.errors import VenueUnavailable
from sidecar.journal import Journal
from sidecar.mapping import SymbolMapper, SymbolOverride
from sidecar.model import LegKey, MarginMode
from sidecar.venues.ib import IBVenue
from tests.fakes.tws import FakeTws


def position(symbol: str, base: str, profit: str, lots: str = "0.10", contract: int = 100_000) -> Position:
    return Position(
        symbol=symbol, side="buy", volume=Decimal(lots), position_id=1, magic=0, contract_size=Decimal(contract),
        base_currency=base, profit_currency=profit, volume_step=Decimal("0.01"), volume_min=Decimal("0.01"),
    )  # fmt: skip


async def engine_for(venue: IBVenue, tmp_path: Path, alerts: list[Alert]) -> SyncEngine:
    mapper = SymbolMapper(
        await venue.instruments(),
        venue.venue_symbol,
        overrides={"US500": SymbolOverride("IBUS500.USD")},
        suffixes=(".m",),
    )
    return SyncEngine(
        venue, Journal(tmp_path / "journal.sqlite3"), mapper, mode=CopyMode.MIRROR, on_alert=alerts.append
    )


def test_the_mapper_names_the_symbol_it_would_look_up() -> None:
    mapper = SymbolMapper({}, lambda b, q: f"{b}.{q}", overrides={"US500": SymbolOverride("IBUS500.USD")})

    assert mapper.venue_symbol_for("EURUSD.m", "EUR", "USD") == "EUR.USD"
    assert mapper.venue_symbol_for("US500.cash", "", "USD") == "IBUS500.USD"
    assert mapper.venue_symbol_for("XAUXAU", "XAU", "XAU") is None


async def test_a_table_is_mapped_once_its_contracts_are_resolved(
    tws: FakeTws, make_venue: Callable[..., IBVenue], tmp_path: Path
) -> None:
    venue = make_venue(security_type="CFD")
    await venue.connect()
    alerts: list[Alert] = []
    engine = await engine_for(venue, tmp_path, alerts)
    await engine.start("sid-1", "7001@Demo/ib/test", MarginMode.NETTING)
    table = [
        position("EURUSD.m", "EUR", "USD"),
        position("US500", "", "USD", "2", contract=1),
        position("EURXYZ", "EUR", "XYZ"),
    ]

    await engine.prepare(table)
    assert engine.accept_snapshot("sid-1", 1, table)

    assert engine.targets is not None
    assert engine.targets.quantities == {LegKey("EUR.USD"): 10000, LegKey("IBUS500.USD"): 2}
    assert set(engine.targets.unmapped) == {"EURXYZ"}
    assert [a.code for a in alerts] == ["unmapped"]
    await engine.prepare(table)  # known now: nothing is looked up again
    assert len(tws.received(9)) == 3
    await venue.close()
    engine.journal.close()


async def test_prepare_fails_when_the_venue_cannot_answer(
    tws: FakeTws, make_venue: Callable[..., IBVenue], tmp_path: Path
) -> None:
    venue = make_venue()
    alerts: list[Alert] = []
    engine = await engine_for(venue, tmp_path, alerts)

    with pytest.raises(VenueUnavailable, match="not connected"):
        await engine.prepare([position("GBPUSD", "GBP", "USD")])
    engine.journal.close()
