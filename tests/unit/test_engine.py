"""The sync engine's rules one at a time, against the in-process Paper venue."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import pytest

from sidecar.engine import CopyMode, client_id
from sidecar.model import Instrument, Leg, LegKey, MarginMode, PositionMode, VenuePosition
from sidecar.venues.paper import Fault, PaperVenue
from tests.unit.conftest import BTC, Rig, position


async def test_an_order_still_working_blocks_its_leg_even_across_a_restart(rig: Rig) -> None:
    await rig.start()
    rig.venue.inject(Fault.ACCEPT_OPEN)
    await rig.snapshot(position("BTCUSD", "buy", "0.5"))
    await rig.snapshot(position("BTCUSD", "buy", "0.7"))
    await rig.start()  # the sidecar restarts while the order still works at the venue
    await rig.snapshot(position("BTCUSD", "buy", "0.7"))
    assert rig.venue.submits == 1, "nothing may be sent while an earlier order may still fill"

    rig.venue.fill_open()
    assert rig.engine is not None
    await rig.engine.sync("periodic")

    assert rig.venue.holdings[BTC] == Decimal("0.7")
    assert [e.qty_after for e in rig.venue.executions] == [Decimal("0.5"), Decimal("0.7")]


class GatedReadPaper(PaperVenue):
    """A venue whose position read is answered late, from the state it had when the read was made."""

    def __init__(self) -> None:
        super().__init__()
        self.gate: asyncio.Event | None = None

    async def positions(self) -> list[VenuePosition]:
        taken = await super().positions()
        if self.gate is not None:
            await self.gate.wait()
        return taken


async def test_a_position_read_that_raced_a_fill_is_discarded(tmp_path: Path) -> None:
    venue = GatedReadPaper()
    await venue.connect()
    rig = Rig(venue, tmp_path / "journal.sqlite3")
    engine = await rig.start()
    await rig.snapshot()
    venue.gate = asyncio.Event()
    sync = asyncio.create_task(engine.sync("periodic"))  # reads "flat", answer held back
    await asyncio.sleep(0)
    await rig.snapshot(position("BTCUSD", "buy", "0.5"))  # meanwhile an order fills
    venue.gate.set()
    await sync
    await engine.reconcile()
    engine.journal.close()

    assert venue.holdings[BTC] == Decimal("0.5")
    assert len(venue.executions) == 1


async def test_a_spot_venue_holds_a_short_target_at_zero_and_warns_once(rig: Rig) -> None:
    rig.venue.mode = PositionMode.SPOT
    rig.venue.set_position(BTC, Decimal("0.3"))
    await rig.start()
    await rig.snapshot(position("BTCUSD", "sell", "0.5"))
    await rig.snapshot(position("BTCUSD", "sell", "0.6"))

    assert rig.venue.holdings[BTC] == 0
    warnings = [a for a in rig.alerts if a.code == "spot_short"]
    assert len(warnings) == 1 and "held at zero" in warnings[0].text


@pytest.mark.parametrize(
    ("venue_mode", "margin", "words"),
    [(PositionMode.HEDGE, MarginMode.NETTING, "one-way")],
)
async def test_a_position_mode_mismatch_refuses_to_trade(
    rig: Rig, venue_mode: PositionMode, margin: MarginMode, words: str
) -> None:
    rig.venue.mode = venue_mode
    engine = await rig.start(margin)
    applied = await rig.snapshot(position("BTCUSD", "buy", "0.5"))

    assert engine.refused is not None and words in engine.refused
    assert not engine.ready and rig.venue.submits == 0
    assert applied is False
    assert any(a.critical and a.code == "refused" for a in rig.alerts)


async def test_a_hedging_account_is_refused_by_a_venue_that_cannot_net_it(rig: Rig) -> None:
    rig.venue.nets_hedging_accounts = False
    engine = await rig.start(MarginMode.HEDGING)
    assert engine.refused is not None and "hedging account" in engine.refused


async def test_an_unmapped_symbol_is_reported_once_and_the_others_are_copied(rig: Rig) -> None:
    await rig.start()
    index = position("US500.cash", "buy", "1", contract="1", base="USD", profit="USD")
    await rig.snapshot(index, position("BTCUSD", "buy", "0.1"))
    await rig.snapshot(index, position("BTCUSD", "buy", "0.2"))

    assert rig.venue.holdings[BTC] == Decimal("0.2")
    unmapped = [a for a in rig.alerts if a.code == "unmapped"]
    assert len(unmapped) == 1 and "US500.cash" in unmapped[0].text and "overrides" in unmapped[0].text


async def test_a_rejected_order_is_not_retried_until_the_target_changes_or_a_periodic_sync(rig: Rig) -> None:
    engine = await rig.start()
    rig.venue.inject(Fault.REJECT)
    await rig.snapshot(position("BTCUSD", "buy", "0.5"))
    await engine.reconcile()
    await engine.sync("after error")
    assert rig.venue.submits == 1
    assert any(a.code == "rejected" for a in rig.alerts)

    await engine.sync("periodic")
    assert rig.venue.submits == 2 and rig.venue.holdings[BTC] == Decimal("0.5")


async def test_nothing_is_sent_while_the_venue_position_was_never_read(rig: Rig) -> None:
    rig.venue.failing_reads = 1
    engine = await rig.start()
    await rig.snapshot(position("BTCUSD", "buy", "0.5"))
    assert rig.venue.submits == 0 and not engine.ready

    await engine.sync("after error")
    assert rig.venue.holdings[BTC] == Decimal("0.5")


async def test_a_residual_below_the_minimum_size_is_reported_not_sent(tmp_path: Path) -> None:
    venue = PaperVenue(instruments=(Instrument("EURUSD", "EUR", "USD", Decimal(1), Decimal(1000)),))
    await venue.connect()
    rig = Rig(venue, tmp_path / "journal.sqlite3")
    engine = await rig.start()
    await rig.snapshot(position("EURUSD", "buy", "0.005", contract="100000", base="EUR"))
    engine.journal.close()

    assert venue.submits == 0
    [leg] = engine.status()
    assert leg.mismatch == Decimal(500) and "below the minimum size" in leg.note


async def test_an_unavailable_venue_is_retried_with_back_off_until_in_sync(rig: Rig) -> None:
    await rig.start(auto_retry=True, retry_base=0.01, retry_max=0.05)
    rig.venue.inject(Fault.UNAVAILABLE, Fault.UNAVAILABLE)
    await rig.snapshot(position("BTCUSD", "buy", "0.5"))
    for _ in range(200):
        if rig.venue.holdings.get(BTC) == Decimal("0.5"):
            break
        await asyncio.sleep(0.01)
    assert rig.venue.holdings[BTC] == Decimal("0.5") and rig.venue.submits == 3


async def test_follow_mode_keeps_what_the_venue_held_at_start(rig: Rig) -> None:
    rig.mode = CopyMode.FOLLOW
    rig.venue.set_position(BTC, Decimal("2"))
    await rig.start()
    await rig.snapshot()
    await rig.snapshot(position("BTCUSD", "buy", "0.5"))
    assert rig.venue.holdings[BTC] == Decimal("2.5")
    await rig.start()  # a restart reuses the recorded offset instead of taking a new one
    await rig.snapshot()
    assert rig.venue.holdings[BTC] == Decimal("2")


async def test_hedge_mode_keeps_long_and_short_legs(rig: Rig) -> None:
    rig.venue.mode = PositionMode.HEDGE
    await rig.start(MarginMode.HEDGING)
    await rig.snapshot(position("BTCUSD", "buy", "0.5"), position("BTCUSD", "sell", "0.2"))
    assert rig.venue.holdings[LegKey("BTCUSD", Leg.LONG)] == Decimal("0.5")
    assert rig.venue.holdings[LegKey("BTCUSD", Leg.SHORT)] == Decimal("0.2")


def test_client_ids_are_deterministic_short_and_distinct() -> None:
    ids = {client_id(s, k, n) for s in ("a", "b") for k in (BTC, LegKey("BTCUSD", Leg.LONG)) for n in (1, 2, 36**5)}
    assert len(ids) == 12
    assert client_id("a", BTC, 7) == client_id("a", BTC, 7)
    assert all(len(i) <= 18 and i.isalnum() and i == i.lower() for i in ids)
