"""The fake TWS as ib_async 2.1 sees it at server version 178, and the TWS behaviours the adapter depends on.

These talk to the fake through ib_async itself, without the adapter: each shows a format or a behaviour of TWS
(IBKR's TWS API documentation) and what ib_async makes of it. The autouse `decoder_errors` fixture fails any test
in which ib_async's decoder could not read a message.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from ib_async import IB, Contract, ExecutionFilter, MarketOrder, Trade

from tests.fakes.tws import (
    ADVANCED_ORDER_REJECT,
    ERR_MSG,
    REQ_EXECUTIONS,
    SERVER_VERSION,
    FakeContract,
    FakeTws,
    running_tws,
)
from tests.venues.ib.conftest import eventually

DEADLINE = 10.0
EUR_USD = Contract(secType="CASH", symbol="EUR", currency="USD", exchange="IDEALPRO")
# Sizes made up for the test: they differ from the whole units a server below 164 implies.
SIZED = FakeContract(
    55501, "XAG", "CFD", "USD", "SMART", "XAG.USD", "0.001", "Silver", min_size="50", size_increment="0.5",
    suggested_size_increment="10",
)  # fmt: skip


@asynccontextmanager
async def client(tws: FakeTws, client_id: int = 3) -> AsyncIterator[IB]:
    ib = IB()
    await ib.connectAsync("127.0.0.1", tws.port, clientId=client_id, timeout=DEADLINE)
    try:
        yield ib
    finally:
        ib.disconnect()


def buy(ib: IB, qty: int, ref: str) -> Trade:
    return ib.placeOrder(EUR_USD, MarketOrder("BUY", qty, orderRef=ref, tif="DAY"))


# --- server versions and formats ------------------------------------------------------------------------


async def test_ib_async_negotiates_178(tws: FakeTws) -> None:
    async with client(tws) as ib:
        assert ib.client.serverVersion() == SERVER_VERSION == 178
    assert tws.negotiated == [178]


async def test_a_server_that_stops_at_157_is_spoken_to_at_157() -> None:
    with running_tws(server_version=157) as old:
        async with client(old) as ib:
            assert ib.client.serverVersion() == 157
            (details,) = await ib.reqContractDetailsAsync(EUR_USD)
        assert old.violations == []

    # Below 164 TWS reports no size rules: ib_async leaves them at zero.
    assert (details.minSize, details.sizeIncrement, details.suggestedSizeIncrement) == (0.0, 0.0, 0.0)


async def test_contract_details_carry_the_size_rules_at_178() -> None:
    with running_tws(contracts=[SIZED]) as tws:
        async with client(tws) as ib:
            (details,) = await ib.reqContractDetailsAsync(Contract(secType="CFD", symbol="XAG", currency="USD"))
        assert tws.violations == []

    assert (details.minSize, details.sizeIncrement, details.suggestedSizeIncrement) == (50.0, 0.5, 10.0)
    assert details.minTick == 0.001
    assert details.contract is not None and details.contract.conId == 55501


async def test_errors_carry_the_advanced_reject_json_from_166(tws: FakeTws) -> None:
    tws.inject_order_error(201, "Order rejected - reason: margin", reject_json='{"rejectInfo":"margin"}')
    errors: list[tuple[int, int, str]] = []
    async with client(tws) as ib:
        ib.errorEvent += lambda req_id, code, text, contract: errors.append((req_id, code, text))
        trade = buy(ib, 25000, "rejected-json")
        await eventually(lambda: trade.isDone(), DEADLINE, "the rejection")

    assert errors == [(trade.order.orderId, 201, "Order rejected - reason: margin")]
    assert trade.advancedError == '{"rejectInfo":"margin"}'
    assert trade.orderStatus.status == "Cancelled"


async def test_an_error_without_the_json_field_is_lost_in_ib_async_at_178(
    tws: FakeTws, monkeypatch: pytest.MonkeyPatch, decoder_errors: list[str]
) -> None:
    """Why the fake could not just announce 178: a v157 error message at 178 makes ib_async's decoder fail, and
    the error never reaches the application."""

    def v157_error(self: FakeTws, conn: object, req_id: int, code: int, text: str | None = None, *_: object) -> None:
        conn.send(ERR_MSG, 2, req_id, code, text if text is not None else "message")  # type: ignore[attr-defined]

    monkeypatch.setattr(FakeTws, "_error", v157_error)
    tws.inject_order_error(201, "Order rejected - reason: test")
    errors: list[int] = []
    async with client(tws) as ib:
        ib.errorEvent += lambda req_id, code, text, contract: errors.append(code)
        trade = buy(ib, 25000, "lost-error")
        # the three data farm messages at the start, then the rejection
        await eventually(lambda: len(decoder_errors) == 4, DEADLINE, "decoder failures")
        await eventually(lambda: trade.orderStatus.status == "Cancelled", DEADLINE, "the orderStatus")

    assert ADVANCED_ORDER_REJECT <= SERVER_VERSION
    assert errors == []  # neither the farm messages nor the rejection reached the application
    assert [e.errorCode for e in trade.log if e.errorCode] == []  # the order never learned why it ended
    assert all("Error handling fields" in m for m in decoder_errors)
    decoder_errors.clear()


async def test_executions_open_and_completed_orders_decode_at_178(tws: FakeTws) -> None:
    async with client(tws) as ib:
        trade = buy(ib, 25000, "decoded")
        await eventually(lambda: trade.orderStatus.status == "Filled", DEADLINE, "the fill")
        fills = await ib.reqExecutionsAsync()
        completed = await ib.reqCompletedOrdersAsync(apiOnly=True)

    (fill,) = fills
    assert (fill.execution.orderRef, fill.execution.shares, fill.execution.side) == ("decoded", 25000.0, "BOT")
    assert fill.execution.pendingPriceRevision is False
    (done,) = completed
    assert (done.order.orderRef, done.order.filledQuantity, done.orderStatus.status) == ("decoded", 25000.0, "Filled")


# --- what TWS does that ib_async reads its own way -------------------------------------------------------


async def test_an_informational_error_makes_ib_async_cancel_an_order_tws_still_works(tws: FakeTws) -> None:
    """ib_async issues #191 and #217: 10349 is outside ib_async's warning list, so it marks the order Cancelled;
    TWS keeps working it, lists it with its orderStatus, and fills it."""
    tws.hold_fills()
    tws.inject_order_notice(10349)
    async with client(tws) as ib:
        trade = buy(ib, 25000, "notice")
        await eventually(lambda: trade.orderStatus.status == "Cancelled", DEADLINE, "ib_async's local cancel")
        assert [e.errorCode for e in trade.log if e.errorCode] == [10349]

        listed = await ib.reqAllOpenOrdersAsync()

        assert [t.order.orderRef for t in listed] == ["notice"]
        assert trade.orderStatus.status == "Submitted"  # TWS's orderStatus in the reply
        tws.release_fills()
        await eventually(lambda: trade.orderStatus.status == "Filled", DEADLINE, "the late fill")
    assert tws.position("EUR.USD", "CASH") == 25000


async def test_an_inactive_order_is_held_listed_and_can_still_fill(tws: FakeTws) -> None:
    tws.hold_inactive("locate")
    async with client(tws) as ib:
        trade = buy(ib, 25000, "inactive")
        await eventually(lambda: trade.orderStatus.status == "Inactive", DEADLINE, "Inactive")
        assert trade.orderStatus.whyHeld == "locate"
        assert trade.isDone()  # ib_async's reading: Inactive is among its done states

        listed = await ib.reqAllOpenOrdersAsync()
        completed = await ib.reqCompletedOrdersAsync(apiOnly=True)

        assert [(t.order.orderRef, t.orderStatus.status) for t in listed] == [("inactive", "Inactive")]
        assert completed == []
        tws.activate_inactive()
        await eventually(lambda: trade.orderStatus.status == "Filled", DEADLINE, "the fill after activation")
    assert tws.position("EUR.USD", "CASH") == 25000


# --- TWS's day ---------------------------------------------------------------------------------------


async def fill(ib: IB, ref: str) -> None:
    trade = buy(ib, 1000, ref)
    await eventually(lambda: trade.orderStatus.status == "Filled", DEADLINE, f"fill of {ref}")


def refs(fills: list[object]) -> list[str]:
    return sorted(f.execution.orderRef for f in fills)  # type: ignore[attr-defined]


async def test_executions_and_completed_orders_cover_the_current_day() -> None:
    with running_tws(trade_log_days=1) as tws:
        async with client(tws) as ib:
            await fill(ib, "yesterday")
            tws.start_new_day()
            await fill(ib, "today")
            long_ago = (datetime.now(UTC) - timedelta(days=3)).strftime("%Y%m%d-%H:%M:%S")

            plain = await ib.reqExecutionsAsync()
            filtered = await ib.reqExecutionsAsync(ExecutionFilter(time=long_ago))
            completed = await ib.reqCompletedOrdersAsync(apiOnly=True)
        assert tws.violations == []

    # IB Gateway, or TWS with the Trade Log left at one day: earlier days are gone, whatever the filter asks.
    assert refs(plain) == refs(filtered) == ["today"]
    assert [t.order.orderRef for t in completed] == ["today"]


async def test_a_time_filter_reaches_back_as_far_as_the_trade_log() -> None:
    with running_tws(trade_log_days=7) as tws:
        async with client(tws) as ib:
            await fill(ib, "three days ago")
            tws.age_history(timedelta(days=3))
            tws.start_new_day()
            await fill(ib, "today")
            now = datetime.now(UTC)
            utc_form, zone_form = "%Y%m%d-%H:%M:%S", "%Y%m%d %H:%M:%S UTC"  # the two forms IBKR documents

            plain = await ib.reqExecutionsAsync()
            four_days = await ib.reqExecutionsAsync(ExecutionFilter(time=f"{now - timedelta(days=4):{utc_form}}"))
            two_days = await ib.reqExecutionsAsync(ExecutionFilter(time=f"{now - timedelta(days=2):{zone_form}}"))
            eight_days = await ib.reqExecutionsAsync(ExecutionFilter(time=f"{now - timedelta(days=8):{utc_form}}"))
        assert tws.violations == []

    assert refs(plain) == ["today"]  # without a time, only TWS's current day
    assert refs(four_days) == refs(eight_days) == ["three days ago", "today"]
    assert refs(two_days) == ["today"]  # executions at and after the time


async def test_a_time_tws_cannot_read_is_refused(tws: FakeTws) -> None:
    async with client(tws) as ib:
        ib.client.reqExecutions(99, ExecutionFilter(time="yesterday"))
        await tws.wait_for(lambda t: bool(t.violations), DEADLINE, "the refusal")

    assert "not a time TWS accepts" in tws.violations.pop()
    assert tws.received(REQ_EXECUTIONS)[-1].fields[5] == "yesterday"


async def test_midnight_expires_live_day_orders(tws: FakeTws) -> None:
    tws.hold_fills()
    async with client(tws) as ib:
        trade = buy(ib, 1000, "expires")
        await eventually(lambda: trade.orderStatus.status == "Submitted", DEADLINE, "Submitted")
        tws.start_new_day()
        listed = await ib.reqAllOpenOrdersAsync()
        tws.release_fills()

    assert listed == []
    assert tws.executions == []
    assert tws.position("EUR.USD", "CASH") == Decimal(0)
