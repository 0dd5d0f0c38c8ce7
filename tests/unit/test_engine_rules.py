"""The engine's smaller rules, each pinned exactly: plans, targets, reduce-only, client ids, offsets, lookups.

`make mutation` showed which of these the behaviour tests let slip (a plan's note, a chunk at exactly the
venue's maximum, a notional with a contract multiplier, the source symbols of a target…).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from sidecar.engine import AlertLevel, CopyMode, Plan, client_id, compute_targets, is_reducing, needs_price, plan_leg
from sidecar.errors import VenueUnavailable
from sidecar.mapping import SymbolMapper
from sidecar.model import Instrument, Leg, LegKey, MarginMode, OrderResult, PositionMode
from sidecar.venues.paper import Fault, PaperVenue
from tests.unit.conftest import BTC, Rig, position

D = Decimal
LONG, SHORT = LegKey("BTCUSD", Leg.LONG), LegKey("BTCUSD", Leg.SHORT)
RULES = Instrument("BTCUSD", "BTC", "USD", D("0.01"), D("0.05"), D(10), max_qty=D("1.00"))


@pytest.mark.parametrize(
    ("target", "position", "price", "expected"),
    [
        ("0.5", "0.5", None, Plan(BTC, D("0.5"), D("0.5"), D(0))),
        ("0.504", "0.5", None, Plan(BTC, D("0.504"), D("0.5"), D(0), "residual 0.004 is below the lot step 0.01")),
        ("0.53", "0.5", None, Plan(BTC, D("0.53"), D("0.5"), D(0), "residual 0.03 is below the minimum size 0.05")),
        ("0.8", "0.5", None, Plan(BTC, D("0.8"), D("0.5"), D("0.3"))),
        ("1.5", "0.5", None, Plan(BTC, D("1.5"), D("0.5"), D("1.00"))),  # exactly the largest order: one piece
        ("2.5", "0.5", None, Plan(BTC, D("2.5"), D("0.5"), D("1.00"),
                                  "sent in chunks of at most 1.00 (the venue's largest order)")),
        ("-2.5", "0.5", None, Plan(BTC, D("-2.5"), D("0.5"), D("-1.00"),
                                   "sent in chunks of at most 1.00 (the venue's largest order)", False)),
        ("0.1", "0.5", None, Plan(BTC, D("0.1"), D("0.5"), D("-0.4"), "", True)),
        ("0.9", "0.6", D(30), Plan(BTC, D("0.9"), D("0.6"), D(0),
                                   "residual 0.3 (9.00 USD) is below the minimum notional 10")),
        ("0.9", "0.5", D(25), Plan(BTC, D("0.9"), D("0.5"), D("0.4"))),  # exactly 10: enough
    ],
)  # fmt: skip
def test_a_plan_says_what_it_sends_and_why_it_sends_less(
    target: str, position: str, price: Decimal | None, expected: Plan
) -> None:
    assert plan_leg(BTC, D(target), D(position), RULES, price) == expected


def test_a_chunk_of_a_fraction_of_a_unit_keeps_its_sign() -> None:
    small = Instrument("BTCUSD", "BTC", "USD", D("0.01"), D("0.01"), max_qty=D("0.30"))
    assert plan_leg(BTC, D("0.5"), D(0), small, None).delta == D("0.30")
    assert plan_leg(BTC, D("-0.5"), D(0), small, None).delta == D("-0.30")


def test_the_notional_counts_the_contract_multiplier() -> None:
    lots = Instrument("XBTUSDTM", "BTC", "USDT", D(1), D(1), D(100), multiplier=D("0.001"))
    # 2 lots of 0.001 BTC at 60,000 are worth 120 USDT: above the 100 minimum (without the multiplier: 120,000).
    assert plan_leg(LegKey("XBTUSDTM"), D(2), D(0), lots, D(60000)).delta == D(2)
    # 1 lot is worth 60: below it.
    assert plan_leg(LegKey("XBTUSDTM"), D(1), D(0), lots, D(60000)).delta == 0


def test_a_price_is_needed_only_where_a_minimum_notional_applies() -> None:
    waived = Instrument("X", "X", "USD", D(1), D(1), D("0.5"), reduce_only_waives_min_notional=True)
    assert needs_price(waived, reducing=False)
    assert not needs_price(waived, reducing=True)
    assert needs_price(Instrument("X", "X", "USD", D(1), D(1), D("0.5")), reducing=True)
    assert not needs_price(Instrument("X", "X", "USD", D(1), D(1), D(0)), reducing=False)


@pytest.mark.parametrize(
    ("key", "position", "delta", "reducing"),
    [
        (BTC, "1", "-0.4", True), (BTC, "1", "-1", True), (BTC, "1", "-1.5", False), (BTC, "1", "0.5", False),
        (BTC, "-1", "0.4", True), (BTC, "-1", "-0.5", False), (BTC, "0", "0.5", False), (BTC, "1", "-0.0", False),
        (LONG, "1", "-0.5", True), (LONG, "1", "0.5", False), (SHORT, "1", "-0.5", True), (SHORT, "0", "0.5", False),
    ],
)  # fmt: skip
def test_reducing_means_the_order_only_shrinks_the_position(
    key: LegKey, position: str, delta: str, reducing: bool
) -> None:
    assert is_reducing(key, D(position), D(delta)) is reducing


def test_client_ids_match_the_protocols_worked_example() -> None:
    assert client_id("7f3a9c2e5b1d4e08", LegKey("BTCUSDT", Leg.LONG), 1) == "cs3p834vf5fu000001"
    assert client_id("7f3a9c2e5b1d4e08", LegKey("BTCUSDT"), 36**6 + 5) == client_id(
        "7f3a9c2e5b1d4e08", LegKey("BTCUSDT"), 5
    )  # the order number wraps after 36^6


MAPPER = SymbolMapper({"BTCUSD": RULES}, lambda b, q: b + q)


def test_targets_name_their_mt5_symbols_and_hedge_mode_keeps_both_legs() -> None:
    table = [position("BTCUSD", "buy", "0.5"), position("BTCUSD.m", "sell", "0.2")]
    hedged = compute_targets(table, MAPPER, PositionMode.HEDGE)
    assert hedged.quantities == {LONG: D("0.5"), SHORT: D("0.2")}
    assert hedged.sources == {LONG: ("BTCUSD",), SHORT: ("BTCUSD.m",)}
    only_long = compute_targets(table[:1], MAPPER, PositionMode.HEDGE)
    assert only_long.quantities == {LONG: D("0.5"), SHORT: D(0)} and only_long.sources[SHORT] == ()
    only_short = compute_targets(table[1:], MAPPER, PositionMode.HEDGE)
    assert only_short.quantities == {SHORT: D("0.2"), LONG: D(0)}
    netted = compute_targets(table, MAPPER, PositionMode.ONE_WAY)
    assert netted.quantities == {BTC: D("0.3")} and netted.sources == {BTC: ("BTCUSD", "BTCUSD.m")}


def test_a_spot_target_is_clamped_only_when_short() -> None:
    flat = compute_targets([position("BTCUSD", "buy", "0.5"), position("BTCUSD.m", "sell", "0.5")], MAPPER,
                           PositionMode.SPOT)  # fmt: skip
    assert flat.quantities == {BTC: 0} and flat.clamped == ()
    short = compute_targets([position("BTCUSD", "sell", "0.5")], MAPPER, PositionMode.SPOT)
    assert short.quantities == {BTC: 0} and short.clamped == (BTC,)
    small = compute_targets([position("BTCUSD", "buy", "0.5")], MAPPER, PositionMode.SPOT)
    assert small.quantities == {BTC: D("0.5")} and small.clamped == ()


async def test_a_refused_account_mode_is_told_once_as_critical_and_start_says_no(rig: Rig) -> None:
    rig.venue.mode = PositionMode.HEDGE
    engine = await rig.start(MarginMode.NETTING)
    assert engine.started is False and engine.refused is not None
    [alert] = rig.alerts
    assert (alert.level, alert.code, alert.critical) == (AlertLevel.ERROR, "refused", True)
    assert alert.text == f"Not copying: {engine.refused}"
    assert await engine.start("ea-session-1", "k", MarginMode.NETTING) is False
    await engine.sync("periodic")  # a refused engine is not started again by a sync
    assert engine.started is False and rig.venue.submits == 0


async def test_a_sync_starts_an_engine_whose_account_could_not_be_read(rig: Rig) -> None:
    rig.venue.connected = False  # the account read fails at start
    engine = await rig.start()
    assert not engine.started and [a.code for a in rig.alerts] == ["account"]
    rig.venue.connected = True
    await engine.sync("after error")
    assert engine.started and engine.session_id == "ea-session-1" and engine.copy_key == "7001@Demo/paper/test"
    assert engine.margin_mode is MarginMode.NETTING


async def test_follow_mode_keeps_an_offset_of_exactly_one_and_tells_the_trader(rig: Rig) -> None:
    rig.mode = CopyMode.FOLLOW
    rig.venue.set_position(BTC, D(1))
    await rig.start()
    await rig.snapshot()
    [told] = [a for a in rig.alerts if a.code == "offsets"]
    assert (told.level, told.text) == (AlertLevel.INFO, "Follow mode: venue positions at start are kept: BTCUSD +1.")
    await rig.snapshot(position("BTCUSD", "buy", "0.25"))
    assert rig.venue.holdings[BTC] == D("1.25")


async def test_follow_mode_does_not_buy_what_mt5_held_before_the_copier_started(rig: Rig) -> None:
    rig.mode = CopyMode.FOLLOW
    await rig.start()
    await rig.snapshot(position("BTCUSD", "buy", "0.5"), position("ETHUSD", "buy", "2", base="ETH"))
    assert rig.venue.submits == 0  # only changes are copied
    await rig.snapshot(position("BTCUSD", "buy", "0.7"), position("ETHUSD", "buy", "2", base="ETH"))
    assert rig.venue.holdings == {BTC: D("0.2")}


class RecordingPaper(PaperVenue):
    def __init__(self) -> None:
        super().__init__()
        self.asked: list[tuple[str, str, datetime | None]] = []
        self.refuse_lookups = 0

    async def lookup(self, symbol: str, client_id: str, *, sent_at: datetime | None = None) -> OrderResult:
        self.asked.append((symbol, client_id, sent_at))
        if self.refuse_lookups:
            self.refuse_lookups -= 1
            raise VenueUnavailable("Paper: slow down", retry_after=0.4)
        return await super().lookup(symbol, client_id, sent_at=sent_at)


async def test_a_lookup_names_the_symbol_and_the_send_time_the_journal_recorded(tmp_path: Path) -> None:
    venue = RecordingPaper()
    await venue.connect()
    rig = Rig(venue, tmp_path / "journal.sqlite3")
    engine = await rig.start()
    venue.inject(Fault.UNKNOWN_ACCEPTED)
    await rig.snapshot(position("BTCUSD", "buy", "0.5"))
    await engine.journal.flush()
    [record] = engine.journal.recent_orders()
    engine.journal.close()
    rig.engine = None

    [(symbol, cid, sent_at)] = venue.asked
    assert (symbol, cid) == ("BTCUSD", record.request.client_id)
    assert sent_at == datetime.fromtimestamp(record.created_at, UTC) and sent_at.tzinfo is UTC


async def test_a_lookup_told_to_wait_is_asked_again_only_after_the_wait(tmp_path: Path) -> None:
    venue = RecordingPaper()
    await venue.connect()
    rig = Rig(venue, tmp_path / "journal.sqlite3")
    engine = await rig.start(auto_retry=True, retry_base=0.01, retry_max=0.05)
    venue.inject(Fault.UNKNOWN_ACCEPTED)
    venue.refuse_lookups = 1
    await rig.snapshot(position("BTCUSD", "buy", "0.5"))
    [leg] = engine.status()
    assert leg.note.startswith("waiting to learn what became of order cs") and "slow down" in leg.note
    await asyncio.sleep(0.2)
    assert len(venue.asked) == 1, "asked again before the venue's wait was over"
    for _ in range(300):
        if venue.holdings.get(BTC) == D("0.5") and len(venue.asked) == 2:
            break
        await asyncio.sleep(0.01)
    engine.journal.close()
    rig.engine = None
    assert len(venue.asked) == 2 and len(venue.executions) == 1


async def test_an_order_still_working_says_so_on_its_leg(rig: Rig) -> None:
    engine = await rig.start()
    rig.venue.inject(Fault.ACCEPT_OPEN)
    await rig.snapshot(position("BTCUSD", "buy", "0.5"))
    await engine.sync("periodic")
    [leg] = engine.status()
    cid = rig.venue.submitted[0].client_id
    assert leg.note == f"order {cid} is still working at the venue"


async def test_an_order_still_working_is_asked_about_again_soon_without_a_new_table(rig: Rig) -> None:
    engine = await rig.start(auto_retry=True)
    rig.venue.inject(Fault.ACCEPT_OPEN)
    await rig.snapshot(position("BTCUSD", "buy", "0.5"))
    assert rig.venue.holdings.get(BTC) is None
    rig.venue.fill_open()  # the venue fills it a moment later
    for _ in range(300):
        if not engine.books[BTC].unresolved:
            break
        await asyncio.sleep(0.01)
    assert engine.books[BTC].unresolved is None and engine.books[BTC].position == D("0.5")
    assert rig.venue.requests["lookup"] >= 1 and rig.venue.submits == 1


async def test_a_table_that_opens_several_legs_asks_their_prices_in_one_request(rig: Rig) -> None:
    engine = await rig.start()
    engine._prices.clear()
    await rig.snapshot(position("BTCUSD", "buy", "0.5"), position("ETHUSD", "buy", "2", base="ETH"))
    assert rig.venue.requests["prices"] == 1 and rig.venue.requests["price"] == 0
    assert rig.venue.holdings == {BTC: D("0.5"), LegKey("ETHUSD"): D(2)}
