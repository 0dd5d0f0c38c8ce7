"""The KuCoin adapter through kucoin-universal-sdk's real transport against the fake KuCoin, in this process.

These tests pin what the engine relies on: rules in base units, positions that are never a partial picture,
orders sent once with KuCoin's own modes, and — above all — the "absent" rule: an order whose answer was
lost is declared never placed only once KuCoin can no longer admit it and has had time to show it.

KuCoin's timestamp window is 5 s; the fake's and the adapter's are shortened together (WINDOW), and the
adapter's clock margin with them (MARGIN), so that the rule's waits take a second or two here.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import types
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from pydantic import SecretStr

from sidecar.config import KuCoinSettings
from sidecar.errors import AuthError, ConfigError, OrderRejected, OutcomeUnknown, VenueUnavailable
from sidecar.model import Leg, LegKey, MarginMode, OrderRequest, OrderState, PositionMode, Side, VenuePosition
from sidecar.venues.kucoin import KuCoinVenue
from sidecar.venues.kucoin import adapter as adapter_module
from sidecar.venues.kucoin.adapter import endpoint_url
from tests.fakes.kucoin import FakeKuCoin, Fault, iter_lines
from tests.secrets import find_secrets
from tests.venues.kucoin.conftest import API_KEY, PASSPHRASE, SECRET, signed

D = Decimal
WINDOW = 300  # ms
MARGIN = 200  # ms
GRACE = 0.3  # s: below the profile's smallest (1 s), set without validation to keep the waits short
SPOT_ORDER = "/api/v1/hf/orders/sync"
FUT_ORDER = "/api/v1/orders"


def settings(url: str, endpoint: str = "spot", grace: float = GRACE, **extra: Any) -> KuCoinSettings:
    values: dict[str, Any] = {
        "endpoint": endpoint,
        "api_url": url,
        "api_key": SecretStr(API_KEY),
        "secret_key": SecretStr(SECRET),
        "passphrase": SecretStr(PASSPHRASE),
        "request_timeout_s": 1.0,
    }
    return KuCoinSettings(**(values | extra)).model_copy(update={"lost_order_grace_s": grace})


async def connected(fake: FakeKuCoin, endpoint: str = "spot", **extra: Any) -> KuCoinVenue:
    fake.timestamp_window_ms = WINDOW
    venue = KuCoinVenue(
        settings(fake.url(endpoint), endpoint, **extra), timestamp_window_ms=WINDOW, clock_margin_ms=MARGIN
    )
    await venue.connect()
    return venue


@pytest.fixture
async def spot(fake: FakeKuCoin) -> AsyncIterator[KuCoinVenue]:
    venue = await connected(fake)
    yield venue
    await venue.close()


@pytest.fixture
async def futures(fake: FakeKuCoin) -> AsyncIterator[KuCoinVenue]:
    venue = await connected(fake, "futures")
    yield venue
    await venue.close()


def buy(cid: str, qty: str, symbol: str = "BTC-USDT", leg: Leg = Leg.NET) -> OrderRequest:
    return OrderRequest(cid, symbol, Side.BUY, D(qty), leg)


def sell(cid: str, qty: str, symbol: str = "BTC-USDT", leg: Leg = Leg.NET, reduce_only: bool = False) -> OrderRequest:
    return OrderRequest(cid, symbol, Side.SELL, D(qty), leg, reduce_only)


async def until(condition: Any, what: str, fake: FakeKuCoin, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}\n" + "\n".join(iter_lines(fake.requests[-20:])))
        await asyncio.sleep(0.01)


# --- settings and rules ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("endpoint", "given", "used"),
    [
        ("spot", "", "https://api.kucoin.com"),
        ("futures", "", "https://api-futures.kucoin.com"),
        ("spot", "http://127.0.0.1:8080/", "http://127.0.0.1:8080"),
    ],
)
def test_the_api_url_defaults_to_kucoins_own(endpoint: str, given: str, used: str) -> None:
    assert endpoint_url(endpoint, given) == used


@pytest.mark.parametrize(
    ("endpoint", "given", "says"),
    [
        ("spot", "api.kucoin.com", "is not a URL"),
        ("spot", "https://api-futures.kucoin.com", "is KuCoin's futures URL"),
        ("futures", "https://api.kucoin.com", "is KuCoin's spot URL"),
        ("spot", "https://openapi-sandbox.kucoin.com", "retired in 2023"),
    ],
)
def test_a_wrong_api_url_is_a_config_error_that_says_what_to_write(endpoint: str, given: str, says: str) -> None:
    with pytest.raises(ConfigError, match=r"\[kucoin\] api_url") as caught:
        endpoint_url(endpoint, given)

    assert says in str(caught.value)


async def test_connect_without_the_passphrase_says_where_to_put_it(fake: FakeKuCoin) -> None:
    venue = KuCoinVenue(settings(fake.spot_url, passphrase=SecretStr("")))

    with pytest.raises(ConfigError, match=r"api_key, secret_key and passphrase in the \[kucoin\] section"):
        await venue.connect()
    assert fake.requests == []


async def test_spot_rules_come_from_the_symbol_list(spot: KuCoinVenue) -> None:
    rules = await spot.instruments()

    btc = rules["BTC-USDT"]
    assert (btc.base, btc.quote, btc.lot_step, btc.min_qty, btc.min_notional, btc.tick, btc.max_qty) == (
        "BTC",
        "USDT",
        D("0.00001"),
        D("0.00001"),
        D("0.1"),
        D("0.1"),
        D("10000000000"),
    )
    assert rules["LUNA-USDT"].trading is False  # listed, not trading: kept, so the engine knows it
    assert spot.venue_symbol("btc", "usdt") == "BTC-USDT"


async def test_futures_rules_are_in_base_units_and_btc_is_xbt(fake: FakeKuCoin) -> None:
    fake.set_contract("ETHUSDTM", status="Paused")
    venue = await connected(fake, "futures")

    rules = await venue.instruments()

    xbt = rules["XBTUSDTM"]
    assert (xbt.base, xbt.lot_step, xbt.min_qty, xbt.max_qty, xbt.multiplier, xbt.tick) == (
        "XBT",
        D("0.001"),
        D("0.001"),
        D(1000),
        D(1),
        D("0.1"),
    )
    assert rules["XRPUSDTM"].lot_step == D(10)
    assert rules["ETHUSDTM"].trading is False
    assert "XBTUSDM" not in rules  # inverse: not copied
    assert venue.venue_symbol("BTC", "USDT") == "XBTUSDTM"
    assert venue.venue_symbol("ETH", "USDT") == "ETHUSDTM"
    await venue.close()


async def test_refreshed_rules_replace_the_old_ones_in_the_same_mapping(fake: FakeKuCoin, spot: KuCoinVenue) -> None:
    rules = await spot.instruments()
    fake.set_spot_rule("BTC-USDT", baseIncrement="0.001", enableTrading=False)

    refreshed = await spot.refresh_instruments()

    assert refreshed is rules  # the symbol mapper holds this mapping
    assert (rules["BTC-USDT"].lot_step, rules["BTC-USDT"].trading) == (D("0.001"), False)


async def test_a_missing_symbol_has_the_list_read_again_at_most_once_a_minute(
    fake: FakeKuCoin, spot: KuCoinVenue, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake.spot_symbols["NEW-USDT"] = {**fake.spot_symbols["KCS-USDT"], "symbol": "NEW-USDT", "baseCurrency": "NEW"}

    await spot.resolve({"NEW-USDT"})  # the list was read at connect, less than a minute ago
    assert "NEW-USDT" not in await spot.instruments()
    monkeypatch.setattr(adapter_module, "RELOAD_INTERVAL_S", 0.0)
    await spot.resolve({"NEW-USDT"})

    assert "NEW-USDT" in await spot.instruments()
    assert len(fake.requests_to("GET", "/api/v2/symbols")) == 2


# --- Spot account and positions ----------------------------------------------------------------------


async def test_spot_positions_are_base_balances_with_holds(fake: FakeKuCoin, spot: KuCoinVenue) -> None:
    fake.set_spot_balance("BTC", "0.5", "0.25")
    fake.set_spot_balance("ETH", "2")
    fake.set_spot_balance("EUR", "100")  # no EUR-USDT market: not a position
    fake.set_spot_balance("KCS", "0")

    positions = await spot.positions()
    summary = await spot.account()

    assert positions == [VenuePosition(LegKey("BTC-USDT"), D("0.75")), VenuePosition(LegKey("ETH-USDT"), D(2))]
    assert summary.position_mode is PositionMode.SPOT
    assert summary.balances["USDT"] == D(100_000)
    assert "KCS" not in summary.balances
    assert "165111215" in summary.account_id


async def test_an_override_decides_which_instrument_a_balance_belongs_to(fake: FakeKuCoin) -> None:
    fake.set_spot_balance("ETH", "3")
    fake.timestamp_window_ms = WINDOW
    venue = KuCoinVenue(
        settings(fake.spot_url), position_symbols=["ETH-BTC"], timestamp_window_ms=WINDOW, clock_margin_ms=MARGIN
    )
    await venue.connect()

    assert await venue.positions() == [VenuePosition(LegKey("ETH-BTC"), D(3))]
    await venue.close()


async def test_a_key_without_the_spot_permission_is_refused_at_connect(fake: FakeKuCoin) -> None:
    fake.permissions.discard("Spot")

    with pytest.raises(AuthError, match="lacks the Spot permission") as caught:
        await connected(fake)

    assert "API Management" in str(caught.value)


async def test_the_key_is_read_on_the_spot_host_only(fake: FakeKuCoin, futures: KuCoinVenue) -> None:
    # With the fake's futures URL there is no Spot host to ask: the futures connect proved the key otherwise.
    assert fake.requests_to("GET", "/api/v1/user/api-key") == []
    assert fake.requests_to("GET", "/api/v2/position/getPositionMode")[0].status == 200


async def test_check_warns_about_balances_and_a_key_without_ip_restriction(fake: FakeKuCoin, spot: KuCoinVenue) -> None:
    fake.set_spot_balance("BTC", "0.1")
    fake.set_spot_balance("KCS", "1.5")
    fake.set_spot_balance("EUR", "20")

    warnings = await spot.check_warnings(["BTC-USDT"])

    assert len(warnings) == 3
    assert warnings[0].startswith("The API key has no IP restriction")
    assert warnings[1].startswith(
        "20 EUR is neither a traded currency nor the quote currency USDT; the copier ignores it"
    )
    assert warnings[2].startswith("1.5 KCS is neither a traded currency nor the quote currency USDT")
    assert "KCS-USDT position" in warnings[2]


async def test_a_key_with_an_ip_restriction_is_not_warned_about(fake: FakeKuCoin) -> None:
    fake.ip_whitelist = "203.0.113.7"
    venue = await connected(fake)

    assert await venue.check_warnings([]) == []
    await venue.close()


# --- Futures account, positions, modes ---------------------------------------------------------------


async def test_futures_one_way_positions_are_signed_base_units(fake: FakeKuCoin, futures: KuCoinVenue) -> None:
    fake.set_position("XBTUSDTM", -250)
    fake.set_position("ETHUSDTM", 150)
    fake.set_position("XBTUSDM", 1000)  # inverse: not this copier's

    assert (await futures.account()).position_mode is PositionMode.ONE_WAY
    assert await futures.positions() == [
        VenuePosition(LegKey("ETHUSDTM"), D("1.5")),
        VenuePosition(LegKey("XBTUSDTM"), D("-0.25")),
    ]


async def test_futures_hedge_mode_reports_long_and_short_legs(fake: FakeKuCoin, futures: KuCoinVenue) -> None:
    """The SDK's typed position model knows positionSide BOTH only, fails on LONG and hands back no positions
    at all; read from KuCoin's bytes, the legs are all there."""
    fake.position_mode = 1
    fake.set_position("XBTUSDTM", 300, "LONG")
    fake.set_position("XBTUSDTM", -100, "SHORT")

    assert (await futures.account()).position_mode is PositionMode.HEDGE
    assert sorted(await futures.positions(), key=lambda p: p.key) == [
        VenuePosition(LegKey("XBTUSDTM", Leg.LONG), D("0.3")),
        VenuePosition(LegKey("XBTUSDTM", Leg.SHORT), D("0.1")),
    ]


async def test_an_unreadable_position_row_fails_the_read_rather_than_hide_a_position(
    fake: FakeKuCoin, futures: KuCoinVenue
) -> None:
    fake.set_position("XBTUSDTM", 3)
    fake.inject("GET", "/api/v1/positions", Fault(status=200, raw=b'{"code":"200000","data":[{"symbol":"XBTUSDTM"}]}'))

    with pytest.raises(VenueUnavailable):
        await futures.positions()


@pytest.mark.parametrize(
    ("margin", "mode", "says"),
    [
        (MarginMode.NETTING, PositionMode.HEDGE, "Switch KuCoin to One-Way Mode"),
        (MarginMode.HEDGING, PositionMode.ONE_WAY, "Switch KuCoin to Hedge Mode"),
    ],
)
def test_a_position_mode_mismatch_says_how_to_change_it(margin: MarginMode, mode: PositionMode, says: str) -> None:
    venue = KuCoinVenue(settings("", "futures"))

    with pytest.raises(ConfigError) as caught:
        venue.check_account_mode(margin, mode)

    assert says in str(caught.value)
    assert "Preferences → Position Mode" in str(caught.value)
    assert "no open positions and no pending orders" in str(caught.value)


def test_matching_position_modes_and_spot_with_either_mt5_account_are_accepted() -> None:
    futures = KuCoinVenue(settings("", "futures"))
    spot = KuCoinVenue(settings(""))

    futures.check_account_mode(MarginMode.NETTING, PositionMode.ONE_WAY)
    futures.check_account_mode(MarginMode.HEDGING, PositionMode.HEDGE)
    spot.check_account_mode(MarginMode.HEDGING, PositionMode.SPOT)
    spot.check_account_mode(MarginMode.NETTING, PositionMode.SPOT)


async def test_check_shows_each_traded_contracts_margin_mode(fake: FakeKuCoin, futures: KuCoinVenue) -> None:
    fake.margin_modes["XBTUSDTM"] = "CROSS"

    details = await futures.check_details(["XBTUSDTM", "ETHUSDTM", "NOSUCH"])

    assert details == [("Margin mode", "ETHUSDTM isolated (orders open at leverage 1), XBTUSDTM cross")]


# --- orders ------------------------------------------------------------------------------------------


async def test_a_spot_order_carries_the_client_id_and_a_plain_size(fake: FakeKuCoin, spot: KuCoinVenue) -> None:
    result = await spot.submit(buy("cs0a1b2c3d4e5f6789", "0.0100"))

    assert (result.state, result.filled_qty, result.avg_price) == (OrderState.FILLED, D("0.01"), D(60000))
    sent = fake.requests_to("POST", SPOT_ORDER)[-1].params
    assert sent == {
        "clientOid": "cs0a1b2c3d4e5f6789",
        "symbol": "BTC-USDT",
        "side": "buy",
        "type": "market",
        "size": "0.01",
    }
    assert fake.spot_balance("BTC") == D("0.01")


async def test_a_futures_order_is_sized_in_lots_with_kucoins_margin_mode(
    fake: FakeKuCoin, futures: KuCoinVenue
) -> None:
    fake.margin_modes["XBTUSDTM"] = "CROSS"

    result = await futures.submit(buy("cs-cross", "0.005", "XBTUSDTM"))
    await futures.submit(buy("cs-isolated", "0.2", "ETHUSDTM"))

    assert (result.state, result.filled_qty, result.avg_price) == (OrderState.FILLED, D("0.005"), D(60000))
    cross, isolated = (r.params for r in fake.requests_to("POST", FUT_ORDER))
    assert (cross["size"], cross["marginMode"], "leverage" in cross) == (5, "CROSS", False)
    assert (isolated["size"], isolated["marginMode"], isolated["leverage"]) == (20, "ISOLATED", 1)
    assert fake.position("XBTUSDTM") == 5


async def test_one_way_closing_orders_are_reduce_only_without_leverage(fake: FakeKuCoin, futures: KuCoinVenue) -> None:
    await futures.submit(buy("csopen", "0.01", "XBTUSDTM"))
    await futures.submit(sell("csclose", "0.01", "XBTUSDTM", reduce_only=True))

    opened, closed = (r.params for r in fake.requests_to("POST", FUT_ORDER))
    assert "reduceOnly" not in opened and "positionSide" not in opened
    assert closed["reduceOnly"] is True and "leverage" not in closed
    assert fake.position("XBTUSDTM") == 0


async def test_hedge_orders_carry_the_position_side_and_never_reduce_only(
    fake: FakeKuCoin, futures: KuCoinVenue
) -> None:
    fake.position_mode = 1
    await futures.submit(buy("csopen", "0.01", "XBTUSDTM", Leg.LONG))
    await futures.submit(sell("csclose", "0.01", "XBTUSDTM", Leg.LONG, reduce_only=True))
    await futures.submit(sell("csshort", "0.002", "XBTUSDTM", Leg.SHORT))

    sent = [r.params for r in fake.requests_to("POST", FUT_ORDER)]
    assert [p["positionSide"] for p in sent] == ["LONG", "LONG", "SHORT"]
    assert all("reduceOnly" not in p for p in sent)
    assert fake.position("XBTUSDTM", "SHORT") == -2
    assert fake.position("XBTUSDTM", "LONG") == 0


async def test_a_margin_mode_changed_on_kucoin_is_read_again_and_the_order_sent_once_more(
    fake: FakeKuCoin, futures: KuCoinVenue
) -> None:
    await futures.submit(buy("csfirst", "0.001", "XBTUSDTM"))  # ISOLATED, now cached
    fake.margin_modes["XBTUSDTM"] = "CROSS"

    result = await futures.submit(buy("csagain", "0.001", "XBTUSDTM"))

    posts = [r for r in fake.requests_to("POST", FUT_ORDER) if r.params["clientOid"] == "csagain"]
    assert [(p.code, p.params["marginMode"]) for p in posts] == [("330005", "ISOLATED"), ("", "CROSS")]
    assert result.state is OrderState.FILLED
    assert len(fake.executions_of("csagain")) == 1


@pytest.mark.parametrize(
    ("prepare", "order", "says"),
    [
        (lambda f: f.set_spot_rule("BTC-USDT", baseIncrement="0.001"), "0.0015", "code 400100"),
        (lambda f: f.set_spot_balance("USDT", "10"), "0.01", "the balance is insufficient"),
        (lambda f: f.prices.update({"BTC-USDT": D(1000)}), "0.00005", "minimum funds"),
    ],
)
async def test_spot_rejections_say_what_and_what_to_do(
    fake: FakeKuCoin, spot: KuCoinVenue, prepare: Any, order: str, says: str
) -> None:
    prepare(fake)

    with pytest.raises(OrderRejected) as caught:
        await spot.submit(buy("csrej", order))

    assert says in str(caught.value)
    assert fake.executions == []


async def test_a_size_rejection_has_the_rules_read_again(fake: FakeKuCoin, spot: KuCoinVenue) -> None:
    rules = await spot.instruments()
    fake.set_spot_rule("BTC-USDT", baseIncrement="0.001", baseMinSize="0.001")

    with pytest.raises(OrderRejected, match="read again"):
        await spot.submit(buy("csstep", "0.0015"))

    assert (rules["BTC-USDT"].lot_step, rules["BTC-USDT"].min_qty) == (D("0.001"), D("0.001"))


@pytest.mark.parametrize(
    ("prepare", "code", "says"),
    [
        (lambda f: setattr(f, "futures_equity", D(10)), "300003", "Add USDT"),
        (lambda f: f.max_open_value.update({"XBTUSDTM": D(10)}), "330008", "maximum open size"),
    ],
)
async def test_futures_rejections_say_what_and_what_to_do(
    fake: FakeKuCoin, futures: KuCoinVenue, prepare: Any, code: str, says: str
) -> None:
    prepare(fake)

    with pytest.raises(OrderRejected) as caught:
        await futures.submit(buy("csrej", "0.01", "XBTUSDTM"))

    assert f"code {code}" in str(caught.value)
    assert says in str(caught.value)


async def test_a_quantity_that_is_not_whole_lots_is_not_sent(fake: FakeKuCoin, futures: KuCoinVenue) -> None:
    with pytest.raises(OrderRejected, match=r"not a whole number of XBTUSDTM lots of 0\.001"):
        await futures.submit(buy("cshalf", "0.0015", "XBTUSDTM"))

    assert fake.requests_to("POST", FUT_ORDER) == []


# --- lost answers and the "absent" rule --------------------------------------------------------------


async def test_an_answer_lost_after_execution_is_unknown_and_the_lookup_finds_it(
    fake: FakeKuCoin, futures: KuCoinVenue
) -> None:
    fake.inject("POST", FUT_ORDER, Fault(execute=True, stall=5))

    with pytest.raises(OutcomeUnknown):
        await futures.submit(buy("cstimeout", "0.01", "XBTUSDTM"))
    found = await futures.lookup("XBTUSDTM", "cstimeout")

    assert (found.state, found.filled_qty, found.avg_price) == (OrderState.FILLED, D("0.01"), D(60000))
    assert len(fake.executions_of("cstimeout")) == 1
    assert fake.requests_to("GET", "/api/v1/orders/byClientOid")[-1].params == {"clientOid": "cstimeout"}


@pytest.mark.parametrize("style", ["error", "null"])
async def test_an_order_kucoin_never_got_is_absent_only_once_its_window_and_the_grace_have_passed(
    fake: FakeKuCoin, spot: KuCoinVenue, style: str
) -> None:
    fake.not_found_style = style
    fake.inject("POST", SPOT_ORDER, Fault(status=503, msg="Service Unavailable"))

    with pytest.raises(OutcomeUnknown):
        await spot.submit(buy("csunknown", "0.01"))
    found = await spot.lookup("BTC-USDT", "csunknown")

    assert found.state is OrderState.ABSENT
    (post,) = fake.requests_to("POST", SPOT_ORDER)
    lookups = fake.requests_to("GET", "/api/v1/hf/orders/client-order/csunknown")
    assert len(lookups) == 2  # not found → wait → asked once more
    earliest = post.signed_ms + WINDOW + MARGIN + GRACE * 1000
    assert lookups[1].server_ms >= earliest  # asked again only once KuCoin's clock had passed the deadline
    (fills,) = fake.requests_to("GET", "/api/v1/hf/fills")
    assert int(fills.params["startAt"]) <= post.signed_ms - WINDOW and int(fills.params["endAt"]) >= earliest
    assert fake.executions == []


async def test_an_order_reaching_kucoin_after_its_window_is_refused_and_proven_absent(
    fake: FakeKuCoin, spot: KuCoinVenue
) -> None:
    on_its_way = threading.Event()
    fake.inject("POST", SPOT_ORDER, Fault(hold=on_its_way))
    try:
        with pytest.raises(OutcomeUnknown):
            await spot.submit(buy("cslate", "0.01"))  # times out after 1 s: the request is still on its way
        lookup = asyncio.create_task(spot.lookup("BTC-USDT", "cslate"))
        await until(
            lambda: len(fake.requests_to("GET", "/api/v1/hf/orders/client-order/cslate")) >= 1, "a lookup", fake
        )
        on_its_way.set()  # it arrives now, past its window: KuCoin refuses it
        found = await lookup
    finally:
        on_its_way.set()

    assert found.state is OrderState.ABSENT
    assert fake.executions == []
    await until(lambda: fake.requests_to("POST", SPOT_ORDER)[0].code == "400002", "the refusal", fake)


async def test_an_order_admitted_in_time_but_executed_late_is_found_not_sent_twice(fake: FakeKuCoin) -> None:
    """Admitted by the gateway within its window, the order sits inside KuCoin past the window and the
    first lookup: the grace period is what keeps "absent" from doubling it."""
    spot = await connected(fake, grace=1.5)  # longer than the 1 s the answer is waited for
    inside = threading.Event()
    fake.inject("POST", SPOT_ORDER, Fault(hold_admitted=inside))
    try:
        with pytest.raises(OutcomeUnknown):
            await spot.submit(buy("csqueued", "0.01"))
        lookup = asyncio.create_task(spot.lookup("BTC-USDT", "csqueued"))
        await until(
            lambda: len(fake.requests_to("GET", "/api/v1/hf/orders/client-order/csqueued")) >= 1,
            "a first lookup",
            fake,
        )
        inside.set()  # executed now, past its window, within the grace period
        found = await lookup
    finally:
        inside.set()
        await spot.close()

    assert (found.state, found.filled_qty) == (OrderState.FILLED, D("0.01"))
    assert len(fake.executions_of("csqueued")) == 1


async def test_an_order_its_client_id_does_not_show_is_found_by_its_fill(
    fake: FakeKuCoin, futures: KuCoinVenue, caplog: pytest.LogCaptureFixture
) -> None:
    fake.inject("POST", FUT_ORDER, Fault(execute=True, stall=5))
    fake.hidden_client_oids.add("cslag")  # KuCoin's client-id index lags behind its fills

    with pytest.raises(OutcomeUnknown):
        await futures.submit(buy("cslag", "0.003", "XBTUSDTM"))
    with caplog.at_level(logging.WARNING, logger="csmc.kucoin"):
        found = await futures.lookup("XBTUSDTM", "cslag")

    assert (found.state, found.filled_qty) == (OrderState.FILLED, D("0.003"))
    assert "found by its fill" in caplog.text
    assert len(fake.executions_of("cslag")) == 1


async def test_other_orders_fills_do_not_stop_the_proof(fake: FakeKuCoin, futures: KuCoinVenue) -> None:
    await futures.submit(buy("csmine", "0.001", "XBTUSDTM"))  # known here: not looked up again
    fake.inject("POST", FUT_ORDER, Fault(status=500, code="500000", msg="Internal Server Error"))
    with pytest.raises(OutcomeUnknown):
        await futures.submit(buy("csgone", "0.001", "XBTUSDTM"))
    manual = {
        "clientOid": "by-hand",
        "symbol": "XBTUSDTM",
        "side": "buy",
        "type": "market",
        "size": 1,
        "marginMode": "ISOLATED",
        "leverage": 3,
    }
    signed(fake, "POST", FUT_ORDER, manual, market="futures")  # a trade made on KuCoin meanwhile
    mark = len(fake.requests)

    found = await futures.lookup("XBTUSDTM", "csgone")

    assert found.state is OrderState.ABSENT
    by_id = [
        r.path for r in fake.requests[mark:] if r.path.startswith("/api/v1/orders/") and "byClientOid" not in r.path
    ]
    assert by_id == [f"/api/v1/orders/{fake.orders['futures'][-1]['id']}"]  # the manual order's fill, by its id


async def test_too_many_fills_to_check_is_no_proof(
    fake: FakeKuCoin, spot: KuCoinVenue, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(adapter_module, "FILLS_PAGE", 2)
    fake.inject("POST", SPOT_ORDER, Fault(status=503, msg="Service Unavailable"))
    with pytest.raises(OutcomeUnknown):
        await spot.submit(buy("csbusy", "0.01"))
    for n in range(2):
        signed(
            fake,
            "POST",
            SPOT_ORDER,
            {"clientOid": f"hand{n}", "symbol": "BTC-USDT", "side": "buy", "type": "market", "size": "0.001"},
        )

    with pytest.raises(VenueUnavailable, match="too many fills"):
        await spot.lookup("BTC-USDT", "csbusy")


async def test_an_order_kucoin_acknowledged_is_never_absent(fake: FakeKuCoin, futures: KuCoinVenue) -> None:
    fake.inject("GET", "/api/v1/orders/*", Fault(status=503, msg="Service Unavailable"))

    opened = await futures.submit(buy("csack", "0.001", "XBTUSDTM"))
    fake.hidden_client_oids.add("csack")

    assert opened.state is OrderState.OPEN  # accepted, its fill not read yet
    with pytest.raises(VenueUnavailable, match="accepted order csack"):
        await futures.lookup("XBTUSDTM", "csack")


async def test_an_order_of_an_earlier_run_waits_from_this_runs_first_clock_reading(fake: FakeKuCoin) -> None:
    venue = await connected(fake)  # nothing sent by this run: the order's timestamp is unknown
    (clock,) = fake.requests_to("GET", "/api/v1/timestamp")

    found = await venue.lookup("BTC-USDT", "csearlier")

    assert found.state is OrderState.ABSENT
    last = fake.requests_to("GET", "/api/v1/hf/orders/client-order/csearlier")[-1]
    assert last.server_ms - clock.server_ms >= 2 * WINDOW + MARGIN + GRACE * 1000
    await venue.close()


async def test_an_earlier_runs_order_is_looked_for_in_the_fills_around_its_journal_time(fake: FakeKuCoin) -> None:
    sent_at = datetime.now(UTC)
    order = {"clientOid": "csbefore", "symbol": "BTC-USDT", "side": "buy", "type": "market", "size": "0.01"}
    signed(fake, "POST", SPOT_ORDER, order)  # what the earlier run sent just before it stopped
    fake.hidden_client_oids.add("csbefore")  # and KuCoin's client-id index does not show it
    venue = await connected(fake)

    found = await venue.lookup("BTC-USDT", "csbefore", sent_at=sent_at)

    assert (found.state, found.filled_qty) == (OrderState.FILLED, D("0.01"))
    (fills,) = fake.requests_to("GET", "/api/v1/hf/fills")
    start, end = int(fills.params["startAt"]), int(fills.params["endAt"])
    assert start <= fake.fills["spot"][-1]["createdAt"] <= end
    assert end - start < 3 * 60_000  # around the send time, not the whole history
    await venue.close()


# --- clock, rate limits, transport -------------------------------------------------------------------


async def test_clock_skew_is_repaired_and_the_order_sent_once_more(fake: FakeKuCoin, spot: KuCoinVenue) -> None:
    fake.clock_offset_ms = 15_000

    result = await spot.submit(buy("csskew", "0.01"))

    assert result.state is OrderState.FILLED
    posts = fake.requests_to("POST", SPOT_ORDER)
    assert [(p.code, p.params["clientOid"]) for p in posts] == [("400002", "csskew"), ("", "csskew")]
    assert len(fake.executions_of("csskew")) == 1


async def test_the_clock_is_taken_from_kucoin_at_connect(fake: FakeKuCoin) -> None:
    fake.clock_offset_ms = -30_000  # this computer runs 30 s ahead of KuCoin
    venue = await connected(fake, "futures")

    await venue.positions()
    await venue.submit(buy("csclock", "0.001", "XBTUSDTM"))

    assert [r for r in fake.requests if r.code == "400002"] == []
    await venue.close()


async def test_a_step_of_this_computers_clock_does_not_move_the_stamps(
    fake: FakeKuCoin, spot: KuCoinVenue, monkeypatch: pytest.MonkeyPatch
) -> None:
    stepped = types.SimpleNamespace(time=lambda: time.time() + 3600, monotonic=time.monotonic)
    monkeypatch.setattr(adapter_module, "time", stepped)

    await spot.positions()
    await spot.submit(buy("csstep", "0.01"))

    assert [r for r in fake.requests if r.code == "400002"] == []


async def test_a_429_blocks_every_request_until_kucoins_reset(fake: FakeKuCoin, spot: KuCoinVenue) -> None:
    fake.inject("POST", SPOT_ORDER, Fault(status=429, code="429000", msg="Too Many Requests", reset_ms=30_000))

    with pytest.raises(VenueUnavailable) as first:
        await spot.submit(buy("cs429", "0.01"))
    sent = len(fake.requests)
    with pytest.raises(VenueUnavailable) as second:
        await spot.positions()
    price = await spot.reference_price("BTC-USDT")

    assert first.value.retry_after == 30
    assert "for 30 s" in str(first.value)
    assert second.value.retry_after is not None and 29 < second.value.retry_after <= 30
    assert price is None
    assert len(fake.requests) == sent  # nothing reached KuCoin during the pause
    assert fake.executions == []


async def test_an_order_to_a_vanished_venue_is_unavailable_not_unknown(fake: FakeKuCoin, spot: KuCoinVenue) -> None:
    fake.stop()

    with pytest.raises(VenueUnavailable, match="nothing was sent"):
        await spot.submit(buy("csgone", "0.01"))


async def test_reference_prices_come_in_one_request(fake: FakeKuCoin, futures: KuCoinVenue) -> None:
    fake.prices["ETHUSDTM"] = D("3210.5")

    prices = await futures.reference_prices(["ETHUSDTM", "XBTUSDTM", "NOSUCH"])

    assert prices == {"ETHUSDTM": D("3210.5"), "XBTUSDTM": D(60000)}
    assert len(fake.requests_to("GET", "/api/v1/allTickers")) == 1
    assert await futures.reference_price("ETHUSDTM") == D("3210.5")
    assert await futures.reference_price("NOSUCH") is None


# --- header logging ----------------------------------------------------------------------------------


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


async def test_logged_headers_hide_the_key_the_signature_and_the_passphrase(fake: FakeKuCoin) -> None:
    collect = Collect()
    logger = logging.getLogger("csmc.kucoin")
    logger.addHandler(collect)
    old_level = logger.level
    logger.setLevel(logging.INFO)
    try:
        venue = await connected(fake, log_headers=True)
        await venue.positions()
        await venue.submit(buy("csheaders", "0.01"))
        await venue.close()
    finally:
        logger.removeHandler(collect)
        logger.setLevel(old_level)

    signed_lines = [line for line in collect.lines if "/api/v1/accounts" in line]
    assert signed_lines, collect.lines
    for name in ("KC-API-KEY", "KC-API-SIGN", "KC-API-PASSPHRASE"):
        assert f"{name}: ***" in signed_lines[0]
    assert "KC-API-TIMESTAMP: 1" in signed_lines[0]
    assert "gw-ratelimit-limit: 4000" in signed_lines[0]  # response headers too
    assert find_secrets("\n".join(collect.lines)) == []


async def test_headers_are_not_logged_unless_asked(fake: FakeKuCoin, spot: KuCoinVenue) -> None:
    collect = Collect()
    logging.getLogger("csmc.kucoin").addHandler(collect)
    try:
        await spot.positions()
    finally:
        logging.getLogger("csmc.kucoin").removeHandler(collect)

    assert not any("headers" in line for line in collect.lines)
