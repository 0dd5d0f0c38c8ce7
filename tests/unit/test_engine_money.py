"""The engine's money paths, one rule per test, each written to fail when that rule is broken.

Resolve before resending; resend only what the plan needs now, with the id it was first sent with; re-read
the position before any resend; keep the stale rule and the follow offsets across restarts; reduce-only
where the order only shrinks a position, and then exempt from a waived minimum notional; chunks above the
venue's largest order; nothing sent while an instrument does not trade; an order that ended unfilled is
held like a rejection. Against the in-process Paper venue, which asks for orders by symbol like a real one.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

from bridge.messages import Deal
from sidecar.engine import CopyMode
from sidecar.model import Instrument, Leg, LegKey, MarginMode, OrderRequest, OrderResult, OrderState, PositionMode
from sidecar.venues.paper import Fault, PaperVenue
from tests.unit.conftest import BTC, Rig, position

D = Decimal
LONG, SHORT = LegKey("BTCUSD", Leg.LONG), LegKey("BTCUSD", Leg.SHORT)


async def test_a_failed_lookup_keeps_the_leg_blocked_so_nothing_is_sent_twice(rig: Rig) -> None:
    engine = await rig.start()
    rig.venue.inject(Fault.UNKNOWN_ACCEPTED)  # executed; the answer is lost
    rig.venue.failing_lookups = 2  # and the venue cannot say so for a while
    await rig.snapshot(position("BTCUSD", "buy", "0.05"))
    await rig.snapshot(position("BTCUSD", "buy", "0.06"))
    assert rig.venue.submits == 1, "a second order went out while the first one's outcome was unknown"

    await engine.sync("after error")
    assert rig.venue.holdings[BTC] == D("0.06")
    assert [e.qty_after for e in rig.venue.executions] == [D("0.05"), D("0.06")]


async def test_an_order_proven_absent_is_resent_with_its_first_client_id(rig: Rig) -> None:
    await rig.start()
    rig.venue.inject(Fault.UNKNOWN_NOT_ACCEPTED)  # lost on its way in: never executed
    await rig.snapshot(position("BTCUSD", "buy", "0.05"))

    first, again = rig.venue.submitted
    assert again.client_id == first.client_id and again.qty == first.qty
    assert rig.venue.holdings[BTC] == D("0.05") and len(rig.venue.executions) == 1


async def test_an_order_proven_absent_after_the_target_changed_is_sent_at_the_new_size(rig: Rig) -> None:
    engine = await rig.start()
    rig.venue.inject(Fault.UNKNOWN_NOT_ACCEPTED)
    rig.venue.failing_lookups = 1
    await rig.snapshot(position("BTCUSD", "buy", "0.05"))
    await rig.snapshot(position("BTCUSD", "buy", "0.01"))  # MT5 changed while the order was unresolved
    await engine.sync("after error")

    assert rig.venue.holdings[BTC] == D("0.01")
    first, resent = rig.venue.submitted
    assert resent.qty == D("0.01") and resent.client_id != first.client_id


class AbsentButFilledPaper(PaperVenue):
    """A venue that reports every order absent, executed or not (a day's history rolled over, a status that
    a client library set on its own)."""

    async def lookup(self, symbol: str, client_id: str, **kwargs: object) -> OrderResult:
        await super().lookup(symbol, client_id)
        return OrderResult(client_id, OrderState.ABSENT)


async def test_the_position_is_read_again_before_an_order_proven_absent_is_resent(tmp_path: Path) -> None:
    venue = AbsentButFilledPaper()
    await venue.connect()
    rig = Rig(venue, tmp_path / "journal.sqlite3")
    await rig.start()
    venue.inject(Fault.UNKNOWN_ACCEPTED)  # executed, the answer lost, and then reported absent
    await rig.snapshot(position("BTCUSD", "buy", "0.05"))

    assert venue.holdings[BTC] == D("0.05"), "an order reported absent was sent again without reading the position"
    assert len(venue.executions) == 1


async def test_an_unreadable_position_after_an_absent_order_sends_nothing(rig: Rig) -> None:
    engine = await rig.start()
    rig.venue.inject(Fault.UNKNOWN_NOT_ACCEPTED)
    rig.venue.failing_lookups = 1
    await rig.snapshot(position("BTCUSD", "buy", "0.05"))
    rig.venue.failing_reads = 1  # the read before the resend fails
    await engine.reconcile(keys=[BTC])
    assert rig.venue.submits == 1 and rig.venue.holdings.get(BTC, D(0)) == 0

    await engine.sync("after error")
    assert rig.venue.holdings[BTC] == D("0.05") and rig.venue.submits == 2


async def test_the_stale_snapshot_rule_survives_a_restart(rig: Rig) -> None:
    await rig.start()
    rig.seq = 10
    await rig.snapshot(position("BTCUSD", "buy", "0.10"))
    engine = await rig.start()  # a new process on the same journal, the same EA session
    assert engine.accept_snapshot("ea-session-1", 9, [position("BTCUSD", "buy", "0.20")]) is False
    await engine.reconcile()
    assert rig.venue.holdings[BTC] == D("0.10")


async def test_follow_mode_offsets_are_what_the_venue_holds_beyond_a_non_empty_mt5_table(rig: Rig) -> None:
    rig.mode = CopyMode.FOLLOW
    rig.venue.set_position(BTC, D("0.30"))
    await rig.start()
    await rig.snapshot(position("BTCUSD", "buy", "0.10"))  # the first table already holds 0.10
    assert rig.venue.submits == 0
    await rig.snapshot(position("BTCUSD", "buy", "0.25"))
    assert rig.venue.holdings[BTC] == D("0.45")
    await rig.snapshot(position("BTCUSD", "sell", "0.05"))
    assert rig.venue.holdings[BTC] == D("0.15")


async def test_follow_mode_with_a_short_venue_position_and_a_long_table(rig: Rig) -> None:
    rig.mode = CopyMode.FOLLOW
    rig.venue.set_position(BTC, D("-0.10"))
    await rig.start()
    await rig.snapshot(position("BTCUSD", "buy", "0.20"))
    await rig.snapshot()  # MT5 closes: the venue returns to what it held beyond MT5 at start
    assert rig.venue.holdings[BTC] == D("-0.30")


async def test_orders_that_only_shrink_a_position_are_reduce_only_and_no_others(rig: Rig) -> None:
    await rig.start()
    for volume, side in (("0.50", "buy"), ("0.20", "buy"), ("0.30", "sell"), ("0.10", "sell"), ("0.40", "buy")):
        await rig.snapshot(position("BTCUSD", side, volume))
    flags = [(o.side.value, o.qty, o.reduce_only) for o in rig.venue.submitted]
    assert flags == [
        ("buy", D("0.50"), False),
        ("sell", D("0.30"), True),
        ("sell", D("0.50"), False),  # a reversal grows the other side: not reduce-only
        ("buy", D("0.20"), True),
        ("buy", D("0.50"), False),
    ]


async def test_in_hedge_mode_closing_a_leg_is_reduce_only(rig: Rig) -> None:
    rig.venue.mode = PositionMode.HEDGE
    await rig.start(MarginMode.HEDGING)
    await rig.snapshot(position("BTCUSD", "buy", "0.5"), position("BTCUSD", "sell", "0.2"))
    await rig.snapshot(position("BTCUSD", "buy", "0.3"))
    flags = {(o.leg, o.side.value, o.qty, o.reduce_only) for o in rig.venue.submitted}
    assert flags == {
        (Leg.LONG, "buy", D("0.5"), False),
        (Leg.SHORT, "sell", D("0.2"), False),
        (Leg.LONG, "sell", D("0.2"), True),
        (Leg.SHORT, "buy", D("0.2"), True),
    }


class GatedSubmitPaper(PaperVenue):
    """A venue that executes an order at once and answers only when the gate opens: meanwhile the order is in
    flight for the engine and already in the venue's positions."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()

    async def submit(self, order: OrderRequest) -> OrderResult:
        result = await super().submit(order)
        await self.gate.wait()
        return result


async def test_a_position_read_does_not_overwrite_a_leg_whose_order_is_in_flight(tmp_path: Path) -> None:
    venue = GatedSubmitPaper()
    await venue.connect()
    rig = Rig(venue, tmp_path / "journal.sqlite3")
    engine = await rig.start()
    venue.gate.set()
    await rig.snapshot(position("BTCUSD", "buy", "0.10"))
    venue.gate.clear()
    assert rig.engine is not None
    engine.accept_snapshot("ea-session-1", 100, [position("BTCUSD", "buy", "0.30")])
    trading = asyncio.create_task(engine.reconcile())
    await asyncio.sleep(0.01)  # the 0.20 order executed; its answer is still on the way
    await engine._read_positions()  # reads 0.30: counting it and then the fill would make 0.50
    venue.gate.set()
    await trading
    await engine.reconcile(keys=[BTC])
    engine.journal.close()
    rig.engine = None

    assert venue.holdings[BTC] == D("0.30") and len(venue.executions) == 2


async def test_after_a_hedge_mode_restart_only_the_leg_with_an_unresolved_order_waits(rig: Rig) -> None:
    rig.venue.mode = PositionMode.HEDGE
    await rig.start(MarginMode.HEDGING)
    rig.venue.inject(Fault.ACCEPT_OPEN)  # the long leg's order keeps working at the venue
    await rig.snapshot(position("BTCUSD", "buy", "0.5"))
    await rig.start(MarginMode.HEDGING)  # restart: the journal knows the order
    await rig.snapshot(position("BTCUSD", "buy", "0.7"), position("BTCUSD", "sell", "0.2"))

    assert rig.venue.holdings.get(SHORT) == D("0.2"), "the short leg must not wait for the long leg's order"
    assert [o.leg for o in rig.venue.submitted] == [Leg.LONG, Leg.SHORT]
    rig.venue.fill_open()
    assert rig.engine is not None
    await rig.engine.sync("periodic")
    assert rig.venue.holdings[LONG] == D("0.7")


async def test_an_order_looked_up_after_a_restart_is_asked_for_by_its_own_symbol(rig: Rig) -> None:
    await rig.start()
    rig.venue.inject(Fault.ACCEPT_OPEN)
    await rig.snapshot(position("BTCUSD", "buy", "0.5"), position("ETHUSD", "buy", "2", base="ETH"))
    engine = await rig.start()
    rig.venue.fill_open()
    await engine.sync("periodic")
    assert len(rig.venue.executions) == 2, "the order was not found under its symbol and was sent again"


def venue_with(instrument: Instrument, price: str) -> PaperVenue:
    return PaperVenue(instruments=(instrument,), prices={instrument.symbol: D(price)})


BTC_FUTURES = Instrument("BTCUSD", "BTC", "USD", D("0.001"), D("0.001"), D(100), reduce_only_waives_min_notional=True)


async def test_a_small_position_is_closed_reduce_only_below_a_waived_minimum_notional(tmp_path: Path) -> None:
    venue = venue_with(BTC_FUTURES, "60000")  # 0.001 BTC = 60 USDT, below the 100 USDT minimum
    venue.set_position(BTC, D("0.001"))
    await venue.connect()
    rig = Rig(venue, tmp_path / "journal.sqlite3")
    await rig.start()
    await rig.snapshot()  # MT5 is flat: close
    assert venue.holdings[BTC] == 0
    [close] = venue.submitted
    assert close.reduce_only and close.qty == D("0.001")


async def test_an_opening_order_below_the_minimum_notional_is_not_sent(tmp_path: Path) -> None:
    venue = venue_with(BTC_FUTURES, "60000")
    await venue.connect()
    rig = Rig(venue, tmp_path / "journal.sqlite3")
    engine = await rig.start()
    await rig.snapshot(position("BTCUSD", "buy", "0.001"))
    assert venue.submits == 0
    [leg] = engine.status()
    assert "minimum notional" in leg.note


async def test_without_a_waiver_a_close_below_the_minimum_notional_is_held_as_a_residual(tmp_path: Path) -> None:
    spot = Instrument("BTCUSD", "BTC", "USD", D("0.001"), D("0.001"), D(100))
    venue = venue_with(spot, "60000")
    venue.set_position(BTC, D("0.001"))
    await venue.connect()
    rig = Rig(venue, tmp_path / "journal.sqlite3")
    engine = await rig.start()
    await rig.snapshot()
    assert venue.submits == 0
    [leg] = engine.status()
    assert leg.mismatch == D("-0.001") and "minimum notional" in leg.note


async def test_a_change_above_the_largest_order_goes_out_in_chunks_each_with_its_own_id(tmp_path: Path) -> None:
    capped = Instrument("BTCUSD", "BTC", "USD", D("0.01"), D("0.01"), max_qty=D("1.005"))
    venue = venue_with(capped, "60000")
    await venue.connect()
    rig = Rig(venue, tmp_path / "journal.sqlite3")
    await rig.start()
    await rig.snapshot(position("BTCUSD", "buy", "2.5"))
    assert venue.holdings[BTC] == D("2.5")
    assert [o.qty for o in venue.submitted] == [D("1.00"), D("1.00"), D("0.50")]
    assert len({o.client_id for o in venue.submitted}) == 3


async def test_an_instrument_that_is_not_trading_keeps_its_target_and_trades_when_it_resumes(rig: Rig) -> None:
    engine = await rig.start(rules_refresh_s=0.01)
    rig.venue.set_trading("BTCUSD", False)
    engine.instruments = await rig.venue.refresh_instruments()
    engine.mapper.update_instruments(engine.instruments)
    await rig.snapshot(position("BTCUSD", "buy", "0.5"))
    assert rig.venue.submits == 0
    [leg] = engine.status()
    assert "not trading" in leg.note and leg.target == D("0.5")
    assert "add an override" not in leg.note

    rig.venue.set_trading("BTCUSD", True)  # the break ends; no new table arrives
    for _ in range(200):
        if rig.venue.holdings.get(BTC) == D("0.5"):
            break
        await asyncio.sleep(0.01)
    assert rig.venue.holdings[BTC] == D("0.5") and rig.venue.submits == 1


async def test_an_order_that_ended_unfilled_is_held_like_a_rejection(rig: Rig) -> None:
    engine = await rig.start()
    rig.venue.inject(Fault.EXPIRE)
    await rig.snapshot(position("BTCUSD", "buy", "0.5"))
    await rig.snapshot(position("BTCUSD", "buy", "0.5"))  # the timer sends the same table
    await engine.sync("after error")
    assert rig.venue.submits == 1, "an order that ended unfilled was sent again on the next table"
    assert any(a.code == "unfilled" for a in rig.alerts)

    await engine.sync("periodic")
    assert rig.venue.holdings[BTC] == D("0.5") and rig.venue.submits == 2


async def test_a_table_that_changes_one_leg_reconciles_only_that_leg(rig: Rig) -> None:
    await rig.start()
    table = [position(s, "buy", "1", base=s[:3]) for s in ("BTCUSD", "ETHUSD", "XAUUSD")]
    await rig.snapshot(*table)
    before = dict(rig.venue.requests)
    table[1] = position("ETHUSD", "buy", "2", base="ETH")
    await rig.snapshot(*table)
    used = {k: v - before.get(k, 0) for k, v in rig.venue.requests.items() if v != before.get(k, 0)}
    assert used == {"order": 1}, used  # no price (the fill of a moment ago is fresh), no position read


async def test_a_periodic_sync_asks_one_position_read_and_at_most_one_price_request(rig: Rig) -> None:
    engine = await rig.start()
    table = [position(s, "buy", "4", base=s[:3]) for s in ("BTCUSD", "ETHUSD", "XAUUSD", "EURUSD", "GBPUSD")]
    await rig.snapshot(*table)
    for key in list(rig.venue.holdings):
        rig.venue.set_position(key, rig.venue.holdings[key] / 2)  # traded behind the copier's back
    rig.venue.requests.clear()
    engine._prices.clear()  # as after a quiet minute
    await engine.sync("periodic")
    assert rig.venue.requests["positions"] == 1 and rig.venue.requests["prices"] <= 1
    assert rig.venue.requests["price"] == 0
    assert rig.venue.requests["order"] == 5


async def test_an_order_records_the_mt5_deal_that_caused_it_and_its_fill(rig: Rig) -> None:
    await rig.start()
    deal = Deal(ticket=5551234, position_id=1, symbol="BTCUSD", entry="in", volume=D("0.5"), magic=0)
    await rig.snapshot(position("BTCUSD", "buy", "0.5"), deal=deal)
    assert rig.engine is not None
    await rig.engine.journal.flush()
    [record] = rig.engine.journal.recent_orders()
    assert record.deal_ticket == 5551234
    assert record.filled_qty == D("0.5") and record.avg_price == rig.venue.prices["BTCUSD"]
