"""Engine paths `make mutation` found unguarded: what an alert is as a log record (the EA hears alerts through
the log), a pass that must not send twice, fees, the follow-up of a working order, retry bookkeeping."""

from __future__ import annotations

import asyncio
import logging
import time
from decimal import Decimal
from pathlib import Path

import pytest

from sidecar.engine import AlertLevel
from sidecar.errors import VenueUnavailable
from sidecar.model import OrderRequest, OrderResult, OrderState
from sidecar.venues.paper import Fault, PaperVenue
from tests.unit.conftest import BTC, Rig, position
from tests.unit.test_engine_money import AbsentButFilledPaper

D = Decimal


def alert_records(caplog: pytest.LogCaptureFixture) -> list[tuple[int, str, str, bool]]:
    return [
        (r.levelno, r.getMessage(), r.__dict__["code"], r.__dict__["critical"])
        for r in caplog.records
        if r.name == "csmc.engine" and "code" in r.__dict__
    ]


@pytest.mark.parametrize(
    ("fault", "level", "code"),
    [(Fault.REJECT, logging.ERROR, "rejected"), (Fault.UNAVAILABLE, logging.WARNING, "unavailable")],
)
async def test_an_alert_is_a_log_record_with_its_level_code_and_criticality(
    rig: Rig, caplog: pytest.LogCaptureFixture, fault: Fault, level: int, code: str
) -> None:
    await rig.start()
    caplog.set_level(logging.DEBUG, logger="csmc.engine")
    rig.venue.inject(fault)
    await rig.snapshot(position("BTCUSD", "buy", "0.5"))
    [alert] = rig.alerts
    assert alert_records(caplog) == [(level, alert.text, code, False)]


async def test_an_info_alert_is_logged_at_info(rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    from sidecar.engine import CopyMode

    rig.mode = CopyMode.FOLLOW
    rig.venue.set_position(BTC, D(1))
    caplog.set_level(logging.DEBUG, logger="csmc.engine")
    await rig.start()
    await rig.snapshot()
    [told] = rig.alerts
    assert told.level is AlertLevel.INFO
    assert alert_records(caplog) == [(logging.INFO, told.text, "offsets", False)]


@pytest.mark.parametrize("fault", [Fault.REJECT, Fault.EXPIRE])
async def test_a_periodic_pass_sends_a_refused_order_once_not_again_in_the_same_pass(rig: Rig, fault: Fault) -> None:
    rig.venue.set_position(BTC, D("0.2"))
    engine = await rig.start()
    await rig.snapshot(position("BTCUSD", "buy", "0.2"))
    assert rig.venue.submits == 0
    rig.venue.set_position(BTC, D(0))  # traded away behind the copier's back
    rig.venue.inject(fault, fault)
    await engine.sync("periodic")
    assert rig.venue.submits == 1


async def test_an_order_still_working_is_not_looked_up_again_in_the_same_pass(rig: Rig) -> None:
    await rig.start()
    rig.venue.inject(Fault.ACCEPT_OPEN)
    await rig.snapshot(position("BTCUSD", "buy", "0.5"))
    assert rig.venue.requests["lookup"] == 0 and rig.venue.submits == 1


class PartlyFilledPaper(PaperVenue):
    async def submit(self, order: OrderRequest) -> OrderResult:
        self.submitted.append(order)
        self.submits += 1
        return OrderResult(order.client_id, OrderState.OPEN, D("0.2"), D(90001))


async def test_a_partly_filled_working_order_is_recorded_with_what_has_filled(tmp_path: Path) -> None:
    venue = PartlyFilledPaper()
    await venue.connect()
    rig = Rig(venue, tmp_path / "journal.sqlite3")
    engine = await rig.start()
    await rig.snapshot(position("BTCUSD", "buy", "0.5"))
    await engine.journal.flush()
    [record] = engine.journal.recent_orders()
    engine.journal.close()
    rig.engine = None
    assert (record.state, record.filled_qty, record.avg_price) == (OrderState.OPEN, D("0.2"), D(90001))


async def test_fees_and_the_target_are_recorded_with_the_fill(rig: Rig) -> None:
    rig.venue.fee_rate = D("0.001")
    engine = await rig.start()
    await rig.snapshot(position("BTCUSD", "buy", "0.5"))
    await engine.journal.flush()
    [record] = engine.journal.recent_orders()
    assert (record.fee, record.fee_asset, record.target) == (D("45.0000"), "USD", D("0.5"))


async def test_a_fill_brings_its_own_price_and_time(rig: Rig) -> None:
    engine = await rig.start()
    before = time.time()
    await rig.snapshot(position("BTCUSD", "buy", "0.5"))
    price, _ = engine._prices["BTCUSD"]
    fill = engine.books[BTC].last_fill
    assert price == D(90000) and fill is not None and before <= fill.at <= time.time()


async def test_an_order_proven_absent_that_had_filled_is_recorded_absent_and_not_resent(tmp_path: Path) -> None:
    venue = AbsentButFilledPaper()
    await venue.connect()
    rig = Rig(venue, tmp_path / "journal.sqlite3")
    engine = await rig.start()
    venue.inject(Fault.UNKNOWN_ACCEPTED)
    await rig.snapshot(position("BTCUSD", "buy", "0.05"))
    await engine.journal.flush()
    [record] = engine.journal.recent_orders()
    engine.journal.close()
    rig.engine = None
    assert (record.state, record.detail) == (OrderState.ABSENT, "venue reports no such order")


async def test_an_unknown_outcome_that_cannot_be_resolved_stays_unknown_in_the_journal(rig: Rig) -> None:
    engine = await rig.start()
    rig.venue.inject(Fault.UNKNOWN_ACCEPTED)
    rig.venue.failing_lookups = 5
    await rig.snapshot(position("BTCUSD", "buy", "0.5"))
    await engine.journal.flush()
    [record] = engine.journal.recent_orders()
    assert record.state is OrderState.UNKNOWN and "answer for order" in record.detail and "lost" in record.detail
    assert [o.request.client_id for o in engine.journal.unresolved_orders()] == [record.request.client_id]


async def test_a_refused_key_waits_for_the_user_even_through_a_sync_after_an_error(rig: Rig) -> None:
    from tests.unit.test_engine_outcomes import AuthFailingPaper

    venue = AuthFailingPaper()
    await venue.connect()
    rig.venue = venue
    engine = await rig.start()
    await rig.snapshot(position("BTCUSD", "buy", "0.5"))
    await engine.sync("after error")
    assert venue.submits == 1


class SlowDownPaper(PaperVenue):
    def __init__(self) -> None:
        super().__init__()
        self.refusals = 1

    async def submit(self, order: OrderRequest) -> OrderResult:
        if self.refusals:
            self.refusals -= 1
            self.submits += 1
            raise VenueUnavailable("Paper: slow down", retry_after=0.4)
        return await super().submit(order)


async def test_a_venue_that_asks_to_wait_is_not_asked_again_before_then(tmp_path: Path) -> None:
    venue = SlowDownPaper()
    await venue.connect()
    rig = Rig(venue, tmp_path / "journal.sqlite3")
    engine = await rig.start(auto_retry=True, retry_base=0.01, retry_max=0.05)
    retried = []

    async def told() -> None:
        retried.append(engine._retry_delay)

    engine.on_retried = told
    await rig.snapshot(position("BTCUSD", "buy", "0.5"))
    await asyncio.sleep(0.2)
    assert venue.submits == 1, "sent again before the venue's wait was over"
    for _ in range(300):
        if retried:
            break
        await asyncio.sleep(0.01)
    engine.journal.close()
    rig.engine = None
    assert venue.holdings[BTC] == D("0.5")
    assert retried == [0.01], "the back-off starts again from its base once copying is healthy"


async def test_a_working_order_is_followed_until_it_ends_and_then_the_ea_is_told(rig: Rig) -> None:
    engine = await rig.start(auto_retry=True)
    told = asyncio.Event()

    async def status() -> None:
        told.set()

    engine.on_retried = status
    rig.venue.inject(Fault.ACCEPT_OPEN)
    await rig.snapshot(position("BTCUSD", "buy", "0.5"))
    assert engine._looking == {BTC}
    rig.venue.fill_open()
    await asyncio.wait_for(told.wait(), 10)
    lookups = rig.venue.requests["lookup"]
    await asyncio.sleep(0.7)  # past the next follow-up time: nothing more is asked
    assert engine._looking == set() and rig.venue.requests["lookup"] == lookups


async def test_status_before_any_table_and_before_any_read(tmp_path: Path) -> None:
    venue = PaperVenue()
    await venue.connect()
    venue.failing_reads = 1
    rig = Rig(venue, tmp_path / "journal.sqlite3")
    engine = await rig.start()
    assert engine.status() == []
    engine.accept_snapshot("ea-session-1", 1, [position("BTCUSD", "buy", "0.5")])
    [leg] = engine.status()
    assert (leg.key, leg.target, leg.position, leg.mismatch, leg.note) == (BTC, D("0.5"), None, None, "")
    engine.journal.close()
    rig.engine = None
