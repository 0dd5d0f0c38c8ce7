"""The IB adapter through the real ib_async client against the fake TWS: no mocks between them."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from sidecar.errors import ConfigError, OrderRejected, OutcomeUnknown, VenueUnavailable
from sidecar.model import LegKey, MarginMode, OrderRequest, OrderState, PositionMode, Side, VenuePosition
from sidecar.venues.ib import IBVenue
from sidecar.venues.ib.adapter import CLOCK_MARGIN
from sidecar.venues.ib.contracts import plain_decimal
from sidecar.venues.ib.errors import Kind, classify
from tests.fakes.tws import (
    DEFAULT_ACCOUNT,
    PLACE_ORDER,
    REQ_EXECUTIONS,
    FakeContract,
    FakeTws,
    parse_tws_time,
    running_tws,
)
from tests.venues.ib.conftest import eventually, settings_for

EURUSD = "EUR.USD"
GBPUSD = "GBP.USD"
# Size rules made up for the tests (IB's real ones are checked on a paper account, README): a fractional step, and
# a minimum that a float turns into 25000.0.
SILVER = FakeContract(
    55501, "XAG", "CFD", "USD", "SMART", "XAG.USD", "0.001", "Silver", min_size="50", size_increment="0.5",
    suggested_size_increment="10",
)  # fmt: skip
EURO_25K = FakeContract(
    143916318, "EUR", "CFD", "USD", "SMART", "EUR.USD", "0.00005", "EUR USD", min_size="25000", size_increment="1",
    suggested_size_increment="1000",
)  # fmt: skip


def buy(client_id: str, symbol: str, qty: str) -> OrderRequest:
    return OrderRequest(client_id, symbol, Side.BUY, Decimal(qty))


def sell(client_id: str, symbol: str, qty: str) -> OrderRequest:
    return OrderRequest(client_id, symbol, Side.SELL, Decimal(qty))


# --- connecting ----------------------------------------------------------------------------------------


async def test_connect_answers_every_startup_request_and_picks_the_only_account(tws: FakeTws, venue: IBVenue) -> None:
    asked = {r.msg_id for r in tws.received()}

    # positions, open orders, completed orders, account updates, sub-account updates, executions
    assert {61, 5, 99, 6, 76, 7} <= asked
    assert venue.account_id == DEFAULT_ACCOUNT
    assert tws.connected_clients() == [1]
    summary = await venue.account()
    assert summary.position_mode is PositionMode.ONE_WAY
    assert summary.balances == {"USD": Decimal("1000000.00")}


async def test_data_farm_messages_are_debug_only(
    tws: FakeTws, make_venue: Callable[..., IBVenue], caplog: pytest.LogCaptureFixture
) -> None:
    venue = make_venue()
    with caplog.at_level(logging.DEBUG, logger="csmc"):
        await venue.connect()
    await venue.close()

    farm = [r for r in caplog.records if r.name == "csmc.venue.ib" and "farm connection is OK" in r.getMessage()]
    assert len(farm) == 3
    assert {r.levelno for r in farm} == {logging.DEBUG}


async def test_client_id_in_use_is_a_config_error_after_one_attempt(
    tws: FakeTws, make_venue: Callable[..., IBVenue]
) -> None:
    tws.occupy_client_id(7)
    venue = make_venue(client_id=7)

    with pytest.raises(ConfigError) as refused:
        await venue.connect()

    text = str(refused.value)
    assert "client id 7" in text
    assert "326" in text
    assert "[ib] client_id" in text
    assert tws.handshakes == 1


async def test_second_client_with_the_same_id_is_refused_like_tws_does(
    tws: FakeTws, venue: IBVenue, make_venue: Callable[..., IBVenue]
) -> None:
    with pytest.raises(ConfigError, match="client id 1"):
        await make_venue().connect()

    assert tws.connected_clients() == [1]
    assert await venue.positions() == []


async def test_nothing_listening_is_unavailable_with_a_hint(tws: FakeTws, make_venue: Callable[..., IBVenue]) -> None:
    tws.stop_listening()

    with pytest.raises(VenueUnavailable, match=f"nothing answers at 127.0.0.1:{tws.port}"):
        await make_venue().connect()


async def test_several_accounts_need_the_account_setting(tmp_path: Path) -> None:
    with running_tws(accounts=["DU111", "DU222"]) as tws:
        several = IBVenue(settings_for(tws), cache_path=tmp_path / "c.json")
        with pytest.raises(ConfigError, match=r"several accounts \(DU111, DU222\).*\[ib\] account"):
            await several.connect()

        # The refused session is closed; TWS frees the client id once it sees the socket go.
        await tws.wait_for(lambda t: t.connected_clients() == [], 5, "client id 1 released")
        wrong = IBVenue(settings_for(tws, account="DU999"), cache_path=tmp_path / "c.json")
        with pytest.raises(ConfigError, match="DU999"):
            await wrong.connect()

        await tws.wait_for(lambda t: t.connected_clients() == [], 5, "client id 1 released")
        chosen = IBVenue(settings_for(tws, account="DU222"), cache_path=tmp_path / "c.json")
        await chosen.connect()
        assert chosen.account_id == "DU222"
        await chosen.close()


async def test_hedging_mt5_accounts_are_refused_netting_accepted(venue: IBVenue) -> None:
    with pytest.raises(ConfigError, match="netting MT5 account"):
        venue.check_account_mode(MarginMode.HEDGING, PositionMode.ONE_WAY)

    venue.check_account_mode(MarginMode.NETTING, PositionMode.ONE_WAY)


async def test_server_time_is_the_tws_clock(venue: IBVenue) -> None:
    now = await venue.server_time()

    assert now.tzinfo is not None
    assert abs(now - datetime.now(UTC)) < timedelta(seconds=5)


# --- positions and contracts ----------------------------------------------------------------------------


async def test_positions_of_the_other_security_type_are_left_out_and_reported_once(
    tws: FakeTws, venue: IBVenue, caplog: pytest.LogCaptureFixture
) -> None:
    tws.set_position(EURUSD, "CASH", 2000)
    tws.set_position(GBPUSD, "CFD", -300)
    tws.set_position("USD.JPY", "CASH", 0)  # closed today: TWS still lists it, at zero

    with caplog.at_level(logging.WARNING, logger="csmc"):
        first = await venue.positions()
        second = await venue.positions()

    assert first == second == [VenuePosition(LegKey(EURUSD), Decimal(2000))]
    reports = [r for r in caplog.records if "left alone" in r.getMessage()]
    assert len(reports) == 1
    assert "-300" in reports[0].getMessage()
    assert "CFD GBP.USD" in reports[0].getMessage()


async def test_a_held_contract_becomes_an_instrument(tws: FakeTws, venue: IBVenue) -> None:
    tws.set_position(EURUSD, "CASH", -2500)

    await venue.positions()

    instrument = (await venue.instruments())[EURUSD]
    assert (instrument.base, instrument.quote, instrument.lot_step, instrument.min_qty) == ("EUR", "USD", 1, 1)
    assert instrument.tick == Decimal("0.00005")


async def test_resolve_adds_known_pairs_and_caches_them(tws: FakeTws, venue: IBVenue, tmp_path: Path) -> None:
    await venue.resolve({GBPUSD})

    assert GBPUSD in await venue.instruments()
    cached = json.loads((tmp_path / "ib-contracts.json").read_text(encoding="utf-8"))
    assert cached["contracts"]["CASH/IDEALPRO/GBP.USD"]["con_id"] == tws.contract(GBPUSD, "CASH").con_id

    # A new adapter knows it before connecting, without asking TWS again.
    again = IBVenue(settings_for(tws), cache_path=tmp_path / "ib-contracts.json")
    assert GBPUSD in await again.instruments()
    reset = IBVenue(settings_for(tws, reset_cache=True), cache_path=tmp_path / "ib-contracts.json")
    assert dict(await reset.instruments()) == {}


async def test_cfd_profiles_resolve_cfd_contracts(tws: FakeTws, make_venue: Callable[..., IBVenue]) -> None:
    venue = make_venue(security_type="CFD")
    await venue.connect()
    await venue.resolve({EURUSD, "IBUS500.USD"})
    await venue.submit(buy("cfd1", EURUSD, "1000"))
    await venue.close()

    (order,) = tws.orders
    assert (order.contract.sec_type, order.contract.con_id) == ("CFD", tws.contract(EURUSD, "CFD").con_id)
    assert "IBUS500.USD" in await venue.instruments()


async def test_unknown_pairs_are_reported_with_the_tws_reason(
    tws: FakeTws, venue: IBVenue, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="csmc"):
        await venue.resolve({"EUR.XYZ", "NOTASYMBOL"})
        await venue.resolve({"EUR.XYZ"})  # not asked again

    assert "EUR.XYZ" not in await venue.instruments()
    texts = [r.getMessage() for r in caplog.records]
    assert sum("EUR/XYZ" in t and "error 200" in t for t in texts) == 1
    assert any("NOTASYMBOL" in t and "SYMBOL.CURRENCY" in t for t in texts)
    assert len(tws.received(9)) == 1


async def test_a_damaged_cache_is_set_aside(tws: FakeTws, tmp_path: Path) -> None:
    cache = tmp_path / "ib-contracts.json"
    cache.write_text("{not json", encoding="utf-8")

    venue = IBVenue(settings_for(tws), cache_path=cache)

    assert dict(await venue.instruments()) == {}
    assert (tmp_path / "ib-contracts.damaged").exists()


# --- size rules and quantities --------------------------------------------------------------------------


async def test_size_rules_come_from_contract_details_at_178(tmp_path: Path) -> None:
    with running_tws(contracts=[SILVER, EURO_25K]) as tws:
        venue = IBVenue(settings_for(tws, security_type="CFD"), cache_path=tmp_path / "c.json")
        await venue.connect()
        await venue.resolve({"XAG.USD", EURUSD})
        result = await venue.submit(buy("silver1", "XAG.USD", "100.5"))
        await venue.close()
        assert tws.violations == []

    silver, euro = (await venue.instruments())["XAG.USD"], (await venue.instruments())[EURUSD]
    assert (str(silver.lot_step), str(silver.min_qty), str(silver.tick)) == ("0.5", "50", "0.001")
    assert (str(euro.lot_step), str(euro.min_qty)) == ("1", "25000")  # not 1.0 and 25000.0
    assert (silver.max_qty, silver.trading) == (0, True)  # IB's contract details state neither
    assert (result.state, str(result.filled_qty)) == (OrderState.FILLED, "100.5")


async def test_a_tws_below_164_gives_no_size_rules_so_whole_units_are_traded(tmp_path: Path) -> None:
    with running_tws(contracts=[SILVER], server_version=157) as tws:
        venue = IBVenue(settings_for(tws, security_type="CFD"), cache_path=tmp_path / "c.json")
        await venue.connect()
        await venue.resolve({"XAG.USD"})
        await venue.close()

    silver = (await venue.instruments())["XAG.USD"]
    assert (str(silver.lot_step), str(silver.min_qty), str(silver.tick)) == ("1", "1", "0.001")


async def test_quantities_print_as_a_trader_writes_them(tws: FakeTws, venue: IBVenue) -> None:
    tws.set_position(EURUSD, "CASH", 2000)
    tws.set_price(GBPUSD, "CASH", "1.2712")
    await venue.resolve({GBPUSD})

    (position,) = await venue.positions()
    result = await venue.submit(buy("plain1", GBPUSD, "10000"))

    assert str(position.qty) == "2000"
    assert (str(result.filled_qty), str(result.avg_price)) == ("10000", "1.2712")
    assert str((await venue.instruments())[GBPUSD].lot_step) == "1"


async def test_check_details_show_what_tws_reports_and_what_is_copied(tmp_path: Path) -> None:
    cache = tmp_path / "c.json"
    with running_tws(contracts=[SILVER], server_version=157) as old:
        venue = IBVenue(settings_for(old, security_type="CFD"), cache_path=cache)
        await venue.connect()
        at_157 = await venue.check_details(["XAG.USD"])
        await venue.close()
    with running_tws(contracts=[SILVER]) as tws:
        venue = IBVenue(settings_for(tws, security_type="CFD"), cache_path=cache)  # a TWS update since
        await venue.connect()
        at_178 = await venue.check_details(["XAG.USD"])
        await venue.close()

    assert at_157 == [
        ("TWS API", "server version 157: too old to report size rules, whole units are traded"),
        (
            "TWS sizes",
            "XAG.USD CFD on SMART (conId 55501): minSize 0, sizeIncrement 0, suggestedSizeIncrement 0, minTick 0.001 "
            "→ copied with lot step 1, min size 1",
        ),
    ]
    assert at_178 == [
        ("TWS API", "server version 178"),
        (
            "TWS sizes",
            "XAG.USD CFD on SMART (conId 55501): minSize 50, sizeIncrement 0.5, suggestedSizeIncrement 10, minTick "
            "0.001 → copied with lot step 0.5, min size 50; the contract cache still says lot step 1, min size 1: "
            "set [ib] reset_cache = true for one start",
        ),
    ]


# --- orders -------------------------------------------------------------------------------------------


async def test_a_market_order_carries_the_client_id_and_fills(tws: FakeTws, venue: IBVenue) -> None:
    tws.set_price(GBPUSD, "CASH", "1.2712")
    await venue.resolve({GBPUSD})

    result = await venue.submit(buy("cs00000100000001", GBPUSD, "10000"))

    assert (result.state, result.filled_qty, result.avg_price) == (OrderState.FILLED, 10000, Decimal("1.2712"))
    (order,) = tws.orders
    assert order.order_ref == "cs00000100000001"
    assert (order.order_type, order.tif, order.action, order.qty) == ("MKT", "DAY", "BUY", 10000)
    assert (order.e_trade_only, order.firm_quote_only) == (False, False)
    assert order.account == DEFAULT_ACCOUNT
    assert tws.position(GBPUSD, "CASH") == 10000


async def test_order_ids_keep_increasing(tws: FakeTws, venue: IBVenue) -> None:
    await venue.resolve({GBPUSD})
    await venue.submit(buy("a", GBPUSD, "1000"))
    await venue.submit(sell("b", GBPUSD, "1000"))

    ids = [o.order_id for o in tws.orders]
    assert ids[0] < ids[1]


async def test_a_rejection_is_not_resent(tws: FakeTws, venue: IBVenue, capsys: pytest.CaptureFixture[str]) -> None:
    await venue.resolve({GBPUSD})
    tws.inject_order_error(201, "Order rejected - reason: YOUR ORDER IS NOT ACCEPTED. MINIMUM QUANTITY NOT MET")

    with pytest.raises(OrderRejected, match=r"201.*MINIMUM QUANTITY"):
        await venue.submit(buy("rej1", GBPUSD, "10000"))

    assert len(tws.orders) == 1
    assert tws.executions == []
    assert (await venue.lookup(GBPUSD, "rej1")).state is OrderState.ABSENT
    # ib_async's own error lines go to the log file, not to the sidecar's console.
    assert capsys.readouterr().err == ""


async def test_a_server_side_error_is_resent_after_proof_that_nothing_filled(tws: FakeTws, venue: IBVenue) -> None:
    await venue.resolve({GBPUSD})
    tws.inject_order_error(202)

    result = await venue.submit(buy("resend1", GBPUSD, "10000"))

    assert (result.state, result.filled_qty) == (OrderState.FILLED, 10000)
    first, second = tws.orders
    assert first.order_ref == second.order_ref == "resend1"
    assert first.order_id < second.order_id
    assert len(tws.executions) == 1
    # Between the two placeOrders TWS was asked for open orders, completed orders and executions.
    sequence = [r.msg_id for r in tws.received()]
    between = sequence[sequence.index(PLACE_ORDER) + 1 : len(sequence) - 1 - sequence[::-1].index(PLACE_ORDER)]
    assert {16, 99, 7} <= set(between)


async def test_resends_stop_at_the_configured_number(tws: FakeTws, make_venue: Callable[..., IBVenue]) -> None:
    venue = make_venue(max_order_resubmit_tries=1)
    await venue.connect()
    await venue.resolve({GBPUSD})
    tws.inject_order_error(202)
    tws.inject_order_error(202)

    with pytest.raises(VenueUnavailable, match="after 2 attempt"):
        await venue.submit(buy("resend2", GBPUSD, "10000"))
    await venue.close()

    assert len(tws.orders) == 2
    assert tws.executions == []


async def test_a_fill_after_the_timeout_is_found_by_lookup(tws: FakeTws, make_venue: Callable[..., IBVenue]) -> None:
    venue = make_venue(order_timeout_s=1)
    await venue.connect()
    await venue.resolve({GBPUSD})
    tws.hold_fills()

    with pytest.raises(OutcomeUnknown, match="order timeout of 1 s"):
        await venue.submit(buy("late1", GBPUSD, "10000"))
    working = await venue.lookup(GBPUSD, "late1")
    tws.release_fills()
    done = await venue.lookup(GBPUSD, "late1")
    await venue.close()

    assert working.state is OrderState.OPEN
    assert (done.state, done.filled_qty) == (OrderState.FILLED, 10000)
    assert len(tws.executions) == 1


# --- no false "absent": what TWS still works or has filled is never reported absent ----------------------


async def test_an_informational_error_on_a_live_order_sends_no_second_order(
    tws: FakeTws, make_venue: Callable[..., IBVenue]
) -> None:
    """ib_async issues #191/#217: 10349 makes ib_async mark the order Cancelled while TWS works it and fills it
    later. Reported absent, it would be sent again: two fills, twice the position."""
    venue = make_venue(order_timeout_s=1)
    await venue.connect()
    await venue.resolve({GBPUSD})
    tws.hold_fills()
    tws.inject_order_notice(10349)

    sent = await venue.submit(buy("notice1", GBPUSD, "20000"))
    working = await venue.lookup(GBPUSD, "notice1", sent_at=datetime.now(UTC))
    tws.release_fills()
    await eventually(lambda: tws.position(GBPUSD, "CASH") == 20000, what="the late fill")
    done = await venue.lookup(GBPUSD, "notice1", sent_at=datetime.now(UTC))
    await venue.close()

    assert (sent.state, working.state) == (OrderState.OPEN, OrderState.OPEN)
    assert (done.state, done.filled_qty) == (OrderState.FILLED, 20000)
    assert len(tws.received(PLACE_ORDER)) == 1
    assert tws.position(GBPUSD, "CASH") == 20000


async def test_an_informational_error_then_a_prompt_fill_is_one_fill(tws: FakeTws, venue: IBVenue) -> None:
    await venue.resolve({GBPUSD})
    tws.inject_order_notice(10349)

    result = await venue.submit(buy("notice2", GBPUSD, "20000"))

    assert (result.state, result.filled_qty) == (OrderState.FILLED, 20000)
    assert len(tws.received(PLACE_ORDER)) == 1


async def test_an_inactive_order_is_not_sent_again_and_fills_once_active(
    tws: FakeTws, make_venue: Callable[..., IBVenue]
) -> None:
    """IBKR: Inactive is an order not yet activated or transmitted; a held order (404, shares being located) is
    transmitted later. ib_async counts Inactive as done; TWS still lists it among its open orders."""
    venue = make_venue(order_timeout_s=1)
    await venue.connect()
    await venue.resolve({GBPUSD})
    tws.hold_inactive("locate")

    with pytest.raises(OutcomeUnknown, match="TWS holds it Inactive: locate"):
        await venue.submit(sell("inactive1", GBPUSD, "20000"))
    held = await venue.lookup(GBPUSD, "inactive1", sent_at=datetime.now(UTC))
    tws.activate_inactive()
    await eventually(lambda: tws.position(GBPUSD, "CASH") == -20000, what="the fill after activation")
    done = await venue.lookup(GBPUSD, "inactive1", sent_at=datetime.now(UTC))
    await venue.close()

    assert held.state is OrderState.OPEN
    assert (done.state, done.filled_qty) == (OrderState.FILLED, 20000)
    assert len(tws.received(PLACE_ORDER)) == 1
    assert tws.position(GBPUSD, "CASH") == -20000


async def test_an_order_listed_as_working_stays_open_though_it_fills_during_the_lookup(
    tws: FakeTws, make_venue: Callable[..., IBVenue]
) -> None:
    """The open-orders reply is judged as it stands: the fill that arrives after the executions were read is in
    neither completed orders nor executions, so judging the listed order by its later, local status said absent."""
    venue = make_venue(order_timeout_s=1)
    await venue.connect()
    await venue.resolve({GBPUSD})
    tws.hold_inactive()
    with pytest.raises(OutcomeUnknown, match="Inactive"):
        await venue.submit(buy("race1", GBPUSD, "20000"))
    tws.activate_inactive(after=REQ_EXECUTIONS)

    during = await venue.lookup(GBPUSD, "race1", sent_at=datetime.now(UTC))
    after = await venue.lookup(GBPUSD, "race1", sent_at=datetime.now(UTC))
    await venue.close()

    assert during.state is OrderState.OPEN
    assert (after.state, after.filled_qty) == (OrderState.FILLED, 20000)
    assert len(tws.received(PLACE_ORDER)) == 1


async def test_a_fill_before_tws_midnight_is_still_found_after_it(tmp_path: Path) -> None:
    with running_tws(trade_log_days=2) as tws:
        venue = IBVenue(settings_for(tws), cache_path=tmp_path / "c.json")
        await venue.connect()
        await venue.resolve({GBPUSD})
        sent_at = datetime.now(UTC)
        await venue.submit(buy("midnight1", GBPUSD, "10000"))
        tws.start_new_day()  # executions and completed orders from before now are yesterday's

        found = await venue.lookup(GBPUSD, "midnight1", sent_at=sent_at)
        await venue.close()
        since = parse_tws_time(tws.received(REQ_EXECUTIONS)[-1].fields[5])

    assert (found.state, found.filled_qty) == (OrderState.FILLED, 10000)
    # never later than the send time, and back at least a day so TWS's own day is never cut short
    assert since <= sent_at - CLOCK_MARGIN
    assert since <= datetime.now(UTC) - timedelta(days=1)


async def test_an_order_sent_days_ago_is_looked_up_from_its_send_time(tmp_path: Path) -> None:
    with running_tws(trade_log_days=7) as tws:  # TWS's Trade Log set to show a week
        venue = IBVenue(settings_for(tws), cache_path=tmp_path / "c.json")
        await venue.connect()
        await venue.resolve({GBPUSD})
        await venue.submit(buy("old1", GBPUSD, "10000"))
        tws.age_history(timedelta(days=3))
        tws.start_new_day()
        sent_at = datetime.now(UTC).replace(microsecond=0) - timedelta(days=3, seconds=5)

        found = await venue.lookup(GBPUSD, "old1", sent_at=sent_at)
        since = parse_tws_time(tws.received(REQ_EXECUTIONS)[-1].fields[5])
        unknown_send_time = await venue.lookup(GBPUSD, "old1")
        await venue.close()

    assert (found.state, found.filled_qty) == (OrderState.FILLED, 10000)
    assert since == sent_at - CLOCK_MARGIN
    assert (unknown_send_time.state, unknown_send_time.filled_qty) == (OrderState.FILLED, 10000)


async def test_lookup_of_an_unknown_client_id_is_absent(venue: IBVenue) -> None:
    assert (await venue.lookup(EURUSD, "never-sent")).state is OrderState.ABSENT


async def test_unknown_symbols_are_rejected_without_an_order(tws: FakeTws, venue: IBVenue) -> None:
    with pytest.raises(OrderRejected, match=r"EUR\.XYZ"):
        await venue.submit(buy("x", "EUR.XYZ", "1"))

    assert tws.received(PLACE_ORDER) == []


# --- connection loss ----------------------------------------------------------------------------------


async def test_a_dropped_connection_is_reported_retried_and_restored(tws: FakeTws, venue: IBVenue) -> None:
    lost: list[str] = []
    restored: list[bool] = []
    venue.on_disconnect = lost.append
    venue.on_reconnect = lambda: restored.append(True)
    await venue.resolve({GBPUSD})
    tws.stop_listening()
    tws.drop_connections()

    await eventually(lambda: bool(lost), what="disconnect reported")
    with pytest.raises(VenueUnavailable, match="not connected"):
        await venue.submit(buy("down1", GBPUSD, "1000"))
    with pytest.raises(VenueUnavailable):
        await venue.positions()
    tws.start_listening()
    await eventually(lambda: bool(restored), what="reconnected")

    assert "connection to TWS/IB Gateway" in lost[0]
    assert len(lost) == len(restored) == 1
    assert tws.handshakes >= 2
    assert (await venue.submit(buy("up1", GBPUSD, "1000"))).state is OrderState.FILLED
    assert [o.order_ref for o in tws.orders] == ["up1"]  # nothing was sent while disconnected


async def test_a_client_id_taken_while_disconnected_is_told_once_and_retried(
    tws: FakeTws, venue: IBVenue, caplog: pytest.LogCaptureFixture
) -> None:
    restored: list[bool] = []
    venue.on_disconnect = lambda reason: None
    venue.on_reconnect = lambda: restored.append(True)
    tws.occupy_client_id(1)  # another application takes the id while TWS restarts

    with caplog.at_level(logging.INFO, logger="csmc"):
        tws.drop_connections()
        await tws.wait_for(lambda t: t.handshakes >= 3, 10, "two refused reconnections")
        tws.free_client_id(1)
        await eventually(lambda: bool(restored), what="reconnected")

    told = [r for r in caplog.records if r.levelno == logging.ERROR and "refused client id 1" in r.getMessage()]
    assert len(told) == 1
    assert await venue.positions() == []


async def test_ib_connectivity_loss_pauses_trading_until_restored(tws: FakeTws, venue: IBVenue) -> None:
    lost: list[str] = []
    restored: list[bool] = []
    venue.on_disconnect = lost.append
    venue.on_reconnect = lambda: restored.append(True)
    await venue.resolve({GBPUSD})

    tws.connectivity_lost()
    await eventually(lambda: bool(lost), what="1100 reported")
    with pytest.raises(VenueUnavailable, match="1100"):
        await venue.submit(buy("paused1", GBPUSD, "1000"))
    with pytest.raises(VenueUnavailable, match="1100"):
        await venue.lookup(GBPUSD, "paused1")
    tws.connectivity_restored()
    await eventually(lambda: bool(restored), what="1102 reported")

    assert "lost its connection to Interactive Brokers" in lost[0]
    assert tws.received(PLACE_ORDER) == []
    assert (await venue.submit(buy("resumed1", GBPUSD, "1000"))).state is OrderState.FILLED


async def test_a_broken_server_link_pauses_until_the_farms_are_back(tws: FakeTws, venue: IBVenue) -> None:
    lost: list[str] = []
    restored: list[bool] = []
    venue.on_disconnect = lost.append
    venue.on_reconnect = lambda: restored.append(True)
    await venue.resolve({GBPUSD})

    tws.broadcast_error(2110)
    await eventually(lambda: bool(lost), what="2110 reported")
    with pytest.raises(VenueUnavailable, match="2110"):
        await venue.submit(buy("broken1", GBPUSD, "1000"))
    tws.broadcast_error(2104)
    await eventually(lambda: bool(restored), what="farm OK after 2110")

    assert (await venue.submit(buy("mended1", GBPUSD, "1000"))).state is OrderState.FILLED
    assert [o.order_ref for o in tws.orders] == ["mended1"]


# --- error codes --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (2104, Kind.INFO),
        (2106, Kind.INFO),
        (2158, Kind.INFO),
        (1100, Kind.CONNECTIVITY_LOST),
        (2110, Kind.CONNECTIVITY_LOST),
        (1101, Kind.RESTORED_DATA_LOST),
        (1102, Kind.RESTORED_DATA_KEPT),
        (502, Kind.SOCKET),
        (504, Kind.SOCKET),
        (326, Kind.CLIENT_ID_IN_USE),
        (201, Kind.REJECTED),
        (103, Kind.REJECTED),
        (110, Kind.REJECTED),
        (200, Kind.REJECTED),
        (2103, Kind.WARNING),
        (404, Kind.WARNING),
        (10349, Kind.WARNING),
        (202, Kind.TRANSIENT),
        (162, Kind.TRANSIENT),
    ],
)
def test_error_codes_are_classified(code: int, kind: Kind) -> None:
    assert classify(code) is kind


@pytest.mark.parametrize(
    ("sdk_value", "text"),
    [
        (2000.0, "2000"),
        (25000.0, "25000"),  # not 2.5E+4
        (0.1, "0.1"),  # the decimal TWS wrote, not the binary float's expansion
        (100.5, "100.5"),
        (-300.0, "-300"),
        (-0.0, "0"),
        (1.7976931348623157e308, "0"),  # TWS's "unset"
        (Decimal("0.50"), "0.5"),
    ],
)
def test_sdk_numbers_become_plain_decimals(sdk_value: float | Decimal, text: str) -> None:
    assert str(plain_decimal(sdk_value)) == text
