"""The Binance adapter through the real python-binance client against the fake Binance, in this process.

These tests pin the error classification the engine relies on: what is a rejection, what did nothing and
may be retried (and after how long), what may have executed and must be looked up by client id.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from typing import Any

import pytest
from pydantic import SecretStr

from sidecar.config import BinanceSettings
from sidecar.errors import AuthError, ConfigError, OrderRejected, OutcomeUnknown, VenueUnavailable
from sidecar.model import Leg, LegKey, MarginMode, OrderRequest, OrderState, PositionMode, Side, VenuePosition
from sidecar.venues.binance import BinanceVenue
from sidecar.venues.binance.adapter import endpoint_url
from tests.fakes.binance import (
    FakeBinance,
    Fault,
    fault_408,
    fault_503_internal,
    fault_503_unavailable,
    fault_503_unknown,
    fault_spot_busy,
    fault_waf_403,
)
from tests.secrets import find_secrets
from tests.venues.binance.conftest import API_KEY, SECRET
from tests.venues.binance.story import until

D = Decimal
SPOT_ORDER = "/api/v3/order"
FUT_ORDER = "/fapi/v1/order"


def settings(url: str, endpoint: str = "spot", **extra: Any) -> BinanceSettings:
    values: dict[str, Any] = {
        "endpoint": endpoint,
        "api_url": url,
        "api_key": SecretStr(API_KEY),
        "secret_key": SecretStr(SECRET),
        "request_timeout_s": 1.0,
        "recv_window_ms": 1000,
    }
    return BinanceSettings(**(values | extra))


@pytest.fixture
async def spot(fake: FakeBinance) -> AsyncIterator[BinanceVenue]:
    venue = BinanceVenue(settings(fake.spot_url))
    await venue.connect()
    yield venue
    await venue.close()


@pytest.fixture
async def futures(fake: FakeBinance) -> AsyncIterator[BinanceVenue]:
    venue = BinanceVenue(settings(fake.futures_url, "futures"))
    await venue.connect()
    yield venue
    await venue.close()


def buy(cid: str, qty: str, symbol: str = "BTCUSDT", leg: Leg = Leg.NET) -> OrderRequest:
    return OrderRequest(cid, symbol, Side.BUY, D(qty), leg)


def sell(cid: str, qty: str, symbol: str = "BTCUSDT", leg: Leg = Leg.NET, reduce_only: bool = False) -> OrderRequest:
    return OrderRequest(cid, symbol, Side.SELL, D(qty), leg, reduce_only)


# --- settings and rules ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("endpoint", "given", "used"),
    [
        ("spot", "", "https://api.binance.com/api"),
        ("futures", "", "https://fapi.binance.com/fapi"),
        ("spot", "https://testnet.binance.vision/api/", "https://testnet.binance.vision/api"),
        ("spot", "https://testnet.binance.vision", "https://testnet.binance.vision/api"),
        ("futures", "https://testnet.binancefuture.com", "https://testnet.binancefuture.com/fapi"),
    ],
)
def test_the_api_url_defaults_to_the_official_one_and_gets_its_path(endpoint: str, given: str, used: str) -> None:
    assert endpoint_url(endpoint, given) == used


@pytest.mark.parametrize("given", ["testnet.binance.vision", "ftp://x/api", "https://fapi.binance.com/fapi"])
def test_a_wrong_api_url_is_a_config_error_that_says_what_to_write(given: str) -> None:
    with pytest.raises(ConfigError, match=r"\[binance\] api_url"):
        endpoint_url("spot", given)


async def test_connect_without_keys_says_where_to_put_them(fake: FakeBinance) -> None:
    venue = BinanceVenue(BinanceSettings(api_url=fake.spot_url))

    with pytest.raises(ConfigError, match=r"api_key and secret_key in the \[binance\] section"):
        await venue.connect()


async def test_spot_rules_come_from_exchange_info(spot: BinanceVenue) -> None:
    rules = await spot.instruments()

    btc = rules["BTCUSDT"]
    assert (btc.base, btc.quote, btc.lot_step, btc.min_qty, btc.min_notional, btc.tick) == (
        "BTC", "USDT", D("0.00001"), D("0.00001"), D(5), D("0.01"),
    )  # fmt: skip
    assert btc.max_qty == D(100)  # MARKET_LOT_SIZE's maxQty, below LOT_SIZE's 9000
    assert btc.trading and not btc.reduce_only_waives_min_notional  # Spot has no reduce-only orders
    luna = rules["LUNAUSDT"]  # status BREAK: listed, not trading now
    assert (luna.trading, luna.base) == (False, "LUNA")


async def test_the_stricter_of_lot_size_and_market_lot_size_counts(fake: FakeBinance) -> None:
    fake.set_filter("spot", "ETHUSDT", "MARKET_LOT_SIZE", stepSize="0.00100000", minQty="0.00500000")
    fake.set_filter("spot", "BNBUSDT", "NOTIONAL", applyMinToMarket=False)
    venue = BinanceVenue(settings(fake.spot_url))
    await venue.connect()

    rules = await venue.instruments()

    assert (rules["ETHUSDT"].lot_step, rules["ETHUSDT"].min_qty) == (D("0.001"), D("0.005"))
    assert rules["BNBUSDT"].min_notional == 0  # the minimum does not apply to market orders
    await venue.close()


async def test_futures_rules_use_the_min_notional_field_notional(futures: BinanceVenue) -> None:
    btc = (await futures.instruments())["BTCUSDT"]

    assert (btc.lot_step, btc.min_qty, btc.min_notional, btc.tick) == (D("0.001"), D("0.001"), D(100), D("0.1"))
    assert btc.max_qty == D(120)  # MARKET_LOT_SIZE 120 < LOT_SIZE 1000
    assert btc.reduce_only_waives_min_notional  # -4164: "… (unless you choose reduce only)"


async def test_a_symbol_that_stopped_trading_is_kept_and_its_return_is_seen(fake: FakeBinance) -> None:
    fake.set_status("futures", "ETHUSDT", "SETTLING")
    venue = BinanceVenue(settings(fake.futures_url, "futures"))
    await venue.connect()
    rules = await venue.instruments()
    assert rules["ETHUSDT"].trading is False

    fake.set_status("futures", "ETHUSDT", "TRADING")
    fake.set_filter("futures", "ETHUSDT", "MARKET_LOT_SIZE", maxQty="50")
    refreshed = await venue.refresh_instruments()

    assert refreshed["ETHUSDT"].trading is True and refreshed["ETHUSDT"].max_qty == D(50)
    assert refreshed is rules  # updated in place: the symbol mapper and the engine hold this mapping
    assert len(fake.requests_to("GET", "/fapi/v1/exchangeInfo")) == 2
    await venue.close()


async def test_check_names_the_largest_order_and_a_symbol_that_does_not_trade(fake: FakeBinance) -> None:
    venue = BinanceVenue(settings(fake.spot_url))
    await venue.connect()

    details = await venue.check_details(["BTCUSDT", "LUNAUSDT", "NOSUCH"])

    assert details == [
        ("Binance rules", "BTCUSDT: largest market order 100"),
        ("Binance rules", "LUNAUSDT: largest market order 100; NOT TRADING NOW (Binance status BREAK)"),
    ]
    await venue.close()


def test_mt5_btcusd_maps_to_btcusdt() -> None:
    venue = BinanceVenue(settings(""))

    assert venue.venue_symbol("BTC", "USDT") == "BTCUSDT"


# --- Spot account and positions ----------------------------------------------------------------------


async def test_spot_positions_are_base_balances_free_plus_locked(fake: FakeBinance, spot: BinanceVenue) -> None:
    fake.set_spot_balance("BTC", "0.5", "0.25")
    fake.set_spot_balance("ETH", "2")
    fake.set_spot_balance("EUR", "100")  # no EURUSDT market: not a position
    fake.set_spot_balance("BNB", "0")

    positions = await spot.positions()
    summary = await spot.account()

    assert positions == [VenuePosition(LegKey("BTCUSDT"), D("0.75")), VenuePosition(LegKey("ETHUSDT"), D(2))]
    assert summary.position_mode is PositionMode.SPOT
    assert summary.balances["USDT"] == D(100_000)
    assert "BNB" not in summary.balances


async def test_an_override_decides_which_instrument_a_balance_belongs_to(fake: FakeBinance) -> None:
    fake.set_spot_balance("ETH", "3")
    venue = BinanceVenue(settings(fake.spot_url), position_symbols=["ETHBTC"])
    await venue.connect()

    assert await venue.positions() == [VenuePosition(LegKey("ETHBTC"), D(3))]
    await venue.close()


async def test_a_key_that_cannot_trade_is_an_auth_error(fake: FakeBinance) -> None:
    fake.spot_can_trade = False
    venue = BinanceVenue(settings(fake.spot_url))

    with pytest.raises(AuthError, match="Enable Spot & Margin Trading"):
        await venue.connect()


async def test_check_warns_about_balances_neither_traded_nor_quote(fake: FakeBinance, spot: BinanceVenue) -> None:
    fake.set_spot_balance("BTC", "0.1")
    fake.set_spot_balance("BNB", "1.5")
    fake.set_spot_balance("EUR", "20")

    warnings = await spot.check_warnings(["BTCUSDT"])

    assert len(warnings) == 2
    assert warnings[0].startswith("1.5 BNB is neither a traded currency nor the quote currency USDT")
    assert "BNBUSDT position" in warnings[0]
    assert warnings[1].startswith("20 EUR is neither")


# --- Futures account, positions, position mode -------------------------------------------------------


async def test_futures_one_way_positions_are_signed(fake: FakeBinance, futures: BinanceVenue) -> None:
    fake.set_position("BTCUSDT", "-0.25")
    fake.set_position("ETHUSDT", "1.5")

    assert (await futures.account()).position_mode is PositionMode.ONE_WAY
    assert await futures.positions() == [
        VenuePosition(LegKey("BTCUSDT"), D("-0.25")),
        VenuePosition(LegKey("ETHUSDT"), D("1.5")),
    ]


async def test_futures_hedge_mode_reports_long_and_short_legs(fake: FakeBinance, futures: BinanceVenue) -> None:
    fake.dual_side = True
    fake.set_position("BTCUSDT", "0.3", "LONG")
    fake.set_position("BTCUSDT", "-0.1", "SHORT")

    assert (await futures.account()).position_mode is PositionMode.HEDGE
    assert sorted(await futures.positions(), key=lambda p: p.key) == [
        VenuePosition(LegKey("BTCUSDT", Leg.LONG), D("0.3")),
        VenuePosition(LegKey("BTCUSDT", Leg.SHORT), D("0.1")),
    ]


@pytest.mark.parametrize(
    ("margin", "mode", "says"),
    [
        (MarginMode.NETTING, PositionMode.HEDGE, "Switch Binance to One-way Mode"),
        (MarginMode.HEDGING, PositionMode.ONE_WAY, "Switch Binance to Hedge Mode"),
    ],
)
def test_a_position_mode_mismatch_says_how_to_change_it(margin: MarginMode, mode: PositionMode, says: str) -> None:
    venue = BinanceVenue(settings("", "futures"))

    with pytest.raises(ConfigError) as caught:
        venue.check_account_mode(margin, mode)

    assert says in str(caught.value)
    assert "Preferences) → Position Mode" in str(caught.value)
    assert "no open positions and no open orders" in str(caught.value)


def test_matching_position_modes_and_spot_with_either_mt5_account_are_accepted() -> None:
    futures = BinanceVenue(settings("", "futures"))
    spot = BinanceVenue(settings(""))

    futures.check_account_mode(MarginMode.NETTING, PositionMode.ONE_WAY)
    futures.check_account_mode(MarginMode.HEDGING, PositionMode.HEDGE)
    spot.check_account_mode(MarginMode.HEDGING, PositionMode.SPOT)
    spot.check_account_mode(MarginMode.NETTING, PositionMode.SPOT)


# --- orders ------------------------------------------------------------------------------------------


async def test_a_spot_order_carries_the_client_id_verbatim(fake: FakeBinance, spot: BinanceVenue) -> None:
    result = await spot.submit(buy("cs0a1b2c3d4e5f6789", "0.0100"))

    assert (result.state, result.filled_qty, result.avg_price) == (OrderState.FILLED, D("0.01"), D(60000))
    sent = fake.requests_to("POST", SPOT_ORDER)[-1].params
    assert (sent["newClientOrderId"], sent["quantity"], sent["type"]) == ("cs0a1b2c3d4e5f6789", "0.01", "MARKET")
    assert sent["recvWindow"] == "1000"  # the profile's, not python-binance's 10000


async def test_hedge_orders_carry_the_position_side_and_never_reduce_only(
    fake: FakeBinance, futures: BinanceVenue
) -> None:
    fake.dual_side = True
    await futures.submit(buy("csopen", "0.01", leg=Leg.LONG))
    await futures.submit(sell("csclose", "0.01", leg=Leg.LONG, reduce_only=True))
    await futures.submit(sell("csshort", "0.002", leg=Leg.SHORT))

    sent = [r.params for r in fake.requests_to("POST", FUT_ORDER)]
    assert [p["positionSide"] for p in sent] == ["LONG", "LONG", "SHORT"]
    assert all("reduceOnly" not in p for p in sent)
    assert fake.position("BTCUSDT", "SHORT") == D("-0.002")


async def test_one_way_closing_orders_are_reduce_only(fake: FakeBinance, futures: BinanceVenue) -> None:
    await futures.submit(buy("csopen", "0.01"))
    await futures.submit(sell("csclose", "0.01", reduce_only=True))

    opened, closed = (r.params for r in fake.requests_to("POST", FUT_ORDER))
    assert "reduceOnly" not in opened and "positionSide" not in opened
    assert closed["reduceOnly"] == "true"
    assert fake.position("BTCUSDT") == 0


@pytest.mark.parametrize(
    ("prepare", "order", "says"),
    [
        (lambda f: f.set_filter("spot", "BTCUSDT", "LOT_SIZE", stepSize="0.001"), "0.0015", "Filter failure: LOT_SIZE"),
        (lambda f: f.set_spot_balance("USDT", "10"), "0.01", "the balance is insufficient"),
    ],
)
async def test_spot_rejections_say_what_and_what_to_do(
    fake: FakeBinance, spot: BinanceVenue, prepare: Any, order: str, says: str
) -> None:
    prepare(fake)

    with pytest.raises(OrderRejected) as caught:
        await spot.submit(buy("csrej", order))

    assert says in str(caught.value)
    assert fake.executions == []


@pytest.mark.parametrize(
    ("prepare", "order", "code", "says"),
    [
        (lambda f: None, buy("cs1", "0.001"), "-4164", "minimum notional"),
        (lambda f: setattr(f, "futures_wallet", D(10)), buy("cs2", "0.01"), "-2019", "Add USDT"),
        (lambda f: setattr(f, "dual_side", True), buy("cs3", "0.01"), "-4061", "Restart the sidecar"),
        (lambda f: None, buy("cs4", "0.01", symbol="DOGEUSDT"), "-1121", "[mapping.overrides]"),
    ],
)
async def test_futures_rejections_say_what_and_what_to_do(
    fake: FakeBinance, futures: BinanceVenue, prepare: Any, order: OrderRequest, code: str, says: str
) -> None:
    prepare(fake)

    with pytest.raises(OrderRejected) as caught:
        await futures.submit(order)

    assert f"code {code}" in str(caught.value)
    assert says in str(caught.value)


@pytest.mark.parametrize(
    ("key", "secret", "code"), [("wrong-key", SECRET, "-2015"), (API_KEY, "wrong-secret", "-1022")]
)
async def test_bad_credentials_are_auth_errors_at_connect(fake: FakeBinance, key: str, secret: str, code: str) -> None:
    venue = BinanceVenue(settings(fake.futures_url, "futures", api_key=SecretStr(key), secret_key=SecretStr(secret)))

    with pytest.raises(AuthError) as caught:
        await venue.connect()

    assert f"code {code}" in str(caught.value)
    assert "API Management" in str(caught.value) or "secret key" in str(caught.value)
    assert find_secrets(str(caught.value)) == []


# --- unknown outcomes, clock, rate limits ------------------------------------------------------------


async def test_an_answer_lost_after_execution_is_unknown_and_the_lookup_finds_it(
    fake: FakeBinance, futures: BinanceVenue
) -> None:
    fake.inject("POST", FUT_ORDER, Fault(execute=True, stall=5))

    with pytest.raises(OutcomeUnknown):
        await futures.submit(buy("cstimeout", "0.01"))
    found = await futures.lookup("BTCUSDT", "cstimeout")

    assert (found.state, found.filled_qty) == (OrderState.FILLED, D("0.01"))
    assert len(fake.executions_of("cstimeout")) == 1
    assert fake.requests_to("GET", FUT_ORDER)[-1].params["origClientOrderId"] == "cstimeout"


@pytest.mark.parametrize(
    "fault",
    [
        Fault(status=503, msg="Unknown error, please check your request or try again later."),
        Fault(drop=True),
    ],
)
async def test_a_failure_after_sending_is_unknown_and_absent_only_after_the_recv_window(
    fake: FakeBinance, fault: Fault
) -> None:
    spot = BinanceVenue(settings(fake.spot_url, recv_window_ms=100))
    await spot.connect()
    fake.inject("POST", SPOT_ORDER, fault)

    with pytest.raises(OutcomeUnknown):
        await spot.submit(buy("csunknown", "0.01"))
    found = await spot.lookup("BTCUSDT", "csunknown")

    assert found.state is OrderState.ABSENT
    lookups = fake.requests_to("GET", SPOT_ORDER)
    assert len(lookups) == 2  # not visible yet → asked again once the recvWindow (+1 s) had passed
    assert lookups[1].at - fake.requests_to("POST", SPOT_ORDER)[0].at >= 1.1
    assert fake.executions == []
    await spot.close()


async def test_an_order_executed_after_its_timeout_is_found_not_sent_twice(fake: FakeBinance) -> None:
    """The order reaches Binance's matching only after the client gave up, and after the first lookup
    found nothing: "absent" must wait for the recvWindow, or the resend would buy twice."""
    venue = BinanceVenue(settings(fake.spot_url, request_timeout_s=0.5, recv_window_ms=2000))
    await venue.connect()
    in_flight = threading.Event()
    fake.inject("POST", SPOT_ORDER, Fault(hold=in_flight))
    try:
        with pytest.raises(OutcomeUnknown):
            await venue.submit(buy("cslate", "0.01"))
        lookup = asyncio.create_task(venue.lookup("BTCUSDT", "cslate"))
        await until(lambda: any(r.code == -2013 for r in fake.requests_to("GET", SPOT_ORDER)), "a first lookup", fake)
        in_flight.set()  # now the order arrives, within its recvWindow
        found = await lookup
    finally:
        in_flight.set()
        await venue.close()

    assert (found.state, found.filled_qty) == (OrderState.FILLED, D("0.01"))
    assert len(fake.executions_of("cslate")) == 1


async def test_a_500_on_a_read_is_unavailable_not_unknown(fake: FakeBinance, futures: BinanceVenue) -> None:
    fake.inject("GET", "/fapi/v3/positionRisk", Fault(status=500, code=-1001, msg="Internal error."))

    with pytest.raises(VenueUnavailable):
        await futures.positions()


async def test_clock_skew_is_repaired_and_the_order_sent_once_more(fake: FakeBinance, spot: BinanceVenue) -> None:
    fake.clock_offset_ms = 15_000

    result = await spot.submit(buy("csskew", "0.01"))

    assert result.state is OrderState.FILLED
    posts = fake.requests_to("POST", SPOT_ORDER)
    assert [(p.code, p.params["newClientOrderId"]) for p in posts] == [(-1021, "csskew"), (None, "csskew")]
    assert len(fake.executions_of("csskew")) == 1


async def test_a_429_blocks_every_request_until_retry_after(fake: FakeBinance, spot: BinanceVenue) -> None:
    fake.inject("POST", SPOT_ORDER, Fault(status=429, code=-1003, msg="Too many requests.", retry_after=30))

    with pytest.raises(VenueUnavailable) as first:
        await spot.submit(buy("cs429", "0.01"))
    sent = len(fake.requests)
    with pytest.raises(VenueUnavailable) as second:
        await spot.positions()
    price = await spot.reference_price("BTCUSDT")

    assert first.value.retry_after == 30
    assert "for 30 s" in str(first.value)
    assert second.value.retry_after is not None and 29 < second.value.retry_after <= 30
    assert price is None
    assert len(fake.requests) == sent  # nothing reached Binance during the pause
    assert fake.executions == []


async def test_a_418_ban_is_honoured_too(fake: FakeBinance, futures: BinanceVenue) -> None:
    fake.inject(
        "GET", "/fapi/v3/positionRisk", Fault(status=418, code=-1003, msg="Way too many requests.", retry_after=120)
    )

    with pytest.raises(VenueUnavailable, match="banned") as caught:
        await futures.positions()

    assert caught.value.retry_after == 120


@pytest.fixture
def closed_port() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    yield port


async def test_a_refused_connection_sent_nothing(closed_port: int) -> None:
    venue = BinanceVenue(settings(f"http://127.0.0.1:{closed_port}/api"))

    with pytest.raises(VenueUnavailable, match="nothing was sent") as caught:
        await venue.connect()

    assert "signature" not in str(caught.value)


async def test_an_order_to_a_vanished_venue_is_unavailable_not_unknown(fake: FakeBinance, spot: BinanceVenue) -> None:
    fake.stop()

    with pytest.raises(VenueUnavailable, match="nothing was sent"):
        await spot.submit(buy("csgone", "0.01"))


async def test_reference_price_is_the_ticker(fake: FakeBinance, futures: BinanceVenue) -> None:
    fake.prices["ETHUSDT"] = D("3210.5")

    assert await futures.reference_price("ETHUSDT") == D("3210.5")
    assert await futures.reference_price("NOSUCH") is None


@pytest.mark.parametrize(("endpoint", "path"), [("spot", "/api/v3/ticker/price"), ("futures", "/fapi/v2/ticker/price")])
async def test_prices_of_many_symbols_come_in_one_request(fake: FakeBinance, endpoint: str, path: str) -> None:
    venue = BinanceVenue(settings(fake.spot_url if endpoint == "spot" else fake.futures_url, endpoint))
    await venue.connect()
    symbols = [fake.add_symbol(endpoint, f"C{i:02}", 10 + i) for i in range(20)]
    mark = len(fake.requests)

    prices = await venue.reference_prices([*symbols, "BTCUSDT", "NOSUCH"])

    assert prices == {"BTCUSDT": D(60000)} | {s: D(10 + i) for i, s in enumerate(symbols)}
    sent = fake.requests[mark:]
    assert [(r.method, r.path, r.params) for r in sent] == [("GET", path, {})]  # one all-symbols request
    await venue.close()


# --- header logging ----------------------------------------------------------------------------------


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


async def test_logged_headers_hide_the_key_and_the_signature(fake: FakeBinance) -> None:
    collect = Collect()
    logger = logging.getLogger("csmc.binance")
    logger.addHandler(collect)
    old_level = logger.level
    logger.setLevel(logging.INFO)
    try:
        venue = BinanceVenue(settings(fake.spot_url, log_headers=True))
        await venue.connect()
        await venue.positions()
        await venue.close()
    finally:
        logger.removeHandler(collect)
        logger.setLevel(old_level)

    signed = [line for line in collect.lines if "/v3/account" in line]
    assert signed, collect.lines
    assert "X-MBX-APIKEY: ***" in signed[0]
    assert "signature=***" in signed[0]
    assert "X-MBX-USED-WEIGHT-1M" in signed[0]  # response headers too
    assert find_secrets("\n".join(collect.lines)) == []
    posted = fake.requests_to("GET", "/api/v3/account")[0]
    assert posted.api_key_ok  # what was hidden in the log was really sent


async def test_headers_are_not_logged_unless_asked(fake: FakeBinance, spot: BinanceVenue) -> None:
    collect = Collect()
    logging.getLogger("csmc.binance").addHandler(collect)
    try:
        await spot.positions()
    finally:
        logging.getLogger("csmc.binance").removeHandler(collect)

    assert not any("headers" in line for line in collect.lines)


async def test_the_clock_offset_is_taken_at_connect(fake: FakeBinance) -> None:
    fake.clock_offset_ms = -30_000  # this computer runs 30 s ahead of Binance
    venue = BinanceVenue(settings(fake.futures_url, "futures"))

    await venue.connect()
    await venue.positions()
    await venue.submit(buy("csclock", "0.01"))

    assert [r for r in fake.requests if r.code == -1021] == []
    await venue.close()


# --- Binance's server-side answers to orders (issue: a 5xx is not "not sent" on Spot) --------------------


async def test_a_spot_503_overload_may_have_executed_so_it_is_looked_up_not_resent(fake: FakeBinance) -> None:
    """Spot: "HTTP 5XX … the execution status is UNKNOWN and could have been a success", -1008 included."""
    spot = BinanceVenue(settings(fake.spot_url))
    await spot.connect()
    fake.inject("POST", SPOT_ORDER, fault_spot_busy(execute=True))

    with pytest.raises(OutcomeUnknown):
        await spot.submit(buy("csbusy", "0.01"))
    found = await spot.lookup("BTCUSDT", "csbusy")

    assert (found.state, found.filled_qty) == (OrderState.FILLED, D("0.01"))
    assert len(fake.executions_of("csbusy")) == 1
    await spot.close()


@pytest.mark.parametrize("fault", [fault_503_unavailable(), fault_503_internal()], ids=["unavailable", "internal"])
async def test_a_futures_503_failure_is_not_sent_and_needs_no_lookup(
    fake: FakeBinance, futures: BinanceVenue, fault: Fault
) -> None:
    fake.inject("POST", FUT_ORDER, fault)

    with pytest.raises(VenueUnavailable, match="nothing was executed"):
        await futures.submit(buy("csfail", "0.01"))

    assert fake.executions == []
    again = await futures.submit(buy("csfail", "0.01"))  # the engine may send it again at once
    assert again.state is OrderState.FILLED
    assert fake.requests_to("GET", FUT_ORDER) == []


@pytest.mark.parametrize(
    "fault", [fault_503_unknown(execute=True), fault_408(execute=True)], ids=["503-unknown", "408"]
)
async def test_a_futures_503_unknown_or_408_is_looked_up(
    fake: FakeBinance, futures: BinanceVenue, fault: Fault
) -> None:
    fake.inject("POST", FUT_ORDER, fault)

    with pytest.raises(OutcomeUnknown):
        await futures.submit(buy("csmaybe", "0.01"))
    found = await futures.lookup("BTCUSDT", "csmaybe")

    assert (found.state, found.filled_qty) == (OrderState.FILLED, D("0.01"))
    assert len(fake.executions_of("csmaybe")) == 1


async def test_a_throttled_futures_order_is_not_sent_but_a_closing_one_goes_through(
    fake: FakeBinance, futures: BinanceVenue
) -> None:
    fake.set_position("BTCUSDT", "0.02")
    fake.futures_throttled = True

    with pytest.raises(VenueUnavailable, match="nothing was executed"):
        await futures.submit(buy("csadd", "0.01"))
    closed = await futures.submit(sell("csreduce", "0.02", reduce_only=True))

    assert closed.state is OrderState.FILLED
    assert fake.position("BTCUSDT") == 0


async def test_the_firewalls_403_page_is_unavailable_and_never_shown(fake: FakeBinance, spot: BinanceVenue) -> None:
    fake.inject("POST", SPOT_ORDER, fault_waf_403())

    with pytest.raises(VenueUnavailable) as caught:
        await spot.submit(buy("cswaf", "0.01"))

    assert "firewall" in str(caught.value)
    assert "<" not in str(caught.value) and "Request blocked" not in str(caught.value)
    assert fake.executions == []


# --- orders that end unfilled, or fill later -----------------------------------------------------------


async def test_a_spot_order_expired_in_an_empty_book_is_rejected_not_open(
    fake: FakeBinance, spot: BinanceVenue
) -> None:
    fake.spot_liquidity["BTCUSDT"] = D(0)
    expired = await spot.submit(buy("csempty", "0.01"))
    fake.spot_liquidity["BTCUSDT"] = D("0.004")
    partial = await spot.submit(buy("cspart", "0.01"))
    fake.spot_liquidity.clear()
    fake.spot_self_trade.add("BTCUSDT")
    self_trade = await spot.submit(buy("csself", "0.01"))

    assert (expired.state, expired.filled_qty) == (OrderState.REJECTED, 0)
    assert (partial.state, partial.filled_qty, partial.avg_price) == (OrderState.FILLED, D("0.004"), D(60000))
    assert (self_trade.state, self_trade.filled_qty) == (OrderState.REJECTED, 0)


async def test_a_futures_order_answered_new_is_watched_until_it_fills(fake: FakeBinance) -> None:
    venue = BinanceVenue(settings(fake.futures_url, "futures"), fill_wait_s=3.0)
    await venue.connect()
    fake.futures_fill_delay_s = 0.2

    result = await venue.submit(buy("csnew", "0.01"))

    assert (result.state, result.filled_qty, result.avg_price) == (OrderState.FILLED, D("0.01"), D(60000))
    lookups = fake.requests_to("GET", FUT_ORDER)
    assert 1 <= len(lookups) <= 6 and all(r.params["origClientOrderId"] == "csnew" for r in lookups)
    await venue.close()


async def test_a_futures_order_still_new_after_the_watch_is_open_and_found_later(fake: FakeBinance) -> None:
    venue = BinanceVenue(settings(fake.futures_url, "futures"), fill_wait_s=0.1)
    await venue.connect()
    fake.futures_fill_delay_s = 0.5

    result = await venue.submit(buy("csslow", "0.01"))
    await until(lambda: fake.position("BTCUSDT") != 0, "the late fill", fake)
    found = await venue.lookup("BTCUSDT", "csslow")

    assert (result.state, result.filled_qty) == (OrderState.OPEN, 0)
    assert (found.state, found.filled_qty) == (OrderState.FILLED, D("0.01"))
    assert len(fake.executions_of("csslow")) == 1
    await venue.close()


async def test_an_archived_spot_order_is_rejected_not_absent_nor_unreadable(
    fake: FakeBinance, spot: BinanceVenue
) -> None:
    """Spot -2026: "Order was canceled or expired with no executed qty over 90 days ago and has been archived"."""
    fake.spot_liquidity["BTCUSDT"] = D(0)
    await spot.submit(buy("csarchived", "0.01"))
    fake.age_orders("spot", 100)

    found = await spot.lookup("BTCUSDT", "csarchived")

    assert (found.state, found.filled_qty) == (OrderState.REJECTED, 0)
    assert len(fake.requests_to("GET", SPOT_ORDER)) == 1  # no wait for a recvWindow: Binance knows the order


# --- what each refusal tells the user ------------------------------------------------------------------


async def test_a_spot_symbol_in_break_is_explained_as_not_trading(fake: FakeBinance, spot: BinanceVenue) -> None:
    fake.set_status("spot", "BNBUSDT", "BREAK")

    with pytest.raises(OrderRejected) as caught:
        await spot.submit(buy("csbreak", "1", symbol="BNBUSDT"))

    assert "Market is closed." in str(caught.value)
    assert "not trading this symbol right now" in str(caught.value)
    assert "balance" not in str(caught.value)


async def test_an_account_barred_from_trading_is_fatal_and_says_to_contact_binance(
    fake: FakeBinance, spot: BinanceVenue
) -> None:
    fake.spot_can_trade = False

    with pytest.raises(AuthError) as caught:
        await spot.submit(buy("csbarred", "0.01"))

    assert "This account may not place or cancel orders." in str(caught.value)
    assert "contact Binance support" in str(caught.value)
    assert "balance" not in str(caught.value)


async def test_a_late_order_at_the_matching_engine_is_unavailable_with_its_reason(
    fake: FakeBinance, futures: BinanceVenue
) -> None:
    fake.matching_delay_ms = 5000  # the profile's recvWindow here is 1000 ms

    with pytest.raises(VenueUnavailable) as caught:
        await futures.submit(buy("csme", "0.01"))

    assert "code -5028" in str(caught.value) and "matching engine" in str(caught.value)
    assert fake.executions == []


async def test_a_thin_futures_book_is_explained(fake: FakeBinance, futures: BinanceVenue) -> None:
    fake.futures_thin_book.add("BTCUSDT")

    with pytest.raises(OrderRejected) as caught:
        await futures.submit(buy("csthin", "0.01"))

    assert "code -4131" in str(caught.value) and "price protection (PERCENT_PRICE)" in str(caught.value)


# --- request weight ------------------------------------------------------------------------------------


async def test_reads_pause_before_binance_would_refuse_them(fake: FakeBinance) -> None:
    """X-MBX-USED-WEIGHT-1M past 90% of the minute's limit: routine reads wait for the next minute, and no
    request ever meets a 429 (which, ignored, becomes an IP ban)."""
    fake.clock_offset_ms = 20_000 - int(time.time() * 1000) % 60_000  # mid-minute at Binance: no new count soon
    venue = BinanceVenue(settings(fake.spot_url))
    await venue.connect()
    fake.set_foreign_weight("spot", 5500)  # another program on this IP

    await venue.positions()  # the answer reports 5500 + what this test sent, above 90% of 6000
    sent = len(fake.requests)
    for _ in range(30):
        with pytest.raises(VenueUnavailable) as caught:
            await venue.positions()

    assert len(fake.requests) == sent  # nothing more reached Binance
    assert [r for r in fake.requests if r.status in (429, 418)] == []
    assert caught.value.retry_after is not None and 0 < caught.value.retry_after <= 61
    assert f"{fake.used_weight('spot')} of this IP's 6000 request weight used this minute" in str(caught.value)
    # Orders and their lookups may still use the rest of the minute.
    assert (await venue.submit(buy("csstill", "0.01"))).state is OrderState.FILLED
    assert (await venue.lookup("BTCUSDT", "csstill")).state is OrderState.FILLED
    await venue.close()


async def test_reads_go_again_once_binances_minute_has_turned(fake: FakeBinance) -> None:
    now_ms = int(time.time() * 1000)
    fake.clock_offset_ms = 60_000 - now_ms % 60_000 - 4_000  # Binance's clock 4 s before a new minute
    venue = BinanceVenue(settings(fake.futures_url, "futures"))
    await venue.connect()
    fake.set_foreign_weight("futures", 2300)
    await venue.positions()

    with pytest.raises(VenueUnavailable) as caught:
        await venue.positions()
    assert caught.value.retry_after is not None and caught.value.retry_after <= 5
    await asyncio.sleep(caught.value.retry_after)
    await venue.positions()  # a new minute: Binance counts afresh

    assert [r for r in fake.requests if r.status in (429, 418)] == []
    await venue.close()
